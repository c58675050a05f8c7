"""Class folders `ROOT/<wnid>/**/<image>` (ILSVRC-2012 train, the fall 2011 22k release) and per-class tar
archives `ROOT/<wnid>.tar`, in any mix."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.images.layouts.listing import folder_entries
from curate.images.layouts.tar_archive import DamagedArchive, list_tar
from curate.images.report import IndexReport
from curate.images.rows import image_rows, is_image_name
from curate.progress import Progress
from curate.wording import plural
from curate.wordnet.snapshot import load_hierarchy

LAYOUT = "class folders"
THREADS = min(8, os.cpu_count() or 1)  # class folders listed at once
TORCHVISION_META = "meta.bin"  # beside train/ and val/ in the root torchvision's ImageNet prepares


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

    def index_class(job: tuple[os.DirEntry, bool]) -> pa.Table:
        entry, archive = job
        if archive:
            try:
                members = list_tar(Path(entry.path), entry.name, entry.name[: -len(".tar")], split, report)
            except DamagedArchive:
                report.damaged.append(entry.name)
                return image_rows([], [], split, [])
            except BadImages:
                report.unreadable.append(entry.name)
                return image_rows([], [], split, [])
        else:
            paths, sizes = walk_class_folder(Path(entry.path), entry.name, report)
            members = image_rows(paths, [entry.name] * len(paths), split, sizes)
        if not members.num_rows:
            report.empty.append(entry.name + ("" if archive else "/"))
        return members

    advance = progress("Indexing classes", len(classes))
    tables = []
    with ThreadPoolExecutor(max_workers=THREADS) as pool:  # listing folders waits on the disk, not the GIL
        for members in pool.map(index_class, classes):
            tables.append(members)
            advance(1)
    if stray and not any(t.num_rows for t in tables):
        raise BadImages(
            f"{root} holds {plural(len(stray), 'image')} but no class folders: "
            "for a validation folder, give its labels with `val_labels`."
        )
    report.unlabelled.extend(stray)
    layouts = [name for name, present in (("class folders", folders), ("tar archives", archives)) if present]
    report.layout = " and ".join(layouts) or LAYOUT
    return pa.concat_tables([image_rows([], [], split, []), *tables]), report


def walk_class_folder(folder: Path, wnid: str, report: IndexReport) -> tuple[list[str], list[int]]:
    """The paths (relative to the root) and sizes of every image under a class folder; the rest goes to the
    report."""
    paths: list[str] = []
    sizes: list[int] = []
    pending = [(str(folder), wnid + "/")]
    while pending:
        current, prefix = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError:
            report.unreadable.append(prefix)
            continue
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir():
                    pending.append((entry.path, prefix + name + "/"))
                    continue
                if not is_image_name(name):
                    report.not_image.append(prefix + name)
                    continue
                size = entry.stat().st_size
            except OSError:
                report.unreadable.append(prefix + name)
                continue
            if size:
                paths.append(prefix + name)
                sizes.append(size)
            else:
                report.empty_file.append(prefix + name)
    return paths, sizes
