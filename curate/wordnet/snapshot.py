"""The embedded snapshot of WordNet 3.0's nouns, which curate loads instead of NLTK.

The snapshot holds, for every noun synset, its offset, NLTK name, lemma names, hypernym and instance-hypernym
offsets and definition. Loading it takes milliseconds; loading WordNet through NLTK takes seconds, so NLTK is
only needed to rebuild the snapshot and to check it (`nltk_backend`).

On disk: a zip archive, rows sorted by offset; numbers are little-endian uint32. `offset.u32` holds the
offsets. Each text column is `<column>.txt`, one line per synset, beside `<column>.bounds.u32`: where each
line starts, and one past the last (line i is bytes bounds[i] to bounds[i+1] - 1, less its newline). The
hypernyms and instance hypernyms are row numbers, `<column>.u32` beside `<column>.bounds.u32` likewise. A
command that asks for a few synsets therefore reads a few rows and parses nothing else: loading the
hierarchy is a file read, not a parse of 82,115 rows (its members are stored uncompressed for the same
reason; only the definitions, which lookups rarely need, are deflated).
"""

from __future__ import annotations

import sys
import zipfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path

from curate.errors import SnapshotMismatch
from curate.wordnet.hierarchy import Hierarchy
from curate.wordnet.wnid import wnid

WORDNET_VERSION = "3.0"
NOUN_SYNSET_COUNT = 82_115
SNAPSHOT_PATH = Path(__file__).parent.parent / "data" / "wordnet-3.0-nouns.zip"
ROW_COLUMNS = ("hypernyms", "instance_hypernyms")
DEFLATED_COLUMNS = ("definition",)


@dataclass(frozen=True)
class NounSynset:
    offset: int
    name: str
    lemmas: tuple[str, ...]
    hypernyms: tuple[int, ...]
    instance_hypernyms: tuple[int, ...]
    definition: str


class TextColumn(Sequence[str]):
    """The lines of one text member, each decoded when it is read."""

    def __init__(self, data: bytes, bounds: array):
        self._data = data
        self._bounds = bounds

    def __len__(self) -> int:
        return len(self._bounds) - 1

    def __getitem__(self, row: int) -> str:
        if row < 0:
            row += len(self)
        return self._data[self._bounds[row] : self._bounds[row + 1] - 1].decode()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data.decode().split("\n"))


class RowsColumn(Sequence[tuple[int, ...]]):
    """Per synset, some row numbers (its hypernyms), as one flat array with bounds like a TextColumn's."""

    def __init__(self, rows: array, bounds: array):
        self._rows = rows
        self._bounds = bounds

    def __len__(self) -> int:
        return len(self._bounds) - 1

    def __getitem__(self, row: int) -> tuple[int, ...]:
        if row < 0:
            row += len(self)
        return tuple(self._rows[self._bounds[row] : self._bounds[row + 1]])


def uint32s(data: bytes) -> array:
    values = array("I")
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def uint32_bytes(values: list[int]) -> bytes:
    packed = array("I", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def write_snapshot(synsets: list[NounSynset], path: Path) -> None:
    rows = sorted(synsets, key=lambda s: s.offset)
    row_of = {s.offset: row for row, s in enumerate(rows)}
    texts = {
        "name": [s.name for s in rows],
        "lemmas": [" ".join(s.lemmas) for s in rows],
        "definition": [s.definition for s in rows],
    }
    members = {"offset.u32": uint32_bytes([s.offset for s in rows])}
    for column, values in texts.items():
        if any("\n" in value for value in values):
            raise ValueError(f"a value of column {column} holds a newline")
        lines = [value.encode() for value in values]
        members[f"{column}.txt"] = b"\n".join(lines)
        members[f"{column}.bounds.u32"] = uint32_bytes(list(accumulate((len(line) + 1 for line in lines), initial=0)))
    for column in ROW_COLUMNS:
        runs = [[row_of[offset] for offset in getattr(s, column)] for s in rows]
        members[f"{column}.u32"] = uint32_bytes([row for run in runs for row in run])
        members[f"{column}.bounds.u32"] = uint32_bytes(list(accumulate(map(len, runs), initial=0)))
    from curate.fileio import atomic_path

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        for name, data in members.items():
            compression = zipfile.ZIP_DEFLATED if name.split(".")[0] in DEFLATED_COLUMNS else zipfile.ZIP_STORED
            # A fixed date keeps the archive byte-stable.
            member = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(member, data, compression, compresslevel=9)


def read_columns(path: Path, columns: tuple[str, ...]) -> dict[str, Sequence]:
    """Some snapshot columns: the offsets as ints, the others read row by row on access."""

    def column(archive: zipfile.ZipFile, name: str) -> Sequence:
        if name == "offset":
            return uint32s(archive.read("offset.u32"))
        bounds = uint32s(archive.read(f"{name}.bounds.u32"))
        if name in ROW_COLUMNS:
            return RowsColumn(uint32s(archive.read(f"{name}.u32")), bounds)
        return TextColumn(archive.read(f"{name}.txt"), bounds)

    with zipfile.ZipFile(path) as archive:
        return {name: column(archive, name) for name in columns}


def read_snapshot(path: Path = SNAPSHOT_PATH) -> list[NounSynset]:
    """Every synset of a snapshot, fully parsed (slow: for checks, not for lookups)."""
    columns = read_columns(path, ("offset", "name", "lemmas", *ROW_COLUMNS, "definition"))
    offsets = columns["offset"]

    def offsets_of(rows: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(offsets[row] for row in rows)

    return [
        NounSynset(offset, name, tuple(lemmas.split()), offsets_of(hyper), offsets_of(instance), definition)
        for offset, name, lemmas, hyper, instance, definition in zip(*columns.values())
    ]


@cache
def load_hierarchy(path: Path = SNAPSHOT_PATH) -> Hierarchy:
    """The noun hierarchy of a snapshot (by default the embedded one), loaded once per process."""
    return Hierarchy(*read_columns(path, ("offset", "name", "lemmas", *ROW_COLUMNS)).values())


@cache
def load_definitions(path: Path = SNAPSHOT_PATH) -> Sequence[str]:
    """The gloss of every synset of a snapshot, in the hierarchy's node order, loaded once per process."""
    return read_columns(path, ("definition",))["definition"]


def compare_snapshot(synsets: list[NounSynset], path: Path = SNAPSHOT_PATH) -> None:
    """Raise unless the snapshot at `path` holds exactly `synsets`."""
    shipped = {s.offset: s for s in read_snapshot(path)}
    fresh = {s.offset: s for s in synsets}
    differing = sorted(o for o in shipped.keys() | fresh.keys() if shipped.get(o) != fresh.get(o))
    if differing:
        raise SnapshotMismatch(
            f"{path} differs from NLTK's WordNet in {len(differing)} synsets (first: {wnid(differing[0])}): "
            "rebuild it with `curate wordnet snapshot`."
        )
