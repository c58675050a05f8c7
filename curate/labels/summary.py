"""A label set as data for people and programs: its labels with their sizes (the summary `coarsen` prints),
and the whole manifest as one JSON-ready record (`curate show --json`)."""

from __future__ import annotations

from dataclasses import dataclass

from curate.labels.labelset import LabelSet
from curate.wording import plural

EXAMPLES = 3  # member names a summary row shows


@dataclass(frozen=True)
class LabelCount:
    label: int
    label_wnid: str
    name: str
    classes: int
    for_example: str  # the first member names, in wnid order


@dataclass(frozen=True)
class Summary:
    title: str  # "9 labels over 1000 classes: down-up depth=3, tree first-name"
    recipe: str
    params: dict
    tree_rule: str | None
    classes: int  # kept
    removed: int
    labels: list[LabelCount]  # largest first, ties in wnid order


def summarize(labels: LabelSet) -> Summary:
    groups = labels.members()
    index = labels.label_index
    rows = [
        LabelCount(index[wnid], wnid, members[0].label_name, len(members), ", ".join(r.name for r in members[:EXAMPLES]))
        for wnid, members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    ]
    title = f"{plural(len(groups), 'label')} over {plural(len(labels.kept), 'class')}: {labels.describe()}" + (
        f", tree {labels.tree_rule}" if labels.tree_rule else "")
    return Summary(title, labels.recipe, labels.params, labels.tree_rule, len(labels.kept),
                   len(labels.rows) - len(labels.kept), rows)


def manifest_record(labels: LabelSet) -> dict:
    """Everything a manifest holds: how it was made, and one entry per source class with its label id."""
    index = labels.label_index
    return {
        "recipe": labels.recipe,
        "params": labels.params,
        "tree_rule": labels.tree_rule,
        "wordnet_version": labels.wordnet_version,
        "base": labels.base_name,
        "base_hash": labels.base_hash,
        "source": labels.source,
        "label_count": labels.label_count,
        "classes": [
            {"wnid": row.wnid, "name": row.name, "label": index.get(row.label_wnid), "label_wnid": row.label_wnid,
             "label_name": row.label_name, "reason": row.reason}
            for row in labels.rows
        ],
    }
