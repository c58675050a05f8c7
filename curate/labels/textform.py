"""The text forms of a label manifest: `curate show` (also the git textconv), the committed sidecar, and
`curate diff`."""

from __future__ import annotations

from pathlib import Path

from curate.fileio import atomic_path
from curate.labels.labelset import LabelRow, LabelSet

FIRST = "# recipe: "  # how the text form of a manifest starts
KEPT, REMOVED = "  ->  ", "  -x  "  # between a class and its label, or the reason it was removed


def show_lines(labels: LabelSet) -> list[str]:
    """The manifest as sorted text, one line per source class; usable as a git textconv."""
    header = [
        f"{FIRST}{labels.describe()}",
        f"# tree rule: {labels.tree_rule or '-'}; WordNet {labels.wordnet_version}; base: {labels.base_name}",
        f"# {len(labels.kept)} of {len(labels.rows)} classes kept under {labels.label_count} labels",
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
        return f"{row.wnid}  {row.name}{REMOVED}{row.reason}"
    return f"{row.wnid}  {row.name}{KEPT}{row.label_wnid}  {row.label_name}"


def kept_in_text_form(text: str) -> list[str] | None:
    """The classes a manifest's text form keeps (its removed classes left out), or None when `text` is not
    one."""
    if not text.startswith(FIRST):
        return None
    return [line.split(None, 1)[0] for line in text.splitlines() if not line.startswith("#") and KEPT in line]


def label_text(row: LabelRow | None, shared: set[str]) -> str:
    """A class's label by name; with its wnid where the name is `shared` by labels (depth 3 has two
    "substance")."""
    if row is None:
        return "(absent)"
    if row.label_wnid is None:
        return f"({row.reason})"
    if not row.label_name:
        return row.label_wnid
    return f"{row.label_name} ({row.label_wnid})" if row.label_name in shared else row.label_name


def shared_names(rows) -> set[str]:
    """The label names that more than one label wnid carries."""
    wnids: dict[str, set[str]] = {}
    for row in rows:
        if row.label_wnid is not None:
            wnids.setdefault(row.label_name, set()).add(row.label_wnid)
    return {name for name, labels in wnids.items() if len(labels) > 1}


def diff_lines(old: LabelSet, new: LabelSet) -> list[str]:
    """What changed from `old` to `new`: moved classes (from -> to), labels created and dropped, counts."""
    before = {row.wnid: row for row in old.rows}
    after = {row.wnid: row for row in new.rows}
    shared = shared_names(old.rows + new.rows)
    moved = []
    for wnid in sorted(before.keys() | after.keys()):
        a, b = before.get(wnid), after.get(wnid)
        if (a and a.label_wnid) != (b and b.label_wnid) or (a is None) != (b is None):
            name = (b or a).name
            moved.append(f"{wnid} {name}: {label_text(a, shared)} → {label_text(b, shared)}")
    names = {row.label_wnid: row.label_name for row in old.rows + new.rows if row.label_wnid}
    created = sorted(set(new.label_wnids) - set(old.label_wnids))
    dropped = sorted(set(old.label_wnids) - set(new.label_wnids))
    lines = [f"--- {old.describe()} ({old.label_count} labels)", f"+++ {new.describe()} ({new.label_count} labels)"]
    lines += moved
    lines += [f"label created: {wnid} {names[wnid]}" for wnid in created]
    lines += [f"label dropped: {wnid} {names[wnid]}" for wnid in dropped]
    lines.append(
        f"{len(moved)} classes changed label; {len(created)} labels created, {len(dropped)} dropped; "
        f"labels {old.label_count} → {new.label_count}"
    )
    return lines
