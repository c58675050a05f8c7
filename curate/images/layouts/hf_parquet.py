"""Hugging Face Parquet shards as the hub and `datasets` lay them out: `push_to_hub`'s
`ROOT/data/<split>-00000-of-00294.parquet` (older `datasets` add the fingerprint, `-<16 hex>.parquet`; the
shards may also lie in ROOT itself), the hub's Parquet conversion `ROOT/default/<split>/0000.parquet`, and
`Dataset.to_parquet`'s single `ROOT/<split>.parquet`. A split is `train`, `validation` (or `val`) or `test`.
Each row is an `image` struct (`bytes`, `path`) and a `label`, read through the class names the shard declares
(`hf_features`); -1 marks an unlabelled row (imagenet-1k's test split). Each row points into its shard (`rows`
says how); nothing is unpacked, and an image kept only as a path is read from that file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyarrow as pa

from curate.images.layouts.hf_features import METADATA_KEY, check_columns, check_image_files, label_classes, labelled_rows
from curate.images.layouts.listing import SHARD_SPLITS, readable_shards, shard_files
from curate.images.layouts.tar_archive import DamagedArchive, UnreadableArchive
from curate.images.report import IndexReport
from curate.images.rows import image_rows
from curate.labels.classlists import class_numbering
from curate.progress import Progress

LAYOUT = "Hugging Face Parquet shards"
NUMBERED = True  # labels are numbers: `classes` can say what they number
SPLIT = r"(?P<split>train|validation|val|test)"
SHARD_NAME = re.compile(SPLIT + r"-\d+-of-\d+(-[0-9a-f]{16})?\.parquet")
FOLDERS = ("data", "")  # where push_to_hub's shards are: in data/ as the dataset's repository has them, or in ROOT
CONVERTED = "default"  # the hub's conversion: default/<split>/0000.parquet
CONVERTED_NAME = re.compile(r"\d+\.parquet")
SINGLE_NAME = re.compile(SPLIT + r"\.parquet")  # Dataset.to_parquet's one file, known by datasets' metadata


def no_images(source, found: str) -> str:
    prefix = SHARD_SPLITS[source.split][0]
    return f"{source.root} holds no labelled images in Parquet shards {prefix}-*-of-*.parquet{found}."


def holds(root: Path) -> bool:
    """Whether `root` holds shards named as Hugging Face names them."""
    return bool(shards(root, None))


def shards(root: Path, split: str | None) -> list[str]:
    """The split's shards (any split's, for None), relative to `root`, in each layout's name order."""
    names = SHARD_SPLITS[split] if split else tuple(name for names in SHARD_SPLITS.values() for name in names)
    found = shard_files(root, FOLDERS, SHARD_NAME, split)
    found += shard_files(root, tuple(f"{CONVERTED}/{name}" for name in names), CONVERTED_NAME, None)
    found += [name for name in shard_files(root, ("",), SINGLE_NAME, split) if written_by_datasets(root / name)]
    return found


def written_by_datasets(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        return METADATA_KEY in (pq.read_schema(path).metadata or {})
    except (pa.ArrowInvalid, OSError):
        return False


def index(source, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """Every row of the split's shards whose label names a class; unlabelled rows (-1) go to the report, and
    so do shards that are damaged or unreadable."""
    root, split = source.root, source.split
    numbering = class_numbering(source.classes) if source.classes else None
    report = IndexReport(layout=LAYOUT)
    found = shards(root, split)
    advance = progress("Indexing shards", len(found))
    tables = [image_rows([], [], split, [])]
    tables += readable_shards(found, lambda shard: labelled_rows(shard, *shard_labels(root / shard, shard, numbering), split,
                                                                 report), report, advance)
    return pa.concat_tables(tables), report


def shard_labels(path: Path, shard: str, numbering):
    """The `label` column of a shard and the classes it numbers, once its schema shows it holds images as
    datasets writes them, and every image without bytes in it has its file. Raises DamagedArchive for a
    shard that is not a Parquet file or whose data does not decode, UnreadableArchive for one that cannot be
    opened."""
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):  # pyarrow's OSError for a footer that does not decode, too
        if not os.access(path, os.R_OK):
            raise UnreadableArchive(f"{shard} cannot be read (permission denied?).") from None
        raise DamagedArchive(f"{shard} is not a Parquet file, so it cannot be read as a Hugging Face shard.") from None
    schema = file.schema_arrow
    check_columns(schema, shard)
    classes = label_classes(schema, shard, numbering)
    try:
        if bytes_missing(file):
            check_image_files(file.read(columns=["image"]).column(0), path, shard)
        return file.read(columns=["label"]).column(0).to_pylist(), classes
    except (pa.ArrowException, OSError) as error:  # a page that does not decompress or decode
        raise DamagedArchive(f"{shard} is a damaged Parquet file ({str(error).splitlines()[0]}).") from None


def bytes_missing(file) -> bool:
    """Whether a row's `image.bytes` may be null, by the footer's counts (the bytes are not read for this)."""
    leaf = next(i for i in range(file.metadata.num_columns) if file.schema.column(i).path == "image.bytes")
    for group in range(file.num_row_groups):
        statistics = file.metadata.row_group(group).column(leaf).statistics
        if statistics is None or not statistics.has_null_count or statistics.null_count:
            return True
    return False
