"""Atomic writes: outputs appear whole or not at all."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from curate.errors import BadOutput


def check_writable(path: Path) -> None:
    """Fail with one sentence before any work when `path` cannot be created."""
    parent = path.parent
    if not parent.exists():
        raise BadOutput(f"Cannot write {path}: the folder {parent} does not exist.")
    if not parent.is_dir():
        raise BadOutput(f"Cannot write {path}: {parent} is a file, not a folder.")
    if path.is_dir():
        raise BadOutput(f"Cannot write {path}: it is a folder.")


def check_folder_writable(folder: Path) -> None:
    """Fail with one sentence when `folder` is, or would have to be made inside, a file."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        where = "it is" if existing == folder else f"{existing} is"
        raise BadOutput(f"Cannot write manifests into {folder}: {where} a file, not a folder.")


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds."""
    path = Path(path)
    check_writable(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the mode a plain open() would
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
