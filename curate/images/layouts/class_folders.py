"""Class folders `ROOT/<wnid>/**/<image>` (ILSVRC-2012 train, the fall 2011 22k release) and per-class tar
archives `ROOT/<wnid>.tar`, in any mix."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import BadImages
from curate.images.layouts.listing import folder_entries
from curate.images.layouts.tar_archive import DamagedArchive, list_tar
from curate.images.report import IndexReport
from curate.images.rows import image_name_mask, image_rows, is_image_name, name_array, no_rows, numpy_array
from curate.progress import Progress
from curate.wording import plural
from curate.wordnet.snapshot import load_hierarchy

LAYOUT = "class folders"
FILES = True  # image files in folders: `sizes` looks up their sizes
THREADS = min(8, os.cpu_count() or 1)  # class folders listed at once
TORCHVISION_META = "meta.bin"  # beside train/ and val/ in the root torchvision's ImageNet prepares

NAME = attrgetter("name")


def no_images(source, found: str) -> str:
    return f"{source.root} holds no images: no <wnid> class folders or <wnid>.tar archives of images{found}."


def index(source, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """Class folders `ROOT/<wnid>/` (searched recursively) and archives `ROOT/<wnid>.tar`. An archive that is
    damaged or cannot be read is reported, like any other file, and the rest is indexed."""
    root, split = source.root, source.split
    report = IndexReport()
    entries = folder_entries(root)
    folders, archives, stray = [], [], []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            report.unreadable.append(entry.name)
            continue
        if is_dir:
            folders.append(entry)
        elif entry.name.endswith(".tar"):
            archives.append(entry)
        elif is_image_name(entry.name):
            stray.append(entry.name)
        else:
            report.not_image.append(entry.name)
    known = load_hierarchy().known_wnids([e.name for e in folders] + [e.name[: -len(".tar")] for e in archives])
    report.not_wnid.extend(e.name + "/" for e in folders if e.name not in known)
    report.not_wnid.extend(e.name for e in archives if e.name[: -len(".tar")] not in known)
    classes = [(e, False) for e in folders if e.name in known]
    classes += [(e, True) for e in archives if e.name[: -len(".tar")] in known]
    if not classes and TORCHVISION_META in report.not_image and {"train", "val"} & {e.name for e in folders}:
        raise BadImages(f"{root} is torchvision's ImageNet folder ({TORCHVISION_META} beside train/ and val/): index "
                        f"{root / 'train'}, or {root / 'val'} with `split` val (torchvision sorts the validation "
                        "images into class folders too).")

    def index_class(job: tuple[os.DirEntry, bool]) -> pa.Table | ClassFiles:
        entry, archive = job
        if not archive:
            return walk_class_folder(Path(entry.path), entry.name, report, source.sizes)
        try:
            members = list_tar(Path(entry.path), entry.name, entry.name[: -len(".tar")], split, report)
        except DamagedArchive:
            report.damaged.append(entry.name)
            return no_rows()
        except BadImages:
            report.unreadable.append(entry.name)
            return no_rows()
        if not members.num_rows:
            report.empty.append(entry.name)
        return members

    advance = progress("Indexing classes", len(classes))
    listed, tables = [], []
    with ThreadPoolExecutor(max_workers=THREADS) as pool:  # listing folders waits on the disk, not the GIL
        for found in pool.map(index_class, classes):
            (tables if isinstance(found, pa.Table) else listed).append(found)
            advance(1)
    tables.append(folder_rows(listed, split, report))
    if stray and not any(t.num_rows for t in tables):
        raise BadImages(
            f"{root} holds {plural(len(stray), 'image')} but no class folders: "
            "for a validation folder, give its labels with `val_labels`."
        )
    report.unlabelled.extend(stray)
    layouts = [name for name, present in (("class folders", folders), ("tar archives", archives)) if present]
    report.layout = " and ".join(layouts) or LAYOUT
    return pa.concat_tables(tables), report


@dataclass(frozen=True)
class ClassFiles:
    """The files found in a class folder: their paths (relative to the root, sorted) joined by NUL, which no path
    holds (one string, where a list of paths would cost a Python object per file), how many, and their sizes."""

    wnid: str
    paths: str
    count: int
    sizes: list[int] | None


def walk_class_folder(folder: Path, wnid: str, report: IndexReport, sizes: bool) -> ClassFiles:
    """The files under a class folder that may be images (every file, where a quick listing reads the folder), and
    with `sizes` their sizes (one stat per file); the rest goes to the report."""
    listed: list[tuple[str, list[str], list[int] | None]] = []  # each folder's path prefix, file names, sizes
    pending = [(str(folder), wnid + "/")]
    while pending:
        current, prefix = pending.pop()
        try:  # listed by the folder's descriptor, an entry holds its name only, not a path joined for it
            fd = os.open(current, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            report.unreadable.append(prefix)
            continue
        try:
            with os.scandir(fd) as listing:
                entries = text_entries(list(listing), prefix, report)
            quick = None if sizes else quick_listing(entries)
            names, lengths, folders = quick or checked_listing(entries, prefix, report, sizes)
        except OSError:
            report.unreadable.append(prefix)
            continue
        finally:
            os.close(fd)
        pending.extend((os.path.join(current, name), prefix + name + "/") for name in folders)
        listed.append((prefix, names, lengths))
    return class_files(wnid, listed)


def text_entries(entries: list[os.DirEntry], prefix: str, report: IndexReport) -> list[os.DirEntry]:
    """`entries`, less those whose names are not UTF-8 (an index holds text), which go to the report. One check
    of all the names, in C, where every name is text."""
    try:
        "".join(map(NAME, entries)).encode()
        return entries
    except UnicodeEncodeError:
        report.not_utf8.extend(prefix + entry.name + "/" * entry.is_dir() for entry in entries if not is_text(entry.name))
        return [entry for entry in entries if is_text(entry.name)]


def is_text(name: str) -> bool:
    try:
        name.encode()
        return True
    except UnicodeEncodeError:
        return False


def quick_listing(entries: list[os.DirEntry]) -> tuple[list[str], None, list[str]] | None:
    """The names of the entries that are not folders, and of the folders: two list comprehensions, no function of
    curate's nor a report per entry (a folder's type comes with its name on most file systems); None where a type
    cannot be read."""
    try:
        folders = [entry.name for entry in entries if entry.is_dir()]
        files = [entry.name for entry in entries if not entry.is_dir()] if folders else [e.name for e in entries]
    except OSError:
        return None
    return files, None, folders


def checked_listing(entries: list[os.DirEntry], prefix: str, report: IndexReport,
                    sizes: bool) -> tuple[list[str], list[int] | None, list[str]]:
    """The image names among `entries` and with `sizes` their sizes, and the folders' names, entry by entry: what
    is not an image, cannot be read or (with `sizes`) is empty goes to the report."""
    names, lengths, folders = [], [], []
    for entry in entries:
        name = entry.name
        try:
            if entry.is_dir():
                folders.append(name)
                continue
            if not is_image_name(name):
                report.not_image.append(prefix + name)
                continue
            size = entry.stat().st_size if sizes else None
        except OSError:
            report.unreadable.append(prefix + name)
            continue
        if size == 0:
            report.empty_file.append(prefix + name)
        else:
            names.append(name)
            lengths.append(size)
    return names, lengths if sizes else None, folders


def class_files(wnid: str, listed: list[tuple[str, list[str], list[int] | None]]) -> ClassFiles:
    """The files of each folder of a class (path prefix, names, sizes), sorted by path."""
    if len(listed) == 1 and listed[0][2] is None:  # one folder, no sizes: its names sorted, the prefix put in by join
        prefix, names, _ = listed[0]
        names.sort()
        return ClassFiles(wnid, prefix + ("\0" + prefix).join(names) if names else "", len(names), None)
    files = sorted((prefix + name, size) for prefix, names, lengths in listed
                   for name, size in zip(names, lengths or [None] * len(names)))
    sizes = [size for _, size in files] if listed and listed[0][2] is not None else None
    return ClassFiles(wnid, "\0".join(path for path, _ in files), len(files), sizes)


def folder_rows(listed: list[ClassFiles], split: str, report: IndexReport) -> pa.Table:
    """The rows of the images among the files of class folders; what is not an image, and a class left without
    images, goes to the report. The files are handled as whole arrays: without sizes, no Python code runs per file."""
    for files in listed:
        if not files.count:
            report.empty.append(files.wnid + "/")
    listed = [files for files in listed if files.count]
    if not listed:
        return no_rows()
    text = "\0".join(files.paths for files in listed)
    paths = name_array(text)
    numbers = np.repeat(np.arange(len(listed), dtype=np.int32), [files.count for files in listed])
    wnids = name_array("\0".join(files.wnid for files in listed)).take(numpy_array(numbers))
    sizes = None
    if listed[0].sizes is not None:
        sizes = numpy_array(np.array([size for files in listed for size in files.sizes], np.int64))
    rows = image_rows(paths, wnids, split, sizes)
    image = image_name_mask(paths, text.count("."))
    if pc.all(image).as_py():
        return rows
    report.not_image.extend(paths.filter(pc.invert(image)).to_pylist())
    rows = rows.filter(image)
    kept = set(pc.unique(rows["wnid"]).to_pylist())
    report.empty.extend(files.wnid + "/" for files in listed if files.wnid not in kept)
    return rows
