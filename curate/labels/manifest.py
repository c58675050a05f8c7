"""Label manifests on disk: a LabelSet as a curate Parquet file (kind "labels") and back.

One row per source class, sorted by wnid: `wnid`, `name`, `label` (0..K-1 in sorted `label_wnid` order, unless
the recipe set its own order, which the metadata then says: `label_order` "recipe"),
`label_wnid`, `label_name`, `reason` (why a recipe removed a class, whose label is then null, or added it).
The metadata records how the set was made: recipe, parameters, tree rule, WordNet version, base list.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa

from curate.errors import BadManifest
from curate.fileformat import FileKind, content_hash, read_table, write_table
from curate.labels.labelset import LabelRow, LabelSet

LABELS = FileKind(
    "labels",
    pa.schema(
        [
            pa.field("wnid", pa.string(), nullable=False),
            pa.field("name", pa.string(), nullable=False),
            pa.field("label", pa.int32()),
            pa.field("label_wnid", pa.string()),
            pa.field("label_name", pa.string()),
            pa.field("reason", pa.string()),
        ]
    ),
    "wnid",
)


def labels_table(labels: LabelSet) -> pa.Table:
    label_of = labels.label_index
    rows = labels.rows
    return pa.table(
        {
            "wnid": [r.wnid for r in rows],
            "name": [r.name for r in rows],
            "label": [label_of.get(r.label_wnid) for r in rows],
            "label_wnid": [r.label_wnid for r in rows],
            "label_name": [r.label_name for r in rows],
            "reason": [r.reason for r in rows],
        },
        schema=LABELS.schema,
    )


def labels_metadata(labels: LabelSet) -> dict[str, str]:
    return {
        "recipe": labels.recipe,
        "params": json.dumps(labels.params, sort_keys=True),
        "tree_rule": labels.tree_rule or "",
        "wordnet_version": labels.wordnet_version,
        "base": labels.base_name,
        "base_hash": labels.base_hash,
        "source": labels.source,
        "label_count": str(labels.label_count),
        **({"label_order": "recipe"} if labels.label_order else {}),
    }


def write_labels(labels: LabelSet, path: Path) -> str:
    """Write a label manifest; return its content hash."""
    return write_table(labels_table(labels), path, LABELS, labels_metadata(labels))


def labels_hash(labels: LabelSet) -> str:
    """The content hash a manifest of `labels` has."""
    return content_hash(labels_table(labels))


def read_labels(path: Path) -> LabelSet:
    table, meta = read_table(path, LABELS)
    columns = table.to_pydict()
    rows = tuple(
        LabelRow(w, n, lw, ln, rb)
        for w, n, lw, ln, rb in zip(
            columns["wnid"], columns["name"], columns["label_wnid"], columns["label_name"], columns["reason"]
        )
    )
    labels = LabelSet(
        rows,
        meta.get("recipe", ""),
        json.loads(meta.get("params", "{}")),
        meta.get("tree_rule") or None,
        meta.get("base", ""),
        meta.get("base_hash", ""),
        meta.get("source", ""),
        meta.get("wordnet_version", ""),
        recipe_order(columns) if meta.get("label_order") == "recipe" else (),
    )
    label_of = labels.label_index
    if columns["label"] != [label_of.get(r.label_wnid) for r in rows]:
        raise BadManifest(f"{path} has labels that are not dense and in label order.")
    return labels


def recipe_order(columns: dict[str, list]) -> tuple[str, ...]:
    """The label wnids ordered by their `label` column (the caller checks that the labels are dense)."""
    label_of: dict[str, float] = {}
    for label, wnid in zip(columns["label"], columns["label_wnid"]):
        if wnid is not None:
            label_of.setdefault(wnid, math.inf if label is None else label)
    return tuple(sorted(label_of, key=lambda wnid: (label_of[wnid], wnid)))
