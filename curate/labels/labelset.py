"""LabelSet: which source classes a recipe keeps, under which label, and how it was made."""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.wordnet.snapshot import WORDNET_VERSION


@dataclass(frozen=True)
class LabelRow:
    wnid: str
    name: str
    label_wnid: str | None  # None: the recipe removed the class
    label_name: str | None
    reason: str | None = None  # why a recipe removed or added the class, e.g. "removed: under n02084071 dog"


@dataclass(frozen=True)
class LabelSet:
    rows: tuple[LabelRow, ...]
    recipe: str
    params: dict = field(default_factory=dict)
    tree_rule: str | None = None
    base_name: str = ""
    base_hash: str = ""
    source: str = ""  # where the recipe comes from, or that it is curate's own
    wordnet_version: str = WORDNET_VERSION
    label_order: tuple[str, ...] = ()  # the label wnids in label order, where a recipe sets it; else wnid order
    note: str = field(default="", compare=False)  # what a user should know of how the set came out; not stored

    def __post_init__(self):
        object.__setattr__(self, "rows", tuple(sorted(self.rows, key=lambda row: row.wnid)))
        if self.label_order and sorted(self.label_order) != sorted({row.label_wnid for row in self.kept}):
            raise ValueError("label_order must hold each label wnid once")

    @property
    def label_wnids(self) -> list[str]:
        """The labels in label order: the recipe's `label_order`, or else sorted wnid order."""
        return list(self.label_order) or sorted({row.label_wnid for row in self.kept})

    @property
    def label_count(self) -> int:
        return len(self.label_wnids)

    @property
    def label_index(self) -> dict[str, int]:
        """label wnid -> label id."""
        return {wnid: label for label, wnid in enumerate(self.label_wnids)}

    @property
    def kept(self) -> list[LabelRow]:
        return [row for row in self.rows if row.label_wnid is not None]

    def members(self) -> dict[str, list[LabelRow]]:
        """The kept rows of each label, labels in label order."""
        groups: dict[str, list[LabelRow]] = {wnid: [] for wnid in self.label_wnids}
        for row in self.kept:
            groups[row.label_wnid].append(row)
        return groups

    def describe(self) -> str:
        """One line: the recipe and its parameters."""
        params = " ".join(f"{key}={value}" for key, value in self.params.items())
        return f"{self.recipe} {params}".strip()
