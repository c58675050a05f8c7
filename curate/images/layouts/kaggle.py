"""Kaggle's ImageNet (ILSVRC object localization challenge): ROOT holds LOC_synset_mapping.txt,
LOC_train_solution.csv, LOC_val_solution.csv and ILSVRC/Data/CLS-LOC/{train/<wnid>/, val/, test/}. The train
split is read as class folders, the val split as a validation folder labelled by LOC_val_solution.csv; the
test images have no labels. Where ILSVRC/ImageSets/CLS-LOC lists the split's images (train_cls.txt,
val.txt), the folder is checked against it: what the list names and the folder lacks is reported missing,
an image the list does not name is reported unlisted (and indexed). Paths stay relative to ROOT."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import BadImages
from curate.images.layouts import class_folders, val_folder
from curate.images.layouts.file_list import list_entries
from curate.images.report import IndexReport
from curate.progress import Progress

LAYOUT = "Kaggle ILSVRC"
FILES = True  # image files in folders: `sizes` looks up their sizes
IMAGES = "ILSVRC/Data/CLS-LOC"
MAPPING = "LOC_synset_mapping.txt"
VAL_LABELS = "LOC_val_solution.csv"
LAYOUTS = {"train": class_folders, "val": val_folder}  # how each split's folder is read
IMAGE_LISTS = {"train": "ILSVRC/ImageSets/CLS-LOC/train_cls.txt", "val": "ILSVRC/ImageSets/CLS-LOC/val.txt"}


def no_images(source, found: str) -> str:
    return LAYOUTS[source.split].no_images(split_source(source), found)


def holds(root: Path) -> bool:
    """Whether `root` is laid out as Kaggle's download is."""
    return (root / MAPPING).is_file() and (root / IMAGES).is_dir()


def split_source(source):
    """The split's own folder, as the layout that reads it takes it."""
    if source.split not in LAYOUTS:
        raise BadImages(f"Kaggle's ILSVRC {source.split} images have no labels: index `split` train or `split` val.")
    labels = source.root / VAL_LABELS if source.split == "val" else None
    return replace(source, root=source.root / IMAGES / source.split, val_labels=labels)


def index(source, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """The split's images, as class folders (train) or a validation folder (val), with paths from ROOT."""
    inner = split_source(source)
    rows, report = LAYOUTS[source.split].index(inner, progress)
    check_listed(source.root / IMAGE_LISTS[source.split], rows, report)
    prefix = f"{IMAGES}/{source.split}/"
    for column in ("path", "archive"):
        prefixed = pc.binary_join_element_wise(prefix, rows[column], "")
        rows = rows.set_column(rows.schema.get_field_index(column), rows.schema.field(column), prefixed)
    for items in report.problems().values():
        items[:] = [prefix + item for item in items]
    report.layout = f"{LAYOUT} {source.split}"
    return rows, report


def check_listed(image_list: Path, rows: pa.Table, report: IndexReport) -> None:
    """Report what the split's image list (`n01440764/n01440764_10026 1` lines) names and the folder lacks,
    and each indexed image it does not name; images are compared without their extensions."""
    if not image_list.is_file():
        return
    listed = set(list_entries(image_list).get_column("entry").to_list())
    indexed = rows["path"].to_pylist()
    held = {stem(path) for path in indexed + report.unlabelled}
    report.missing = sorted(set(report.missing) | (listed - held))
    report.unlisted.extend(sorted(path for path in indexed if stem(path) not in listed))


def stem(path: str) -> str:
    return os.path.splitext(path)[0]
