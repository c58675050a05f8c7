"""Metrics: top-k counts, the multi-label loss, the mistake severity in a level tree. (VOC average precision: `voc_eval.py`; k-NN: `knn.py`.)"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def topk_correct(logits: torch.Tensor, targets: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> list[int]:
    """How many rows have their target among the k highest logits, for each k (k capped at the class count)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hits = top == targets.view(-1, 1)
    return [int(hits[:, :k].any(dim=1).sum()) for k in ks]


def multilabel_loss(logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy per class, with `difficult`-only entries (truth 0) left out."""
    weight = (truth != 0).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, (truth > 0).to(logits.dtype), weight=weight)


def lca_heights(predicted: torch.Tensor, truth: torch.Tensor, ancestors: torch.Tensor) -> torch.Tensor:
    """The height in the level tree of the lowest common ancestor of each predicted and true finest label
    (Bertinetto et al. 2020, "Making Better Mistakes": a mistake's severity): 0 where they are the same finest
    label, h where they first share a label h levels up, and the number of levels where they share none (their
    ancestor is the tree's root). `ancestors` (levels, finest labels), coarse to fine: each finest label's label
    at each level. The levels nest, so two labels that share a level share every coarser one."""
    shared = (ancestors[:, predicted] == ancestors[:, truth]).sum(dim=0)
    return len(ancestors) - shared
