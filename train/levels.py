"""One head per level (`pretrain --hierarchy`): a level manifest (`curate levels`) as training reads it, and the
loss of the heads.

The network's last linear layer has one block of outputs per level, coarse to fine: each block is a linear head
on the shared features, with its own softmax (ImageNet-21K-P's semantic softmax, Ridnik et al. 2021). The
finest level is the image table's label set (checked by its content hash), so an image's finest label is its
table label and its label at every coarser level follows from the parent table. The loss is the sum of the
levels' cross-entropies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from curate.errors import CurateError
from train.errors import TrainError


@dataclass(frozen=True)
class LevelTree:
    """The levels a network learns at once, coarse to fine."""

    ancestors: tuple[tuple[int, ...], ...]  # per level: the label at that level of each finest label, by label id
    label_counts: tuple[int, ...]
    specs: tuple[str, ...]
    content_hash: str  # of the level manifest
    source: str

    @classmethod
    def read(cls, path: Path, labels_hash: str, labels_source: str) -> LevelTree:
        """The level manifest at `path`, whose finest level must be the label set (`labels_hash`) of the table
        `labels_source`."""
        from curate.labels.levels import read_levels

        try:
            levels, meta = read_levels(Path(path))
        except CurateError as error:
            raise TrainError(f"`hierarchy`: {error}") from None
        finest = levels.levels[-1]
        if finest.labels_hash != labels_hash:
            raise TrainError(f"`hierarchy` {path} ends in the label set {finest.spec} ({finest.labels_hash[:19]}), not in "
                             f"the one of {labels_source} ({labels_hash[:19]}): label the images with the finest level's "
                             "manifest.")
        return cls(tuple(map(tuple, levels.ancestors())), tuple(level.labels.label_count for level in levels.levels),
                   tuple(level.spec for level in levels.levels), meta["content_hash"], str(path))

    def record(self) -> dict:
        """What a checkpoint holds of it: enough for `evaluate` to score every level without the file."""
        return {"ancestors": [list(a) for a in self.ancestors], "label_counts": list(self.label_counts),
                "specs": list(self.specs), "content_hash": self.content_hash, "source": self.source}

    @classmethod
    def of_record(cls, record: dict) -> LevelTree:
        return cls(tuple(map(tuple, record["ancestors"])), tuple(record["label_counts"]), tuple(record["specs"]),
                   record["content_hash"], record["source"])

    @property
    def outputs(self) -> int:
        """The network's outputs: every level's labels."""
        return sum(self.label_counts)

    @property
    def finest(self) -> slice:
        """The finest level's outputs."""
        return slice(self.outputs - self.label_counts[-1], self.outputs)

    def split(self, logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Each level's logits, coarse to fine."""
        return logits.split(self.label_counts, dim=1)

    def ancestor_table(self, device: torch.device) -> torch.Tensor:
        """(levels, finest labels) int64: `ancestors` as a tensor."""
        return torch.tensor(self.ancestors, dtype=torch.int64, device=device)


class LevelLoss(nn.Module):
    """The sum over levels of each head's cross-entropy against the image's label at that level."""

    def __init__(self, tree: LevelTree, label_smoothing: float = 0.0):
        super().__init__()
        self.tree = tree
        self.label_smoothing = label_smoothing
        self.register_buffer("ancestors", tree.ancestor_table(torch.device("cpu")), persistent=False)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        return sum(F.cross_entropy(part, level[targets], label_smoothing=self.label_smoothing, reduction=reduction)
                   for part, level in zip(self.tree.split(logits), self.ancestors))
