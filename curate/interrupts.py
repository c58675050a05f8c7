"""Interrupts that clean up: SIGTERM, like SIGINT, becomes an exception in the main thread, so every
`finally` runs (temporary files are removed, outputs left as they were) before the process ends."""

from __future__ import annotations

import signal

EXIT_CODES = {"Interrupted.": 130, "Terminated.": 143}  # 128 + the signal's number, as shells report it


class Terminated(BaseException):
    """The process was sent SIGTERM (a BaseException, like KeyboardInterrupt: `except Exception` lets it pass)."""


def raise_on_sigterm() -> None:
    """From now on, SIGTERM raises Terminated in the main thread."""

    def terminate(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, terminate)


def sentence(interrupt: BaseException) -> str:
    return "Terminated." if isinstance(interrupt, Terminated) else "Interrupted."
