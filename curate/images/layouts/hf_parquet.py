"""Hugging Face's `ILSVRC/imagenet-1k` Parquet shards, `ROOT/data/<split>-00000-of-00294.parquet` (or the
shards in ROOT itself): each row an `image` struct (`bytes`, `path`) and a `label`, the class's index in sorted
ILSVRC-2012 wnid order (-1 on the test split). The label's names there are descriptions, and not unique, so
only the index is read. Each row points into its shard (`rows` says how); nothing is unpacked."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.images.layouts.listing import SHARD_SPLITS, shard_files
from curate.images.report import IndexReport
from curate.images.rows import image_rows
from curate.labels.classlists import builtin_list
from curate.progress import Progress

LAYOUT = "Hugging Face Parquet shards"
CLASSES = "ilsvrc2012"  # label i is the i-th wnid of this list, sorted
SHARD_NAME = re.compile(r"(?P<split>train|validation|test)-\d+-of-\d+\.parquet")
FOLDERS = ("data", "")  # where the shards are: in data/ as the dataset's repository has them, or in ROOT


def no_images(source, found: str) -> str:
    prefix = SHARD_SPLITS[source.split]
    return f"{source.root} holds no labelled images in Parquet shards {prefix}-*-of-*.parquet{found}."


def holds(root: Path) -> bool:
    """Whether `root`, or its data/ folder, holds shards named as Hugging Face names them."""
    return bool(shard_files(root, FOLDERS, SHARD_NAME, None))


def index(source, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """Every row of the split's shards whose label names a class; unlabelled rows (-1) go to the report."""
    root, split = source.root, source.split
    classes = builtin_list(CLASSES).wnids
    report = IndexReport(layout=LAYOUT)
    shards = shard_files(root, FOLDERS, SHARD_NAME, split)
    advance = progress("Indexing shards", len(shards))
    tables = [image_rows([], [], split, [])]
    for shard in shards:
        tables.append(shard_rows(shard, shard_labels(root / shard, shard), classes, split, report))
        advance(1)
    return pa.concat_tables(tables), report


def shard_labels(path: Path, shard: str) -> list[int | None]:
    """The `label` column of a shard, once its schema shows it holds images as imagenet-1k's shards do."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except pa.ArrowInvalid:
        raise BadImages(f"{shard} is not a Parquet file, so it cannot be read as a Hugging Face shard.") from None
    except OSError:
        raise BadImages(f"{shard} cannot be read (permission denied?).") from None
    image = schema.field("image").type if "image" in schema.names else None
    if image is None or not pa.types.is_struct(image) or image.get_field_index("bytes") < 0:
        raise BadImages(f"{shard} has no `image` column with the images' bytes: it is not an imagenet-1k shard.")
    if "label" not in schema.names or not pa.types.is_integer(schema.field("label").type):
        raise BadImages(f"{shard} has no integer `label` column: it is not an imagenet-1k shard.")
    return pq.read_table(path, columns=["label"]).column(0).to_pylist()


def shard_rows(shard: str, labels: list[int | None], classes: tuple[str, ...], split: str,
               report: IndexReport) -> pa.Table:
    """One row per labelled row of the shard, pointing at it by its row number."""
    paths, wnids, rows = [], [], []
    for row, label in enumerate(labels):
        if label is None or label == -1:
            report.unlabelled.append(f"{shard}/{row}")
        elif not 0 <= label < len(classes):
            raise BadImages(f"Row {row} of {shard} has label {label}, outside 0..{len(classes) - 1}, the "
                            f"{len(classes)} classes of {CLASSES} in sorted order (-1 marks an unlabelled image).")
        else:
            paths.append(f"{shard}/{row}")
            wnids.append(classes[label])
            rows.append(row)
    return image_rows(paths, wnids, split, [None] * len(rows), [shard] * len(rows), rows)
