"""Manifests on disk: LabelSet <-> Parquet, the content hash, validation, and their text forms.

Every Parquet file curate writes goes through `write_table`: a fixed schema and column order, rows sorted
by key, written atomically, with two hashes in its metadata:
- `content_hash` covers rows and column names only, so it survives pyarrow upgrades that change the file's
  bytes; it is what manifests, tables and checkpoints record of each other.
- `pages_hash` covers the file's bytes before its footer (the encoded pages). A reader that finds them
  unchanged knows the rows are the ones `content_hash` was computed from, without re-hashing the rows; a
  file re-encoded by another tool fails this cheap check and falls back to re-hashing its rows.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import __version__
from curate.errors import BadManifest
from curate.fileio import atomic_path
from curate.labelset import LabelRow, LabelSet

SCHEMA_VERSION = "1"
PREFIX = "curate."
NULL = "\\N"
HASH_SLICE = 1 << 16  # rows turned into text at once: small enough to stay in cache, large enough to amortise

LABEL_SCHEMA = pa.schema(
    [
        pa.field("wnid", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("label", pa.int32()),
        pa.field("label_wnid", pa.string()),
        pa.field("label_name", pa.string()),
        pa.field("reason", pa.string()),
    ]
)

# An image index (kind "images"): one row per image. `path` is relative to the root recorded in the
# metadata key "root"; for a member of a tar archive, `archive` is the tar's path relative to the root,
# `path` is "<archive>/<member name>", and `offset` is the byte offset of the member's data in the tar.
IMAGE_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("wnid", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("size", pa.int64()),
        pa.field("archive", pa.string()),
        pa.field("offset", pa.int64()),
    ]
)

# The table training reads (kind "table"): an image index joined with a label manifest, removed classes
# dropped. Metadata adds "labels_hash", "images_hash", "labels_recipe" and "classes" (the label count).
TABLE_SCHEMA = pa.schema(
    [*IMAGE_SCHEMA, pa.field("label", pa.int32(), nullable=False), pa.field("label_wnid", pa.string(), nullable=False)]
)


def content_hash(table: pa.Table) -> str:
    """sha256 of the rows as tab-separated text (nulls as \\N), header first, in the table's row order.

    Each line ends with a tab and a newline. Slices of rows become text on all cores (pyarrow releases the
    GIL); the digest takes them in order."""
    digest = hashlib.sha256(("\t".join(table.column_names) + "\n").encode())
    starts = range(0, table.num_rows, HASH_SLICE)
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        for text in pool.map(lambda start: row_text(table.slice(start, HASH_SLICE)), starts):
            digest.update(text)
    return "sha256:" + digest.hexdigest()


def row_text(table: pa.Table) -> bytes | memoryview:
    """The rows of `table` as UTF-8 text, each cell followed by a tab, each row by a newline.

    pyarrow's join costs about the same per input whether it is a column or a constant, so runs of constant
    cells (all-null columns, a split that is the same on every row) are joined into one constant first."""
    inputs: list[pa.ChunkedArray | str] = []
    for cell in [*map(cell_text, table.columns), "\n"]:
        if isinstance(cell, str) and inputs and isinstance(inputs[-1], str):
            inputs[-1] += "\t" + cell
        else:
            inputs.append(cell)
    if len(inputs) == 1:
        return inputs[0].encode() * table.num_rows
    lines = pc.binary_join_element_wise(*(pa.scalar(i) if isinstance(i, str) else i for i in inputs), "\t")
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    _, offsets, data = lines.buffers()
    bounds = memoryview(offsets).cast("i")
    return memoryview(data)[bounds[lines.offset] : bounds[lines.offset + len(lines)]]


def cell_text(column: pa.ChunkedArray) -> pa.ChunkedArray | str:
    """A column's cells as text, or the one text of every cell when they are all null or all the same string."""
    if column.null_count == len(column):
        return NULL
    if column.type == pa.string() and not column.null_count and column[0] == column[-1]:
        if pc.all(pc.equal(column, column[0])).as_py():
            return column[0].as_py()
    text = column if column.type == pa.string() else pc.cast(column, pa.string())
    return pc.fill_null(text, NULL) if column.null_count else text


def strictly_increasing(column) -> bool:
    """Whether a column is sorted with no repeats: a cheap proof that sorting and counting can be skipped."""
    n = len(column)
    return n < 2 or pc.all(pc.less(column.slice(0, n - 1), column.slice(1))).as_py()


