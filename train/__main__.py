"""`python -m train {pretrain,finetune,evaluate,demo,grid,report}`: parse the flags into a config, run it, translate errors.

Every error a user can cause ends as one `Error: <sentence>` line on stderr and exit status 1 (`--verbose`
shows the traceback). stdout carries data: each command prints its final metrics as one JSON line.
"""

from __future__ import annotations

import json
import sys

from curate.errors import CurateError
from curate.interrupts import EXIT_CODES, Terminated, raise_on_sigterm, sentence as interrupted
from train.errors import sentence
from train.flags import parse


def runner(command: str):
    """The `run(config)` of a command (imported only when it runs: `--help` needs no torch)."""
    if command == "pretrain":
        from train.pretrain import run
    elif command == "finetune":
        from train.finetune import run
    elif command == "evaluate":
        from train.evaluate import run
    elif command == "grid":
        from train.grid import run
    elif command == "report":
        from train.report import run
    else:
        from train.demo import run
    return run


def main(argv: list[str] | None = None) -> int:
    command, config, verbose, given = parse(argv)
    try:
        result = runner(command)(config, given)
    except CurateError as error:
        if verbose:
            raise
        print(f"Error: {sentence(error)}", file=sys.stderr)
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
