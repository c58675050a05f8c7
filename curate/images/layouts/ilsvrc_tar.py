"""image-net.org's ILSVRC-2012 training download as it comes: `ROOT/ILSVRC2012_img_train.tar`, a tar of 1000
per-class tars `n01440764.tar`, each holding that class's JPEGs. Both levels are listed where they lie, not
extracted (as timm's tar-in-tar reader does): a row's archive is the download itself and its offset the
image's place in it, so training reads an image with one seek."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.images.layouts.tar_archive import DamagedArchive, list_tar, tar_members
from curate.images.report import IndexReport
from curate.images.rows import image_rows
from curate.progress import Progress
from curate.wordnet.snapshot import load_hierarchy

LAYOUT = "ILSVRC-2012 train tar"
ARCHIVE = "ILSVRC2012_img_train.tar"


def no_images(source, found: str) -> str:
    return f"{source.root / ARCHIVE} holds no <wnid>.tar archives of images{found}."


def holds(root: Path) -> bool:
    """Whether `root` holds image-net.org's training download."""
    return (root / ARCHIVE).is_file()


def index(source, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """The images of every `<wnid>.tar` in the download; other members, and class archives that are damaged,
    go to the report."""
    if source.split != "train":
        raise BadImages(f"{ARCHIVE} holds the training images: index it with `split` train, and the validation "
                        "images (a folder of ILSVRC2012_img_val.tar's files) with `val_labels`.")
    path, report = source.root / ARCHIVE, IndexReport(layout=LAYOUT)
    members = tar_members(path, ARCHIVE)
    stems = [info.name[: -len(".tar")] for info in members if info.name.endswith(".tar")]
    known = load_hierarchy().known_wnids(stems)
    advance = progress("Indexing class archives", len(members))
    tables = [image_rows([], [], source.split, [])]
    for info in members:
        advance(1)
        relative, wnid = f"{ARCHIVE}/{info.name}", info.name[: -len(".tar")]
        if not info.name.endswith(".tar") or wnid not in known:
            report.not_wnid.append(relative)
            continue
        try:
            rows = list_tar(path, relative, wnid, source.split, report, within=(ARCHIVE, info))
        except DamagedArchive:
            report.damaged.append(relative)
            continue
        if not rows.num_rows:
            report.empty.append(relative)
        tables.append(rows)
    return pa.concat_tables(tables), report
