"""The one file format of curate: a Parquet file with curate's metadata and three hashes.

Label manifests, image indexes and image tables are all such files, told apart by their `kind`. Every one
is written by `write_table`: a fixed schema and column order, rows sorted
by key, written atomically, with three hashes in its metadata:
- `content_hash` covers rows and column names only, so it survives pyarrow upgrades that change the file's
  bytes; it is what manifests, tables and checkpoints record of each other.
- `pages_hash` covers the file's bytes before its footer (the encoded pages). A reader that finds them
  unchanged knows the rows are the ones `content_hash` was computed from, without re-hashing the rows; a
  file re-encoded by another tool fails this cheap check and falls back to re-hashing its rows.
- `metadata_hash` covers the rest of curate's metadata and the row count, which sit in the footer beyond the
  reach of the other two: a damaged footer could otherwise cut the rows short or change what a file says it
  is, and still match them.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import __version__
from curate.errors import BadManifest
from curate.fileio import atomic_path, not_regular, special_file

SCHEMA_VERSION = "1"
PREFIX = "curate."
NULL = "\\N"
HASH_SLICE = 1 << 16  # rows turned into text at once: small enough to stay in cache, large enough to amortise

# The kinds of curate file, as sentences name them.
KINDS = {"labels": "a label manifest", "images": "an image index", "table": "an image table", "levels": "a level manifest"}


@dataclass(frozen=True)
class FileKind:
    """One kind of curate file: its metadata name, its columns, and the column its rows are sorted and
    unique by."""

    name: str
    schema: pa.Schema
    key: str

    @property
    def what(self) -> str:
        return KINDS[self.name]


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


def metadata_hash(metadata: dict[str, str], rows: int) -> str:
    """sha256 of curate's metadata (all but this hash itself, prefix dropped) and the row count, as sorted JSON."""
    covered = {key: value for key, value in metadata.items() if key != "metadata_hash"}
    return "sha256:" + hashlib.sha256(json.dumps({"metadata": covered, "rows": rows}, sort_keys=True).encode()).hexdigest()


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
    lines = pc.binary_join_element_wise(*(text_scalar(i) if isinstance(i, str) else i for i in inputs), text_scalar("\t"))
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    _, offsets, data = lines.buffers()
    bounds = memoryview(offsets).cast("i")
    return memoryview(data)[bounds[lines.offset] : bounds[lines.offset + len(lines)]]


def text_scalar(text: str) -> pa.StringScalar:
    """`text` as an Arrow scalar, made from its bytes: `pa.scalar` imports pandas where it is installed, half a
    second of a command's time."""
    data = text.encode()
    return pa.StringArray.from_buffers(1, pa.py_buffer(struct.pack("<ii", 0, len(data))), pa.py_buffer(data))[0]


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


def sorted_by_key(table: pa.Table, kind: FileKind) -> pa.Table:
    """`table` sorted by the kind's key (checked first: sorted tables are the rule, and checking is cheap)."""
    return table if strictly_increasing(table[kind.key]) else table.sort_by(kind.key)


# How curate encodes Parquet: zstd over plain pages. Dictionary pages save nothing after zstd (sorted paths
# repeat their class in runs) and cost time; so do column statistics, which let a reader skip row groups, and
# curate's files are read whole.
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": False, "write_statistics": False}


def write_table(table: pa.Table, path: Path, kind: FileKind, metadata: dict[str, str]) -> str:
    """Cast to the kind's schema, sort by its key, write atomically with metadata and both hashes; return
    the content hash."""
    schema = kind.schema
    table = sorted_by_key(table.select(schema.names).cast(schema), kind)
    with atomic_path(path) as tmp, open(tmp, "wb") as file, ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(content_hash, table)  # on the other core while pyarrow encodes the pages
        sink = HashingFile(file)
        # The metadata goes in the footer, written last, so it can hold the hashes of what came before. With
        # store_schema=False readers take the schema metadata from the footer's key-value pairs.
        with pq.ParquetWriter(sink, schema.remove_metadata(), store_schema=False, **PARQUET_OPTIONS) as writer:
            writer.write_table(table)
            digest = hashing.result()
            stamped = {  # what this writer stamps wins over metadata carried over from a file read earlier
                **{PREFIX + key: value for key, value in metadata.items()},
                PREFIX + "schema_version": SCHEMA_VERSION,
                PREFIX + "tool_version": __version__,
                PREFIX + "kind": kind.name,
                PREFIX + "content_hash": digest,
                PREFIX + "pages_hash": sink.hexdigest(),
            }
            stamped[PREFIX + "metadata_hash"] = metadata_hash({k[len(PREFIX):]: v for k, v in stamped.items()}, table.num_rows)
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


