"""The embedded snapshot of WordNet 3.0's nouns, which curate loads instead of NLTK.

The snapshot holds, for every noun synset, its offset, NLTK name, lemma names, hypernym and instance-hypernym
offsets and definition. Loading it takes milliseconds; loading WordNet through NLTK takes seconds, so NLTK is
only needed to rebuild the snapshot and to check it (`nltk_backend`).

On disk: a zip archive with one member per column, one line per synset, rows sorted by offset. Columns are
read separately, so the hierarchy loads without the definitions, and nothing is parsed before it is asked for.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from curate.errors import SnapshotMismatch
from curate.fileio import atomic_path
from curate.wordnet.hierarchy import Hierarchy
from curate.wordnet.wnid import wnid

WORDNET_VERSION = "3.0"
NOUN_SYNSET_COUNT = 82_115
SNAPSHOT_PATH = Path(__file__).parent.parent / "data" / "wordnet-3.0-nouns.zip"
SNAPSHOT_COLUMNS = ("offset", "name", "lemmas", "hypernyms", "instance_hypernyms", "definition")


@dataclass(frozen=True)
class NounSynset:
    offset: int
    name: str
    lemmas: tuple[str, ...]
    hypernyms: tuple[int, ...]
    instance_hypernyms: tuple[int, ...]
    definition: str


def write_snapshot(synsets: list[NounSynset], path: Path) -> None:
    rows = sorted(synsets, key=lambda s: s.offset)
    columns = {
        "offset": [f"{s.offset:08d}" for s in rows],
        "name": [s.name for s in rows],
        "lemmas": [" ".join(s.lemmas) for s in rows],
        "hypernyms": [" ".join(f"{h:08d}" for h in s.hypernyms) for s in rows],
        "instance_hypernyms": [" ".join(f"{h:08d}" for h in s.instance_hypernyms) for s in rows],
        "definition": [s.definition for s in rows],
    }
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        for column, values in columns.items():
            if any("\n" in value for value in values):
                raise ValueError(f"a value of column {column} holds a newline")
            # A fixed date keeps the archive byte-stable.
            member = zipfile.ZipInfo(f"{column}.txt", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(member, "\n".join(values), zipfile.ZIP_DEFLATED, compresslevel=9)


def read_columns(path: Path, columns: tuple[str, ...]) -> dict[str, list[str]]:
    """The raw text values of some snapshot columns."""
    with zipfile.ZipFile(path) as archive:
        return {column: archive.read(f"{column}.txt").decode().split("\n") for column in columns}


def read_snapshot(path: Path = SNAPSHOT_PATH) -> list[NounSynset]:
    """Every synset of a snapshot, fully parsed (slow: for checks, not for lookups)."""
    columns = read_columns(path, SNAPSHOT_COLUMNS)

    def offsets(text: str) -> tuple[int, ...]:
        return tuple(map(int, text.split()))

    return [
        NounSynset(int(offset), name, tuple(lemmas.split()), offsets(hyper), offsets(instance), definition)
        for offset, name, lemmas, hyper, instance, definition in zip(*columns.values())
    ]


@cache
def load_hierarchy(path: Path = SNAPSHOT_PATH) -> Hierarchy:
    """The noun hierarchy of a snapshot (by default the embedded one), loaded once per process."""
    columns = read_columns(path, ("offset", "name", "lemmas", "hypernyms", "instance_hypernyms"))
    return Hierarchy(*columns.values())


@cache
def load_definitions(path: Path = SNAPSHOT_PATH) -> list[str]:
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
