"""What `curate show` says of an image index or an image table: where its images are, where it came from
(layout, origin, subset), its content hash, and its images per class (an index) or per label (a table)."""

from __future__ import annotations

import pyarrow.compute as pc

from curate.images.index import ImageIndex
from curate.images.subsets import class_counts
from curate.images.table import ImageTable

# The metadata each kind's record shows, in this order, where the file has it.
INDEX_KEYS = ("root", "layout", "origin_hash", "parent_hash", "subset", "store_format")
TABLE_KEYS = ("root", "layout", "labels_recipe", "labels_hash", "label_count", "images_hash", "origin_hash")


def image_file_record(path, kind: str) -> dict:
    """The record of the image index (`kind` "images") or image table ("table") at `path`."""
    return index_record(ImageIndex.read(path)) if kind == "images" else table_record(ImageTable.read(path))


def index_record(index: ImageIndex) -> dict:
    """An image index: its provenance, hash, images per split and per class."""
    splits = pc.value_counts(index.rows["split"])
    return {"kind": "image index", **{k: index.metadata[k] for k in INDEX_KEYS if k in index.metadata},
            "content_hash": index.content_hash, "images": len(index),
            "splits": dict(sorted(zip(splits.field("values").to_pylist(), splits.field("counts").to_pylist()))),
            "classes": class_counts(index.rows)}


def table_record(table: ImageTable) -> dict:
    """An image table: its label set, provenance, hash, and training images per label."""
    wnids = dict(zip(table.rows["label"].to_pylist(), table.rows["label_wnid"].to_pylist()))
    counts = pc.value_counts(table.rows["label"])
    per_label = dict(sorted(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())))
    return {"kind": "image table", **{k: table.metadata[k] for k in TABLE_KEYS if k in table.metadata},
            "content_hash": table.content_hash, "images": len(table),
            "labels": [{"label": label, "label_wnid": wnids[label], "images": n} for label, n in per_label.items()]}


def record_lines(record: dict) -> tuple[list[str], list[str]]:
    """The record as text: its `key: value` lines, and its table (a header, then one tab-separated line per
    class or label)."""
    keys = [f"{key}: {value}" for key, value in record.items() if key not in ("classes", "labels", "splits")]
    if "splits" in record:
        keys.append("splits: " + ", ".join(f"{split} {n}" for split, n in record["splits"].items()))
    if "classes" in record:
        return keys, ["wnid\timages", *(f"{wnid}\t{n}" for wnid, n in record["classes"].items())]
    return keys, ["label\tlabel_wnid\timages", *(f"{r['label']}\t{r['label_wnid']}\t{r['images']}" for r in record["labels"])]
