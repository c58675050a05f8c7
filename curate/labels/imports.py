"""Groupings users bring (`curate import`): a file that maps wnids to labels, read as the tool that wrote it
wrote it, and made a label set.

What is read (`read_grouping`, bytes in, a Grouping out):
- a TSV or CSV of `wnid,label` lines, with or without a header (a header naming `wnid` and `label` picks those
  columns; otherwise the first two are taken); a label is an integer id, a wnid, or a name;
- timm's class map: a text file of one class name (here a wnid) per line, the line's number from 0 its label,
  as timm's `load_class_map` reads it (every line counts: an empty one would number a class);
- a Parquet file with curate's columns and not curate's metadata, as pandas (`to_parquet`), duckdb (`COPY`) or
  polars (`write_parquet`) write a manifest read and rewritten: `label` numbers the classes, `label_wnid`
  (where present) names each label, and a class without a label is removed (with its `reason`, if any).

How it becomes a label set (`imported`): every wnid is checked against WordNet 3.0 and listed once; integer
labels keep their ids (the manifest records their order) and must run 0..K-1; a label given as a wnid is that
synset. `label_wnid` is how curate, its readers and training key a label, and they check it is a WordNet 3.0 id
(`images.table.check_labels`): a label the file numbers or names by a free word therefore takes the wnid of its
first class in wnid order, and keeps the file's word as its name (a numbered label of several classes is
named "label N").
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

from curate.errors import BadClassList
from curate.fileio import not_regular, special_file
from curate.labels.labelset import LabelRow, LabelSet
from curate.wordnet.hierarchy import Hierarchy
from curate.wordnet.wnid import is_wnid, not_a_wnid

PARQUET_MAGIC = b"PAR1"
INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Entry:
    """One class as the file gives it."""

    where: str  # "on line 3", "in row 3" (counted from 1)
    wnid: str
    label: str | None  # an integer id, a wnid or a name, as text; None: the file gives the class no label
    label_wnid: str | None = None  # the wnid a numbered label stands for, where the file says (a manifest's column)
    reason: str | None = None  # why the class has no label, where the file says


@dataclass(frozen=True)
class Grouping:
    name: str  # the file's name
    sha256: str
    format: str  # tsv, csv, class map, parquet
    entries: tuple[Entry, ...]


def read_source(path: Path) -> bytes:
    """The bytes of the file a user brings, or one sentence saying why it cannot be read."""
    if special_file(path):
        raise BadClassList(not_regular(path))
    if not path.is_file():
        raise BadClassList(f"{path} is not a file: give a TSV, CSV, class map or Parquet file of wnids and labels.")
    try:
        return path.read_bytes()
    except OSError as error:
        raise BadClassList(f"Cannot read {path}: {error.strerror or error}.") from None


def read_grouping(data: bytes, name: str) -> Grouping:
    """The classes and labels of a file's bytes, in the file's order (see the module's docstring)."""
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(PARQUET_MAGIC):
        return Grouping(name, digest, "parquet", parquet_entries(data, name))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadClassList(f"{name} is neither a Parquet file nor UTF-8 text.") from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n").split("\n")  # as timm iterates a file
    delimiter = "\t" if "\t" in lines[0] else ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    if all(len(row) <= 1 for row in rows):
        return Grouping(name, digest, "class map", class_map_entries(rows, name))
    return Grouping(name, digest, "tsv" if delimiter == "\t" else "csv", pair_entries(rows))


def class_map_entries(rows: list[list[str]], name: str) -> tuple[Entry, ...]:
    """timm's class map: line i (from 0) names the class of label i."""
    entries = []
    for number, row in enumerate(rows):
        if not row or not row[0].strip():
            raise BadClassList(f"Line {number + 1} of {name} is empty, and timm's class map would number it as "
                               f"label {number}: remove it.")
        entries.append(Entry(f"on line {number + 1}", row[0].strip(), str(number)))
    return tuple(entries)


def pair_entries(rows: list[list[str]]) -> tuple[Entry, ...]:
    """`wnid,label` rows: the columns a header names `wnid` and `label`, else the first two; empty lines skipped,
    an empty label a class without one."""
    numbered = [(number, [cell.strip() for cell in row]) for number, row in enumerate(rows, start=1) if any(map(str.strip, row))]
    first = numbered[0][1]
    header = not is_wnid(first[0])
    wnid_at, label_at = (first.index("wnid"), first.index("label")) if header and {"wnid", "label"} <= set(first) else (0, 1)
    entries = []
    for number, cells in numbered[header:]:
        cells += [""] * (max(wnid_at, label_at) + 1 - len(cells))
        entries.append(Entry(f"on line {number}", cells[wnid_at], cells[label_at] or None))
    return tuple(entries)


def parquet_entries(data: bytes, name: str) -> tuple[Entry, ...]:
    """A manifest's columns, from a Parquet file another tool wrote (any index column it added is ignored)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError):
        raise BadClassList(f"{name} is not a readable Parquet file (or it is damaged).") from None
    missing = [column for column in ("wnid", "label") if column not in table.column_names]
    if missing:
        raise BadClassList(f"{name} has no column {' or '.join(missing)}: a Parquet grouping needs `wnid` and `label`.")
    columns = {column: table[column].to_pylist() if column in table.column_names else [None] * table.num_rows
               for column in ("wnid", "label", "label_wnid", "reason")}
    entries = []
    for number, (wnid, label, label_wnid, reason) in enumerate(zip(*columns.values()), start=1):
        where = f"in row {number}"
        entries.append(Entry(where, str(wnid), label_text(label, where, name), label_wnid, reason))
    return tuple(entries)


def label_text(value, where: str, name: str) -> str | None:
    """A Parquet label cell as text: pandas writes an integer column with nulls as floats (NaN: no label)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            raise BadClassList(f"The label {value} {where} of {name} is not a whole number.")
        value = int(value)
    return str(value)


# --- the label set ------------------------------------------------------------------------------------------


def label_kind(label: str) -> str:
    return "integer" if INTEGER.fullmatch(label) else "wnid" if is_wnid(label) else "name"


def check_classes(hierarchy: Hierarchy, grouping: Grouping) -> None:
    """Every class a wnid of WordNet 3.0, listed once; every label given as a wnid one too."""
    seen: dict[str, str] = {}
    named = [(e.wnid, e.where) for e in grouping.entries]
    named += [(e.label, e.where) for e in grouping.entries if e.label and label_kind(e.label) == "wnid"]
    named += [(e.label_wnid, e.where) for e in grouping.entries if e.label_wnid]
    known = hierarchy.known_wnids(wnid for wnid, _ in named)
    for wnid, where in named:
        if not is_wnid(wnid):
            raise BadClassList(not_a_wnid(wnid, f"{where} of {grouping.name}"))
        if wnid not in known:
            raise BadClassList(f"{wnid} {where} of {grouping.name} is not a noun synset of WordNet 3.0.")
    for entry in grouping.entries:
        if entry.wnid in seen:
            raise BadClassList(f"{entry.wnid} is listed twice in {grouping.name}, {seen[entry.wnid]} and {entry.where}.")
        seen[entry.wnid] = entry.where


def the_kind(grouping: Grouping) -> str:
    """integer, wnid or name: how the file gives every label, or one sentence where it mixes them."""
    labelled = [entry for entry in grouping.entries if entry.label is not None]
    if not labelled:
        raise BadClassList(f"{grouping.name} gives no class a label.")
    first = labelled[0]
    other = next((e for e in labelled if label_kind(e.label) != label_kind(first.label)), None)
    if other is not None:
        raise BadClassList(f"{grouping.name} mixes kinds of label: {first.where} the {label_kind(first.label)} "
                           f"{first.label!r}, {other.where} the {label_kind(other.label)} {other.label!r}; give every "
                           "label as an integer id, a wnid, or a name.")
    return label_kind(first.label)


def numbered_labels(grouping: Grouping, kept: list[Entry]) -> dict[int, list[Entry]]:
    """The classes of each integer label, checked to run 0..K-1."""
    members: dict[int, list[Entry]] = {}
    for entry in kept:
        members.setdefault(int(entry.label), []).append(entry)
    negative = next((entry for entry in kept if int(entry.label) < 0), None)
    if negative is not None:
        raise BadClassList(f"The label {negative.label} {negative.where} of {grouping.name} is negative: ids count from 0.")
    gap = next(number for number in range(len(members) + 1) if number not in members)
    if gap < len(members):
        raise BadClassList(f"{grouping.name} has no class with label {gap}, though its labels go up to {max(members)}: "
                           "ids must run from 0 without gaps, as a model's outputs do.")
    return dict(sorted(members.items()))


def named_by_file(hierarchy: Hierarchy, grouping: Grouping, number: int, members: list[Entry]) -> tuple[str, str]:
    """The wnid and name of integer label `number`: the wnid the file gives it, else its first class."""
    given = {entry.label_wnid for entry in members} - {None}
    if len(given) > 1:
        raise BadClassList(f"{grouping.name} gives label {number} two label wnids, {' and '.join(sorted(given))}.")
    if given:
        (wnid,) = given
        return wnid, hierarchy.lemma(hierarchy.node(wnid))
    first = min(entry.wnid for entry in members)
    return first, hierarchy.lemma(hierarchy.node(first)) if len(members) == 1 else f"label {number}"


def imported(hierarchy: Hierarchy, grouping: Grouping) -> LabelSet:
    """The label set a grouping gives (see the module's docstring)."""
    check_classes(hierarchy, grouping)
    kind = the_kind(grouping)
    kept = [entry for entry in grouping.entries if entry.label is not None]
    order: tuple[str, ...] = ()
    if kind == "integer":
        label_of = {}
        for number, members in numbered_labels(grouping, kept).items():
            named = named_by_file(hierarchy, grouping, number, members)
            label_of |= {entry.wnid: named for entry in members}
        order = tuple(dict.fromkeys(wnid for wnid, _ in label_of.values()))
        if len(order) < len({int(entry.label) for entry in kept}):
            raise BadClassList(f"{grouping.name} gives two numbered labels the same label wnid.")
    elif kind == "wnid":
        label_of = {e.wnid: (e.label, hierarchy.lemma(hierarchy.node(e.label))) for e in kept}
    else:
        first = {}
        for entry in sorted(kept, key=lambda entry: entry.wnid):
            first.setdefault(entry.label, entry.wnid)
        label_of = {e.wnid: (first[e.label], e.label) for e in kept}
    rows = [LabelRow(e.wnid, hierarchy.lemma(hierarchy.node(e.wnid)), *label_of[e.wnid]) if e.label is not None
            else LabelRow(e.wnid, hierarchy.lemma(hierarchy.node(e.wnid)), None, None,
                          e.reason or f"removed: no label in {grouping.name}")
            for e in grouping.entries]
    params = {"file": grouping.name, "sha256": grouping.sha256, "format": grouping.format, "labels": kind}
    return LabelSet(tuple(rows), "import", params, None, grouping.name, "sha256:" + grouping.sha256,
                    f"imported from {grouping.name}", label_order=order)