# How curate encodes Parquet: zstd over plain pages. Dictionary pages save nothing after zstd (sorted paths
# repeat their class in runs) and cost time; so do column statistics, which let a reader skip row groups, and
# curate's files are read whole.
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": False, "write_statistics": False}


def write_table(table: pa.Table, path: Path, schema: pa.Schema, sort_by: str, metadata: dict[str, str]) -> str:
    """Cast to `schema`, sort by `sort_by`, write atomically with metadata and both hashes; return the
    content hash."""
    table = table.select(schema.names).cast(schema)
    if not strictly_increasing(table[sort_by]):
        table = table.sort_by(sort_by)
    with atomic_path(path) as tmp, open(tmp, "wb") as file, ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(content_hash, table)  # on the other core while pyarrow encodes the pages
        sink = HashingFile(file)
        # The metadata goes in the footer, written last, so it can hold the hashes of what came before. With
        # store_schema=False readers take the schema metadata from the footer's key-value pairs.
        with pq.ParquetWriter(sink, schema.remove_metadata(), store_schema=False, **PARQUET_OPTIONS) as writer:
            writer.write_table(table)
            digest = hashing.result()
            stamped = {
                PREFIX + "schema_version": SCHEMA_VERSION,
                PREFIX + "tool_version": __version__,
                **{PREFIX + key: value for key, value in metadata.items()},
                PREFIX + "content_hash": digest,
                PREFIX + "pages_hash": sink.hexdigest(),
            }
            writer.add_key_value_metadata({key: stamped[key] for key in sorted(stamped)})
    return digest


class HashingFile:
    """A write-only file that hashes what passes through it, for pyarrow's writers."""

    closed = False

    def __init__(self, file):
        self.file = file
        self.digest = hashlib.sha256()

    def write(self, data) -> int:
        self.digest.update(data)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.closed = True  # the caller closes the real file

    def hexdigest(self) -> str:
        return "sha256:" + self.digest.hexdigest()


def pages_hash(data: bytes) -> str:
    """sha256 of a Parquet file's bytes before its footer (the footer's length sits just before the last
    4 bytes)."""
    footer = int.from_bytes(data[-8:-4], "little")
    return "sha256:" + hashlib.sha256(memoryview(data)[: max(0, len(data) - 8 - footer)]).hexdigest()


def read_table(path: Path, kind: str, schema: pa.Schema, key: str) -> tuple[pa.Table, dict[str, str]]:
    """A curate Parquet file of `kind`, validated; its table and its curate metadata (prefix dropped)."""
    path = Path(path)
    if not path.is_file():
        raise BadManifest(f"{path} does not exist.")
    try:
        data = path.read_bytes()
        table = pq.read_table(pa.py_buffer(data))
    except (pa.ArrowInvalid, OSError):
        raise BadManifest(f"{path} is not a Parquet file (or it is damaged).") from None
    raw = table.schema.metadata or {}
    metadata = {k.decode()[len(PREFIX):]: v.decode() for k, v in raw.items() if k.startswith(PREFIX.encode())}
    if "kind" not in metadata:
        raise BadManifest(f"{path} is a Parquet file but not a curate manifest (it has no curate metadata).")
    if metadata["kind"] != kind:
        raise BadManifest(f"{path} is a curate {metadata['kind']} file, not a {kind} file.")
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise BadManifest(f"{path} lacks the column{'s' * (len(missing) > 1)} {', '.join(missing)}.")
    try:
        table = table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise BadManifest(f"{path} has columns of the wrong type for a {kind} file.") from None
    if metadata.get("pages_hash") == pages_hash(data):
        return table, metadata  # the pages curate wrote, sorted and hashed then
    if not strictly_increasing(table[key]):
        counts = pc.value_counts(table[key])
        repeated = counts.filter(pc.greater(counts.field("counts"), 1))
        if len(repeated):
            raise BadManifest(f"{path} lists {key} {repeated[0]['values'].as_py()} more than once.")
        table = table.sort_by(key)
    if content_hash(table) != metadata.get("content_hash"):
        raise BadManifest(f"{path} was changed after curate wrote it: its rows do not match its content hash.")
    return table, metadata


# --- label manifests -------------------------------------------------------------------------------------

LABELS_KIND = "labels"


