"""`python -m train {pretrain,finetune,evaluate,demo,grid,report}`: parse the flags into a config, run it, translate errors.

Every error a user can cause ends as one `Error: <sentence>` line on stderr and exit status 1 (`--verbose`
shows the traceback), the settings it names worded as flags (`lr` -> --lr). stdout carries data: each
command prints its final metrics as one JSON line. An interrupt ends it with "Interrupted." (status 130) or
"Terminated." (143), from the first lines on.
"""

from __future__ import annotations

import os
import signal

from curate.interrupts import EXIT_CODES, Terminated, raise_on_sigterm, sentence as interrupted


def end_at_once(signum, frame) -> None:
    """An interrupt during start-up (the imports below): nothing is written yet, so the process ends now, in one line."""
    text = "Interrupted." if signum == signal.SIGINT else "Terminated."
    os.write(2, f"{text}\n".encode())
    os._exit(EXIT_CODES[text])


if __name__ == "__main__":  # before the imports, which take a while (and `run` imports torch)
    signal.signal(signal.SIGINT, end_at_once)
    signal.signal(signal.SIGTERM, end_at_once)

import importlib
import json
import sys

from curate.errors import CurateError, SystemRefused
from curate.wording import bounded
from train.claims import release_claims
from train.errors import sentence
from train.flags import WORDS, parse


def main(argv: list[str] | None = None) -> int:
    verbose = False  # until the flags are parsed
    try:
        command, config, verbose, given = parse(argv)
        result = importlib.import_module(f"train.{command}").run(config, given)  # imported when it runs: --help needs no torch
    except (CurateError, OSError) as error:
        if verbose:
            raise
        error = SystemRefused(error) if isinstance(error, OSError) else error  # one no check foresaw
        print(f"Error: {bounded(sentence(error, WORDS))}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Terminated) as interrupt:  # every output being written has been cleaned up
        print(interrupted(interrupt), file=sys.stderr)
        return EXIT_CODES[interrupted(interrupt)]
    finally:
        release_claims()
    if result is not None:
        print(json.dumps(result, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    raise_on_sigterm()  # from here on an interrupt is an exception, so every output being written is cleaned up
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
