"""One plain tar archive of images (`<wnid>.tar` of the fall 2011 release): its image members with the
offset and size of their data, listed without extracting, so training reads an image with one seek."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.images.report import IndexReport
from curate.images.rows import image_rows, is_image_name


class DamagedArchive(BadImages):
    """An archive or shard that is truncated or is not what its name says, or a tar that names a member twice."""


class UnreadableArchive(BadImages):
    """An archive or shard that cannot be read (permission denied, or an I/O error)."""


def list_tar(path: Path, relative: str, wnid: str, split: str, report: IndexReport,
             within: tuple[str, tarfile.TarInfo] | None = None) -> pa.Table:
    """The image members of a plain tar archive, with the offset and size of their data; not extracted.
    With `within` (the file's name relative to the root, and a member), the archive is that member of the
    tar file `path`, and offsets are in that file.

    Raises DamagedArchive for an archive that is not a plain tar, is truncated, or names a member twice, and
    BadImages for one that cannot be read."""
    names, sizes, offsets = [], [], []
    archive, member_info = within or (relative, None)
    for info in tar_members(path, relative, member_info):
        member = f"{relative}/{info.name}"
        if not info.isfile() or not is_image_name(info.name):
            report.not_image.append(member)
        elif not info.size:
            report.empty_file.append(member)
        else:
            names.append(member)
            sizes.append(info.size)
            offsets.append(info.offset_data)
    n = len(names)
    return image_rows(names, [wnid] * n, split, sizes, [archive] * n, offsets)


def tar_members(path: Path, relative: str, within: tarfile.TarInfo | None = None) -> list[tarfile.TarInfo]:
    """Every member of a plain tar archive but its folders, each with the offset of its data; not extracted.
    With `within`, the archive is that member of the tar file `path` (a tar of tars), and offsets are in
    the file.

    Raises DamagedArchive for an archive that is not a plain tar, is truncated, or names a member twice, and
    UnreadableArchive for one that cannot be read."""
    members = []
    try:
        start = within.offset_data if within else 0
        stop = start + within.size if within else path.stat().st_size
        with open(path, "rb") as handle:
            handle.seek(start)
            with tarfile.open(fileobj=handle, mode="r:") as tar:  # its offsets count from the file's start
                for info in tar:
                    if info.isdir():
                        continue
                    if info.isfile() and info.offset_data + info.size > stop:
                        raise DamagedArchive(f"{relative} is a damaged tar archive: it ends inside {info.name}.")
                    members.append(info)
                end = tar.offset
            handle.seek(end)  # tarfile stops quietly at a damaged header; a real end is zeros
            if handle.read(min(512, stop - end)).strip(b"\0"):
                raise DamagedArchive(f"{relative} is a damaged tar archive: it holds data tarfile cannot read after "
                                     f"byte {end - start:,}.")
    except tarfile.TarError as error:
        raise DamagedArchive(f"{relative} is not a readable tar archive ({error}).") from None
    except OSError:
        raise UnreadableArchive(f"{relative} cannot be read (permission denied?).") from None
    seen: set[str] = set()
    twice = next((info.name for info in members if info.name in seen or seen.add(info.name)), None)
    if twice is not None:
        raise DamagedArchive(f"{relative} holds the member {twice} twice.")
    return members
