"""An image table as an ImageFolder tree, `<folder>/<label folder>/<image file>`, for the readers that number
class folders in sorted order (torchvision's ImageFolder, timm's folder reader, Keras): they then number
every image with the table's `label`.

The label folders are named so that they sort in label order: the label wnids where those sort that way
(curate numbers labels in wnid order unless a recipe records another order), else the zero-padded label
before the wnid (`03-n04399382`, for `extend --keep-base-order`). `classes.txt` at the top lists them,
label i on line i: timm's `--class-map`.

A label without images would be a folder these readers never see, numbering every later label one lower:
such a table is refused, unless the caller gives its label set, which names the label's folder, left
empty (torchvision then reads it with `allow_empty=True`, timm with the class map).

The images are symlinks to the image files, or with `copy` copies of their bytes from wherever the table's
rows point (tar archives, Parquet shards, a JPEG store): a name without an image suffix (a shard's row
number) takes the shard's name before it and the suffix of the format its bytes are in.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyarrow.compute as pc

from curate.errors import BadImages
from curate.images.exports import check_exportable, image_suffix, whole_folder
from curate.images.rows import is_image_name, read_image_bytes
from curate.images.table import ImageTable
from curate.labels.labelset import LabelSet
from curate.labels.manifest import labels_hash
from curate.progress import Progress, no_progress
from curate.wording import has, plural, some

CLASS_MAP = "classes.txt"


@dataclass(frozen=True)
class FolderExport:
    images: int
    empty_folders: list[str]  # the folders of labels without images, in label order


def label_folders(table: ImageTable, labels: LabelSet | None) -> list[str]:
    """The folder of each label 0..K-1, in label order, named so that in sorted order they are in label order."""
    count = int(table.metadata["label_count"])
    if labels is not None:
        if labels_hash(labels) != table.metadata.get("labels_hash"):
            raise BadImages("The table was not made with the label set `labels`: give the one `curate images apply` "
                            "made it with.")
        wnids = labels.label_wnids
    else:
        wnid_of = dict(zip(table.rows["label"].to_pylist(), table.rows["label_wnid"].to_pylist()))
        empty = [str(label) for label in range(count) if label not in wnid_of]
        if empty:
            raise BadImages(
                f"{plural(len(empty), 'label')} of the {count} {has(len(empty))} no images in the table (label "
                f"{some(empty)}), and ImageFolder readers number only the folders that hold images: give `labels`, "
                f"the label set the table was made with, for an empty folder each (torchvision's ImageFolder reads "
                f"them with allow_empty=True, timm with the class map {CLASS_MAP}).")
        wnids = [wnid_of[label] for label in range(count)]
    if wnids == sorted(wnids):
        return wnids
    width = len(str(count - 1))
    return [f"{label:0{width}d}-{wnid}" for label, wnid in enumerate(wnids)]


def file_name(path: str) -> str:
    """The name of an image's file in its label folder: its own name, or for a row of a Parquet shard
    (`<shard>/<row>`) the shard's name and the row, `train-00000-of-00002-17` (its suffix comes from its bytes)."""
    name = PurePosixPath(path)
    return name.name if is_image_name(path) else f"{PurePosixPath(name.parent.name).stem}-{name.name}"


def file_plan(table: ImageTable, folders: list[str], copy: bool) -> dict[str, tuple]:
    """`<label folder>/<file name>` -> the row (path, archive, offset, size) of the image it holds; one
    sentence for images a symlink cannot point into, or two images of one label with the same file name."""
    if not copy:
        archived = table.rows.filter(pc.is_valid(table.rows["archive"]))["path"].to_pylist()
        if archived:
            raise BadImages(f"The table has {plural(len(archived), 'image')} inside tar archives, Parquet shards or a "
                            f"store ({some(archived, 1)}), which a symlink cannot point into: give `copy` to copy "
                            "their bytes out.")
    rows = table.rows.select(["path", "archive", "offset", "size"]).to_pylist()
    names = [f"{folders[label]}/{file_name(row['path'])}" for row, label in zip(rows, table.rows["label"].to_pylist())]
    twice = sorted(name for name, count in Counter(names).items() if count > 1)
    if twice:
        raise BadImages(f"Images of one label share a file name, so one folder cannot hold both: {some(twice)}.")
    return {name: tuple(row.values()) for name, row in zip(names, rows)}


def export_imagefolder(table: ImageTable, folder: Path, *, labels: LabelSet | None = None, copy: bool = False,
                       progress: Progress = no_progress) -> FolderExport:
    """Write the ImageFolder tree of `table` at `folder`, which must not exist yet: symlinks to its images, or
    with `copy` their bytes. `labels`, the set the table was made with, names the folders of labels without images."""
    check_exportable(table)
    folders = label_folders(table, labels)
    plan = file_plan(table, folders, copy)
    root = Path(table.root).absolute()
    advance = progress("Copying images" if copy else "Linking images", len(plan))
    with whole_folder(folder) as building:
        for name in folders:
            (building / name).mkdir()
        (building / CLASS_MAP).write_text("".join(f"{name}\n" for name in folders))
        for name, (path, *where) in plan.items():
            if copy:
                data = read_image_bytes(root, path, *where)
                (building / (name if is_image_name(name) else name + image_suffix(data, path))).write_bytes(data)
            else:
                os.symlink(root / path, building / name)
            advance()
    filled = {name.split("/", 1)[0] for name in plan}
    return FolderExport(len(plan), [name for name in folders if name not in filled])
