"""Level manifests: one class list labelled at every level of a family of nested label sets, coarse to fine
(the depth cuts 3..15; down-up-9 / coarse-127 / in1k), as one curate Parquet file (kind "levels"), for
training one head per level and for hierarchical evaluation.

One row per class, sorted by wnid: `wnid`, `name`, and for each level i (0 = coarsest) `label_i` (the label
id the level's own manifest gives), `label_wnid_i`, `label_name_i`. The levels nest: the classes of one label
at level i share one label at level i-1, its parent. The parent table travels in the metadata (`levels`,
JSON: per level its spec, recipe, parameters, label count, the content hash of its label set, and `parents`,
the level i-1 label id of each level i label, by label id), since a Parquet file holds one table; it is a
function of the rows, and the reader checks that it is theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.errors import BadManifest, BadRecipe
from curate.fileformat import PREFIX, FileKind, read_table, write_table
from curate.labels.classlists import ClassList
from curate.labels.labelset import LabelRow, LabelSet
from curate.labels.manifest import labels_hash, recipe_order
from curate.wordnet.hierarchy import Hierarchy

KIND = "levels"


@dataclass(frozen=True)
class Level:
    """One level: its label set (its kept classes) as named, and the content hash of the label set it was
    made from (a manifest of it, or a table `curate images apply` labelled with it, carries that hash)."""

    spec: str
    labels: LabelSet
    labels_hash: str


@dataclass(frozen=True)
class Levels:
    """Nested label sets over one class list, coarse to fine (`nested` checks and builds them)."""

    levels: tuple[Level, ...]

    @property
    def classes(self) -> list[LabelRow]:
        """The classes every level labels, in wnid order (with the finest level's labels)."""
        return self.levels[-1].labels.kept

    def parents(self, level: int) -> list[int]:
        """The label id at level `level - 1` of each label of level `level`, by label id."""
        coarse, fine = self.levels[level - 1].labels, self.levels[level].labels
        index = coarse.label_index
        coarse_of = {row.wnid: index[row.label_wnid] for row in coarse.kept}
        parent = {row.label_wnid: coarse_of[row.wnid] for row in fine.kept}
        return [parent[wnid] for wnid in fine.label_wnids]

    def ancestors(self) -> list[list[int]]:
        """For each level, coarse to fine, the label id at that level of each finest label (by label id): the
        parent table composed; the finest level's row is 0..K-1."""
        chain = [list(range(self.levels[-1].labels.label_count))]
        for level in range(len(self.levels) - 1, 0, -1):
            parents = self.parents(level)
            chain.insert(0, [parents[label] for label in chain[0]])
        return chain


def depth_specs(depths: str) -> list[str]:
    """The bottom-up cuts a `depths` shorthand names, coarse to fine: "3..15" (each depth from 3 to 15) or
    "3,6,9"."""
    try:
        if ".." in depths:
            low, high = (int(part) for part in depths.split(".."))
            values = list(range(low, high + 1))
        else:
            values = [int(part) for part in depths.split(",")]
    except ValueError:
        values = []
    if not values or any(v < 0 for v in values) or values != sorted(set(values)):
        raise BadRecipe(f"`depths` takes a range of depths like 3..15 or a rising list like 3,6,9, not {depths!r}.")
    return [f"coarsen --depth {depth}" for depth in values]


def levels_named(specs: list[str], hierarchy: Hierarchy, base: ClassList, depths: str | None = None) -> Levels:
    """The levels `depths` (coarsest first) and then `specs` name, each in the label-set language
    (`presets.labels_named`: a preset, identity, a recipe's command line, a manifest), checked to nest."""
    from curate.labels.presets import labels_named

    named = [*(depth_specs(depths) if depths else []), *specs]
    if len(named) < 2:
        raise BadRecipe("A hierarchy needs two levels or more: give label sets coarse to fine, or `depths`.")
    return nested([(spec, labels_named(spec, hierarchy, base)) for spec in named])


def nested(label_sets: list[tuple[str, LabelSet]]) -> Levels:
    """The levels of `label_sets` (spec, label set), coarse to fine; a level that keeps other classes than
    the first, or a label whose classes lie under two labels of the level before, is an error naming a class."""
    first_spec, first = label_sets[0]
    kept = {row.wnid: row for row in first.kept}
    for i, (spec, labels) in enumerate(label_sets[1:], start=1):
        here = {row.wnid: row for row in labels.kept}
        if here.keys() != kept.keys():
            odd = min(here.keys() ^ kept.keys())
            row = here.get(odd) or kept[odd]
            raise BadRecipe(f"Level {i} ({spec}) labels {len(here)} classes and level 0 ({first_spec}) {len(kept)}: "
                            f"every level must label the same classes, and {odd} {row.name} is in one only.")
    for i in range(1, len(label_sets)):
        check_nests(label_sets[i - 1], label_sets[i], i)
    return Levels(tuple(Level(spec, kept_only(labels), labels_hash(labels)) for spec, labels in label_sets))


def check_nests(coarse: tuple[str, LabelSet], fine: tuple[str, LabelSet], level: int) -> None:
    (coarse_spec, coarse_labels), (fine_spec, fine_labels) = coarse, fine
    coarse_of = {row.wnid: f"{row.label_wnid} {row.label_name}" for row in coarse_labels.kept}
    first: dict[str, LabelRow] = {}  # fine label -> its first class, in wnid order
    for row in fine_labels.kept:
        seen = first.setdefault(row.label_wnid, row)
        if coarse_of[seen.wnid] != coarse_of[row.wnid]:
            raise BadRecipe(
                f"Level {level} ({fine_spec}) does not nest in level {level - 1} ({coarse_spec}): its label "
                f"{row.label_wnid} {row.label_name} holds {seen.wnid} {seen.name}, under {coarse_of[seen.wnid]} at "
                f"level {level - 1}, and {row.wnid} {row.name}, under {coarse_of[row.wnid]}.")


def kept_only(labels: LabelSet) -> LabelSet:
    """`labels` without the classes it removes (a level's rows are the classes every level labels)."""
    if len(labels.kept) == len(labels.rows):
        return labels
    return LabelSet(tuple(labels.kept), labels.recipe, labels.params, labels.tree_rule, labels.base_name,
                    labels.base_hash, labels.source, labels.wordnet_version, labels.label_order)


# --- on disk -------------------------------------------------------------------------------------------------


def levels_kind(count: int) -> FileKind:
    """The file kind of a hierarchy of `count` levels: its columns depend on the count."""
    fields = [pa.field("wnid", pa.string(), nullable=False), pa.field("name", pa.string(), nullable=False)]
    for i in range(count):
        fields += [pa.field(f"label_{i}", pa.int32(), nullable=False), pa.field(f"label_wnid_{i}", pa.string()),
                   pa.field(f"label_name_{i}", pa.string())]
    return FileKind(KIND, pa.schema(fields), "wnid")


def levels_table(levels: Levels) -> pa.Table:
    wnids = [row.wnid for row in levels.classes]
    columns = {"wnid": wnids, "name": [row.name for row in levels.classes]}
    for i, level in enumerate(levels.levels):
        by_wnid = {row.wnid: row for row in level.labels.kept}
        rows = [by_wnid[wnid] for wnid in wnids]
        index = level.labels.label_index
        columns[f"label_{i}"] = [index[row.label_wnid] for row in rows]
        columns[f"label_wnid_{i}"] = [row.label_wnid for row in rows]
        columns[f"label_name_{i}"] = [row.label_name for row in rows]
    return pa.table(columns, schema=levels_kind(len(levels.levels)).schema)


def level_records(levels: Levels) -> list[dict]:
    """What the metadata says of each level, parent table included."""
    records = []
    for i, level in enumerate(levels.levels):
        labels = level.labels
        records.append({"spec": level.spec, "recipe": labels.recipe, "params": labels.params,
                        "tree_rule": labels.tree_rule, "base": labels.base_name, "source": labels.source,
                        "labels_hash": level.labels_hash, "label_count": labels.label_count,
                        "label_order": "recipe" if labels.label_order else "wnid",
                        "parents": levels.parents(i) if i else None})
    return records


def write_levels(levels: Levels, path: Path) -> str:
    """Write a level manifest; return its content hash."""
    first = levels.levels[0].labels
    metadata = {"level_count": str(len(levels.levels)), "levels": json.dumps(level_records(levels), sort_keys=True),
                "wordnet_version": first.wordnet_version, "base": first.base_name}
    return write_table(levels_table(levels), path, levels_kind(len(levels.levels)), metadata)


def read_levels(path: Path) -> tuple[Levels, dict[str, str]]:
    """A level manifest, checked (its parent table is its rows'); and its curate metadata."""
    path = Path(path)
    try:
        raw = pq.read_schema(path).metadata or {}
        count = int(raw.get((PREFIX + "level_count").encode(), b"0"))
    except (pa.ArrowInvalid, OSError, ValueError):
        count = 0
    table, meta = read_table(path, levels_kind(max(count, 1)))  # the reader's sentences for a file that is no such file
    try:
        records = json.loads(meta["levels"])
    except (KeyError, ValueError):
        records = None
    if count < 2 or not isinstance(records, list) or len(records) != count:
        raise BadManifest(f"{path} is a level manifest without a readable `levels` record in its metadata.")
    columns = table.to_pydict()
    levels = Levels(tuple(level_of(columns, i, record, path) for i, record in enumerate(records)))
    for i, record in enumerate(records[1:], start=1):
        if record.get("parents") != levels.parents(i):
            raise BadManifest(f"{path} has a parent table that is not its rows' (level {i}).")
    return levels, meta


def level_of(columns: dict[str, list], i: int, record: dict, path: Path) -> Level:
    """Level `i` of a level manifest's columns, with its metadata record; its labels checked dense."""
    level = {"label": columns[f"label_{i}"], "label_wnid": columns[f"label_wnid_{i}"]}
    rows = tuple(LabelRow(w, n, lw, ln) for w, n, lw, ln in
                 zip(columns["wnid"], columns["name"], columns[f"label_wnid_{i}"], columns[f"label_name_{i}"]))
    labels = LabelSet(rows, record.get("recipe", ""), record.get("params", {}), record.get("tree_rule"),
                      record.get("base", ""), "", record.get("source", ""),
                      label_order=recipe_order(level) if record.get("label_order") == "recipe" else ())
    label_of = labels.label_index
    if None in level["label_wnid"] or level["label"] != [label_of[wnid] for wnid in level["label_wnid"]]:
        raise BadManifest(f"{path} has labels at level {i} that are not dense and in label order.")
    return Level(record.get("spec", ""), labels, record.get("labels_hash", ""))


# --- as text -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelRow:
    """A level as `curate levels` lists it."""

    level: int
    labels: int
    classes: int
    spec: str
    recipe: str


def level_rows(levels: Levels) -> list[LevelRow]:
    return [LevelRow(i, level.labels.label_count, len(level.labels.kept), level.spec, level.labels.describe())
            for i, level in enumerate(levels.levels)]


def levels_lines(levels: Levels) -> list[str]:
    """The level manifest as sorted text, one line per class with its label at each level, coarse to fine
    (`curate show`, the git textconv)."""
    header = [f"# levels: {len(levels.levels)} over {len(levels.classes)} classes, coarse to fine"]
    header += [f"# level {row.level}: {row.spec} ({row.recipe}), {row.labels} labels" for row in level_rows(levels)]
    by_level = [{row.wnid: row for row in level.labels.kept} for level in levels.levels]
    lines = []
    for row in levels.classes:
        path = " > ".join(f"{rows[row.wnid].label_wnid} {rows[row.wnid].label_name}" for rows in by_level)
        lines.append(f"{row.wnid}  {row.name}  ->  {path}")
    return header + lines


def levels_record(levels: Levels, meta: dict[str, str]) -> dict:
    """Everything a level manifest holds (`curate show --json`): its levels, parent tables and classes."""
    ancestors = levels.ancestors()
    finest = levels.levels[-1].labels.label_index
    return {"content_hash": meta.get("content_hash"), "levels": level_records(levels),
            "classes": [{"wnid": row.wnid, "name": row.name,
                         "labels": [chain[finest[row.label_wnid]] for chain in ancestors]} for row in levels.classes]}


def levels_diff_lines(old: Levels, new: Levels) -> list[str]:
    """What changed from `old` to `new`, level by level (`textform.diff_lines` of each level both have)."""
    from curate.labels.textform import diff_lines

    lines = [f"levels: {len(old.levels)} → {len(new.levels)}"]
    for i, (before, after) in enumerate(zip(old.levels, new.levels)):
        lines += [f"## level {i}: {before.spec} → {after.spec}", *diff_lines(before.labels, after.labels)]
    return lines
