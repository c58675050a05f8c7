"""A flat validation folder (ILSVRC-2012 val) and the file that names each image's class: Kaggle's
LOC_val_solution.csv (`ImageId,PredictionString`), `filename,wnid` lines, the devkit's
ILSVRC2012_validation_ground_truth.txt or torchvision's meta.bin (`devkit`)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.images.layouts.devkit import ground_truth_labels, is_ground_truth, torchvision_labels
from curate.images.layouts.listing import folder_entries, read_text
from curate.images.report import IndexReport
from curate.images.rows import image_rows, is_image_name
from curate.progress import Progress
from curate.wording import plural, some
from curate.wordnet.snapshot import load_hierarchy
from curate.wordnet.wnid import is_wnid, not_a_wnid

LAYOUT = "validation folder"
FILES = True  # image files in folders: `sizes` looks up their sizes


def no_images(source, found: str) -> str:
    return f"{source.root} holds no image that its labels file names{found}."


def index(source, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """A flat folder of images and a labels file naming each image's class (with or without extension); with
    `sizes`, each image's size (empty files are reported)."""
    root, labels_path, split = source.root, Path(source.val_labels), source.split
    report = IndexReport(layout=LAYOUT)
    entries = folder_entries(root)
    labels = read_val_labels(labels_path)
    files: dict[str, tuple[str, int | None]] = {}  # stem and name -> (name, size, with `sizes`)
    advance = progress("Indexing images", len(entries))
    for entry in entries:
        try:
            if entry.is_dir():
                report.not_image.append(entry.name + "/")
            elif entry.name == labels_path.name and root.joinpath(entry.name).samefile(labels_path):
                pass
            elif not is_image_name(entry.name):
                report.not_image.append(entry.name)
            else:
                size = entry.stat().st_size if source.sizes else None
                if size == 0:
                    report.empty_file.append(entry.name)
                else:
                    files[entry.name] = files[os.path.splitext(entry.name)[0]] = (entry.name, size)
        except OSError:
            report.unreadable.append(entry.name)
        advance(1)
    paths, wnids, sizes = [], [], []
    labelled = set()
    for key, wnid in labels.items():
        if key not in files:
            report.missing.append(key)
            continue
        name, size = files[key]
        if name in labelled:
            raise BadImages(f"{labels_path} labels {name} twice (as {key} and by another name).")
        labelled.add(name)
        paths.append(name)
        wnids.append(wnid)
        sizes.append(size)
    report.unlabelled.extend(sorted({name for name, _ in files.values()} - labelled))
    return image_rows(paths, wnids, split, sizes), report


def read_val_labels(path: Path) -> dict[str, str]:
    """filename (or stem) -> wnid, from any of the files the module names, each class checked in WordNet."""
    if path.suffix == ".bin" and path.is_file():
        labels = torchvision_labels(path)
    else:
        text = read_text(path, "read as image labels")
        labels = ground_truth_labels(path, text) if is_ground_truth(text) else named_labels(path, text)
    if not labels:
        raise BadImages(f"{path} labels no images.")
    unknown = sorted(set(labels.values()) - load_hierarchy().known_wnids(set(labels.values())))
    if unknown:
        raise BadImages(f"{path} names {plural(len(unknown), 'class')} WordNet 3.0 does not have: {some(unknown)}.")
    return labels


def named_labels(path: Path, text: str) -> dict[str, str]:
    """filename -> wnid, from ILSVRC's LOC_val_solution.csv (`ImageId,PredictionString`, the first word of the
    prediction string is the class) or from `filename,wnid` lines (commas or whitespace; a header is allowed)."""
    labels: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        fields = line.split(",", 1) if "," in line else line.split(None, 1)
        words = fields[1].split() if len(fields) == 2 else []
        if not words:
            raise BadImages(f"Line {number} of {path} is not `filename,wnid`: {line[:60]!r}.")
        name, wnid = fields[0].strip(), words[0]
        if not is_wnid(wnid):
            if number == 1 and not labels:
                continue  # a header: "ImageId,PredictionString" or "filename,wnid"
            raise BadImages(not_a_wnid(wnid, f"on line {number} of {path}"))
        if name in labels:
            raise BadImages(f"{name} is listed twice in {path}, on lines {lines[name]} and {number}.")
        labels[name] = wnid
        lines[name] = number
    return labels
