"""Interrupts that clean up: SIGTERM, like SIGINT, becomes an exception in the main thread, so every
`finally` runs (temporary files are removed, outputs left as they were) before the process ends."""

from __future__ import annotations

import signal

EXIT_CODES = {"Interrupted.": 130, "Terminated.": 143}  # 128 + the signal's number, as shells report it


class Terminated(SystemExit):
    """The process was sent SIGTERM. A SystemExit (`except Exception` lets it pass, and where nothing catches
    it the process ends quietly with status 143), so every `finally` on the way out runs."""

    def __init__(self):
        super().__init__(EXIT_CODES["Terminated."])


def raise_on_sigterm() -> None:
    """From now on, SIGTERM raises Terminated in the main thread."""

    def terminate(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, terminate)


def sentence(interrupt: BaseException) -> str:
    return "Terminated." if isinstance(interrupt, Terminated) else "Interrupted."
