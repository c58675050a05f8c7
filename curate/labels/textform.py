"""The text forms of a label manifest: `curate show` (also the git textconv), the committed sidecar, and
`curate diff`."""

from __future__ import annotations

from dataclasses import dataclass
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
    why = f"  ({row.reason})" if row.reason else ""  # e.g. a BREEDS class's part, source or target
    return f"{row.wnid}  {row.name}{KEPT}{row.label_wnid}  {row.label_name}{why}"


def kept_in_text_form(text: str) -> list[str] | None:
    """The classes a manifest's text form keeps (its removed classes left out), or None when `text` is not
    one."""
    if not text.startswith(FIRST):
        return None
    return [line.split(None, 1)[0] for line in text.splitlines() if not line.startswith("#") and KEPT in line]


@dataclass(frozen=True)
class ClassChange:
    """A class whose label differs between two manifests; a side is None where that manifest lacks the class."""

    wnid: str
    name: str
    before: dict | None  # label (id), label_wnid, label_name, reason (why it was removed or added)
    after: dict | None


@dataclass(frozen=True)
class LabelsDiff:
    """What changed from one manifest to another (`curate diff`)."""

    before: str  # the recipe: "down-up depth=3"
    after: str
    label_count_before: int
    label_count_after: int
    changed: list[ClassChange]  # in wnid order
    labels_created: list[dict]  # label_wnid, label_name
    labels_dropped: list[dict]


def class_state(row: LabelRow | None, labels: LabelSet) -> dict | None:
    if row is None:
        return None
    return {"label": labels.label_index.get(row.label_wnid), "label_wnid": row.label_wnid,
            "label_name": row.label_name, "reason": row.reason}


def diff_labels(old: LabelSet, new: LabelSet) -> LabelsDiff:
    """The classes that changed label from `old` to `new`, and the labels created and dropped."""
    before = {row.wnid: row for row in old.rows}
    after = {row.wnid: row for row in new.rows}
    changed = []
    for wnid in sorted(before.keys() | after.keys()):
        a, b = before.get(wnid), after.get(wnid)
        if (a and a.label_wnid) != (b and b.label_wnid) or (a is None) != (b is None):
            changed.append(ClassChange(wnid, (b or a).name, class_state(a, old), class_state(b, new)))
    names = {row.label_wnid: row.label_name for row in old.rows + new.rows if row.label_wnid}
    created = sorted(set(new.label_wnids) - set(old.label_wnids))
    dropped = sorted(set(old.label_wnids) - set(new.label_wnids))
    return LabelsDiff(old.describe(), new.describe(), old.label_count, new.label_count, changed,
                      [{"label_wnid": wnid, "label_name": names[wnid]} for wnid in created],
                      [{"label_wnid": wnid, "label_name": names[wnid]} for wnid in dropped])


def label_text(state: dict | None, shared: set[str]) -> str:
    """A class's label by name; with its wnid where the name is `shared` by labels (depth 3 has two
    "substance")."""
    if state is None:
        return "(absent)"
    if state["label_wnid"] is None:
        return f"({state['reason']})"
    if not state["label_name"]:
        return state["label_wnid"]
    return f"{state['label_name']} ({state['label_wnid']})" if state["label_name"] in shared else state["label_name"]


def shared_names(rows) -> set[str]:
    """The label names that more than one label wnid carries."""
    wnids: dict[str, set[str]] = {}
    for row in rows:
        if row.label_wnid is not None:
            wnids.setdefault(row.label_name, set()).add(row.label_wnid)
    return {name for name, labels in wnids.items() if len(labels) > 1}


def diff_lines(old: LabelSet, new: LabelSet) -> list[str]:
    """What changed from `old` to `new` as text: moved classes (from -> to), labels created and dropped, counts."""
    diff = diff_labels(old, new)
    shared = shared_names(old.rows + new.rows)
    lines = [f"--- {diff.before} ({diff.label_count_before} labels)", f"+++ {diff.after} ({diff.label_count_after} labels)"]
    lines += [f"{c.wnid} {c.name}: {label_text(c.before, shared)} → {label_text(c.after, shared)}" for c in diff.changed]
    lines += [f"label created: {label['label_wnid']} {label['label_name']}" for label in diff.labels_created]
    lines += [f"label dropped: {label['label_wnid']} {label['label_name']}" for label in diff.labels_dropped]
    lines.append(
        f"{len(diff.changed)} classes changed label; {len(diff.labels_created)} labels created, "
        f"{len(diff.labels_dropped)} dropped; labels {diff.label_count_before} → {diff.label_count_after}"
    )
    return lines
