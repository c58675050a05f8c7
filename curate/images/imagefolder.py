"""An image table as an ImageFolder tree: `<folder>/<label wnid>/<image file name>`, symlinks to the images.

Any tool that reads class folders (torchvision's ImageFolder, timm, Keras) then trains on a curate label
set without copying an image. Folders sort in label order, so their sorted index is the table's `label`.
The tree is built in a hidden sibling folder and renamed into place whole.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path, PurePosixPath

import pyarrow.compute as pc

from curate.errors import BadImages
from curate.fileio import check_absent, check_writable
from curate.images.table import ImageTable
from curate.wording import plural, some


def link_plan(table: ImageTable) -> dict[str, Path]:
    """Link name (`<label wnid>/<file name>`) -> the image it points to; one sentence for images in tar
    archives or for two images of one label with the same file name."""
    archived = table.rows.filter(pc.is_valid(table.rows["archive"]))["path"].to_pylist()
    if archived:
        raise BadImages(f"The table has {plural(len(archived), 'image')} inside tar archives or Parquet shards "
                        f"({some(archived, 1)}), which a symlink cannot point into: extract them into class folders "
                        "and index those.")
    root = Path(table.root).absolute()
    paths = table.rows["path"].to_pylist()
    names = [f"{label}/{PurePosixPath(path).name}" for path, label in zip(paths, table.rows["label_wnid"].to_pylist())]
    twice = sorted(name for name, count in Counter(names).items() if count > 1)
    if twice:
        raise BadImages(f"Images of one label share a file name, so one folder cannot hold both: {some(twice)}.")
    return {name: root / path for name, path in zip(names, paths)}


def export_imagefolder(table: ImageTable, folder: Path) -> int:
    """Write the ImageFolder tree of `table` at `folder`, which must not exist yet; the number of links."""
    folder = Path(folder)
    check_absent(folder)
    check_writable(folder)
    plan = link_plan(table)
    building = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
    try:
        building.mkdir()
        for label in sorted({name.split("/", 1)[0] for name in plan}):
            (building / label).mkdir()
        for name, target in plan.items():
            os.symlink(target, building / name)
        os.rename(building, folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return len(plan)