def decode(buffer: pa.Buffer) -> pa.Table:
    """A Parquet file's table, its columns decoded on Python threads, with its metadata.

    Not pyarrow's own threads: a worker of Arrow's global thread pool still alive when the interpreter
    exits can abort the process after its work is done ("terminate called without an active exception",
    apache/arrow#34314; 1 in 200 runs of `curate show` here). Python's threads are joined before exit."""
    schema = pq.read_schema(buffer)

    def column(name: str) -> pa.ChunkedArray:
        return pq.ParquetFile(buffer).read(columns=[name], use_threads=False).column(0)

    with ThreadPoolExecutor(max_workers=min(len(schema), os.cpu_count() or 1)) as pool:
        columns = list(pool.map(column, schema.names))
    return pa.Table.from_arrays(columns, schema=schema)


def is_parquet(path: Path) -> bool:
    """Whether the file starts with Parquet's magic bytes, whatever its name."""
    try:
        with open(path, "rb") as file:
            return file.read(4) == b"PAR1"
    except OSError:
        return False


def kind_of(path: Path) -> str | None:
    """The kind of curate file `path` says it is, from its footer alone (None for anything else)."""
    if special_file(path):
        return None
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (pa.ArrowException, OSError, UnicodeDecodeError):
        return None
    return metadata.get((PREFIX + "kind").encode(), b"").decode(errors="replace") or None


def curate_metadata(path: Path, table: pa.Table) -> dict[str, str]:
    """The curate metadata of a file read as `table` (prefix dropped), checked against its metadata hash."""
    raw = table.schema.metadata or {}
    try:
        metadata = {k.decode()[len(PREFIX):]: v.decode() for k, v in raw.items() if k.startswith(PREFIX.encode())}
    except UnicodeDecodeError:
        raise BadManifest(f"{path} is damaged: its metadata is not text.") from None
    if "kind" not in metadata:
        raise BadManifest(f"{path} is a Parquet file but not a curate manifest (it has no curate metadata).")
    # A file an older curate wrote has no metadata hash: it is read as it always was (its rows still checked by
    # the content hash), so a user's files and git history's manifests stay readable.
    if "metadata_hash" in metadata and metadata["metadata_hash"] != metadata_hash(metadata, table.num_rows):
        raise BadManifest(f"{path} was changed after curate wrote it: its metadata or row count do not match its "
                          "metadata hash.")
    return metadata


def read_table(path: Path, kind: FileKind) -> tuple[pa.Table, dict[str, str]]:
    """A curate Parquet file of `kind`, validated; its table and its curate metadata (prefix dropped)."""
    path, schema, key = Path(path), kind.schema, kind.key
    if path.is_dir():
        raise BadManifest(f"{path} is a folder, not {kind.what}.")
    if special_file(path):
        raise BadManifest(not_regular(path))
    if not path.is_file():
        raise BadManifest(f"{path} does not exist.")
    try:
        data = path.read_bytes()
        table = decode(pa.py_buffer(data))
    except (pa.ArrowException, OSError, UnicodeDecodeError):  # a column name that is not text: a damaged footer
        raise BadManifest(f"{path} is not a Parquet file (or it is damaged).") from None
    metadata = curate_metadata(path, table)
    if metadata["kind"] != kind.name:
        found = KINDS.get(metadata["kind"], f"a curate {metadata['kind']} file")
        raise BadManifest(f"{path} is {found}, not {kind.what}.")
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise BadManifest(f"{path} lacks the column{'s' * (len(missing) > 1)} {', '.join(missing)}.")
    try:
        table = table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise BadManifest(f"{path} has columns of the wrong type for {kind.what}.") from None
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


class CurateTable:
    """A curate file of one kind as an object: its rows (in the kind's schema, sorted by its key), and its
    metadata. Subclasses name the kind and the metadata keys every file of it must have."""

    kind: FileKind
    required: dict[str, str] = {}  # metadata key -> what it holds, for the sentence when a file lacks it

    def __init__(self, rows: pa.Table, metadata: dict[str, str], path: Path | None = None):
        self.rows = rows
        self.metadata = metadata
        self.path = path  # the file it was read from, if any

    @classmethod
    def read(cls, path: Path):
        """The file at `path`, validated (see `read_table`)."""
        rows, metadata = read_table(path, cls.kind)
        for key, what in cls.required.items():
            if key not in metadata:
                raise BadManifest(f"{path} is {cls.kind.what} without {what} in its metadata.")
        made = cls(rows, metadata)
        made.path = Path(path)
        return made

    def write(self, path: Path) -> str:
        """Write atomically; return the content hash."""
        digest = write_table(self.rows, Path(path), self.kind, self.metadata)
        self.metadata = {**self.metadata, "content_hash": digest}
        return digest

    @property
    def content_hash(self) -> str:
        """The content hash the file of these rows has (computed once, where no file said it)."""
        if "content_hash" not in self.metadata:
            self.metadata = {**self.metadata, "content_hash": content_hash(self.rows)}
        return self.metadata["content_hash"]

    def __len__(self) -> int:
        return self.rows.num_rows
