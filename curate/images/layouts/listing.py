"""What the layouts share: a folder's entries in name order, the shards of a split, a text file's contents, or
one sentence saying why they cannot be read."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from curate.errors import BadImages
from curate.fileio import not_regular, special_file
from curate.images.layouts.tar_archive import DamagedArchive, UnreadableArchive
from curate.images.report import IndexReport

T = TypeVar("T")
SHARD_SPLITS = {"train": ("train",), "val": ("validation", "val"), "test": ("test",)}  # curate's split -> shard names'



def shard_files(root: Path, folders: tuple[str, ...], name: re.Pattern, split: str | None) -> list[str]:
    """The files in the `folders` of `root` whose whole name matches `name`, whose group "split" names
    `split`'s shards (any split's, for None), relative to `root`, in name order."""
    shards = []
    for folder in folders:
        if (root / folder).is_dir():
            for entry in folder_entries(root / folder):
                match = name.fullmatch(entry.name)
                if match and (split is None or match["split"] in SHARD_SPLITS[split]):
                    shards.append(f"{folder}/{entry.name}" if folder else entry.name)
    return shards


def readable_shards(shards: list[str], read: Callable[[str], T], report: IndexReport, advance) -> Iterator[T]:
    """`read(shard)` of each shard that reads; a damaged or unreadable one goes to the report and the others are
    indexed, as a damaged archive of a class folder is. Where none reads, the first one's sentence is the error:
    there is nothing to index, and it says why."""
    failed: list[DamagedArchive] = []
    for shard in shards:
        try:
            yield read(shard)
        except DamagedArchive as error:
            report.damaged.append(shard)
            failed.append(error)
        except UnreadableArchive as error:
            report.unreadable.append(shard)
            failed.append(error)
        advance(1)
    if failed and len(failed) == len(shards):
        raise failed[0]


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
    if special_file(path):
        raise BadImages(not_regular(path))
    if not path.is_file():
        raise BadImages(f"{path} does not exist.")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BadImages(f"{path} is not a text file, so it cannot be {what}.") from None
    except OSError:
        raise BadImages(f"{path} cannot be read (permission denied?).") from None