def labels_table(labels: LabelSet) -> pa.Table:
    index = labels.label_index
    rows = labels.rows
    return pa.table(
        {
            "wnid": [r.wnid for r in rows],
            "name": [r.name for r in rows],
            "label": [index.get(r.label_wnid) for r in rows],
            "label_wnid": [r.label_wnid for r in rows],
            "label_name": [r.label_name for r in rows],
            "reason": [r.reason for r in rows],
        },
        schema=LABEL_SCHEMA,
    )


def labels_metadata(labels: LabelSet) -> dict[str, str]:
    return {
        "kind": LABELS_KIND,
        "recipe": labels.recipe,
        "params": json.dumps(labels.params, sort_keys=True),
        "tree_rule": labels.tree_rule or "",
        "wordnet_version": labels.wordnet_version,
        "base": labels.base_name,
        "base_hash": labels.base_hash,
        "source": labels.source,
        "classes": str(len(labels.label_wnids)),
    }


def write_labels(labels: LabelSet, path: Path) -> str:
    """Write a label manifest; return its content hash."""
    return write_table(labels_table(labels), path, LABEL_SCHEMA, "wnid", labels_metadata(labels))


def labels_hash(labels: LabelSet) -> str:
    return content_hash(labels_table(labels))


def read_labels(path: Path) -> LabelSet:
    table, meta = read_table(path, LABELS_KIND, LABEL_SCHEMA, "wnid")
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
    )
    index = labels.label_index
    if columns["label"] != [index.get(r.label_wnid) for r in rows]:
        raise BadManifest(f"{path} has labels that are not dense and in label_wnid order.")
    return labels


# --- text forms: show and diff ---------------------------------------------------------------------------


def show_lines(labels: LabelSet) -> list[str]:
    """The manifest as sorted text, one line per source class; usable as a git textconv."""
    header = [
        f"# recipe: {labels.describe()}",
        f"# tree rule: {labels.tree_rule or '-'}; WordNet {labels.wordnet_version}; base: {labels.base_name}",
        f"# {len(labels.kept)} of {len(labels.rows)} classes kept under {len(labels.label_wnids)} labels",
    ]
    return header + [class_line(row) for row in labels.rows]


def sidecar_text(labels: LabelSet) -> str:
    """The text committed beside each preset manifest, so pull-request pages show changes as lines."""
    return "\n".join(show_lines(labels)) + "\n"


def write_sidecar(labels: LabelSet, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(sidecar_text(labels))


def class_line(row: LabelRow) -> str:
    if row.label_wnid is None:
        return f"{row.wnid}  {row.name}  -x  {row.reason}"
    return f"{row.wnid}  {row.name}  ->  {row.label_wnid}  {row.label_name}"


def label_text(row: LabelRow | None) -> str:
    if row is None:
        return "(absent)"
    if row.label_wnid is None:
        return f"({row.reason})"
    return row.label_name if row.label_name else row.label_wnid


def diff_lines(old: LabelSet, new: LabelSet) -> list[str]:
    """What changed from `old` to `new`: moved classes (from -> to), labels created and dropped, counts."""
    before = {row.wnid: row for row in old.rows}
    after = {row.wnid: row for row in new.rows}
    moved = []
    for wnid in sorted(before.keys() | after.keys()):
        a, b = before.get(wnid), after.get(wnid)
        if (a and a.label_wnid) != (b and b.label_wnid) or (a is None) != (b is None):
            name = (b or a).name
            moved.append(f"{wnid} {name}: {label_text(a)} → {label_text(b)}")
    names = {row.label_wnid: row.label_name for row in old.rows + new.rows if row.label_wnid}
    created = sorted(set(new.label_wnids) - set(old.label_wnids))
    dropped = sorted(set(old.label_wnids) - set(new.label_wnids))
    lines = [f"--- {old.describe()} ({len(old.label_wnids)} labels)", f"+++ {new.describe()} ({len(new.label_wnids)} labels)"]
    lines += moved
    lines += [f"label created: {wnid} {names[wnid]}" for wnid in created]
    lines += [f"label dropped: {wnid} {names[wnid]}" for wnid in dropped]
    lines.append(
        f"{len(moved)} classes changed label; {len(created)} labels created, {len(dropped)} dropped; "
        f"labels {len(old.label_wnids)} → {len(new.label_wnids)}"
    )
    return lines
