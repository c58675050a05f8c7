"""What the layouts share: a folder's entries in name order, a text file's contents, or one sentence saying
why they cannot be read."""

from __future__ import annotations

import os
from pathlib import Path

from curate.errors import BadImages


def folder_entries(root: Path) -> list[os.DirEntry]:
    """The entries of the folder `root`, sorted by name."""
    if not root.exists():
        raise BadImages(f"{root} does not exist.")
    if not root.is_dir():
        raise BadImages(f"{root} is not a folder.")
    try:
        return sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        raise BadImages(f"{root} cannot be read (permission denied?).") from None


def read_text(path: Path, what: str) -> str:
    """The text of the file `path`, which is to be `what` ("read as image labels")."""
    if path.is_dir():
        raise BadImages(f"{path} is a folder, not a file that can be {what}.")
    if not path.is_file():
        raise BadImages(f"{path} does not exist.")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BadImages(f"{path} is not a text file, so it cannot be {what}.") from None
    except OSError:
        raise BadImages(f"{path} cannot be read (permission denied?).") from None
