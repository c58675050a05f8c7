"""`python -m train {pretrain,finetune,evaluate,demo,grid,report}`: parse the flags into a config, run it, translate errors.

Every error a user can cause ends as one `Error: <sentence>` line on stderr and exit status 1 (`--verbose`
shows the traceback), the settings it names worded as flags (`lr` -> --lr). stdout carries data: each
command prints its final metrics as one JSON line.
"""

from __future__ import annotations

import importlib
import json
import sys

from curate.errors import CurateError, SystemRefused
from curate.interrupts import EXIT_CODES, Terminated, raise_on_sigterm, sentence as interrupted
from curate.wording import bounded
from train.errors import sentence
from train.flags import WORDS, parse


def main(argv: list[str] | None = None) -> int:
    command, config, verbose, given = parse(argv)
    try:
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
    if result is not None:
        print(json.dumps(result, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    raise_on_sigterm()
    sys.exit(main())
