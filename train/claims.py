"""A folder that one process at a time works in: a run's, a grid's.

    claim(folder, "run")   # before any work; another live process's claim is one sentence
    ...
    release_claims()       # when the command ends (the system releases them anyway when the process does)
"""

from __future__ import annotations

import os
from pathlib import Path

from curate.claims import Held, take
from curate.fileio import make_folder
from train.errors import TrainError

CLAIMS: dict[Path, int] = {}  # the folders this process holds: claim file -> its open, locked descriptor


def claim(folder: Path, what: str) -> None:
    """Make `folder` this process's alone, before any work: an exclusive lock on the claim file beside it
    (.NAME.claim, holding the process id), which the system releases when the process ends however it ends, so
    the claim of a crashed run is taken over (and --resume works) while a live one's is refused. Claiming a
    folder this process holds already is a no-op. `what` names the claimant: run, grid."""
    path = claim_file(folder)
    if path in CLAIMS:
        return
    make_folder(path.parent)
    try:
        descriptor = take(path)
    except Held as held:
        pid = f" (process {held.holder})" if held.holder else ""
        raise TrainError(f"{folder} is being used by another {what}{pid}: wait for it to end, or give another "
                         "`output_dir`.") from None
    CLAIMS[path] = descriptor


def claim_file(folder: Path) -> Path:
    """.NAME.claim beside `folder`, as an absolute path (the key of a folder however it was named)."""
    folder = Path(os.path.abspath(folder))
    return folder.parent / f".{folder.name}.claim"


def release(folder: Path) -> None:
    """Give up `folder` if this process holds it."""
    let_go(claim_file(folder))


def release_claims() -> None:
    """Give up every folder this process holds."""
    for path in list(CLAIMS):
        let_go(path)


def let_go(path: Path) -> None:
    """Remove the claim file `path` this process holds, and its lock with it."""
    descriptor = CLAIMS.pop(path, None)
    if descriptor is not None:
        path.unlink(missing_ok=True)
        os.close(descriptor)
