"""Metrics: top-k counts, the multi-label loss, k-NN classification. (VOC average precision: `voc_eval.py`.)"""

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


def knn_top1(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
             test_labels: torch.Tensor, k: int = 20, temperature: float = 0.07, chunk: int = 1024) -> float:
    """Weighted k-NN top-1 (Wu et al. 2018): cosine neighbours vote with weight exp(similarity / T)."""
    train = F.normalize(train_features.float(), dim=1)
    test = F.normalize(test_features.float(), dim=1)
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    k = min(k, len(train))
    correct = 0
    for start in range(0, len(test), chunk):
        similarity = test[start : start + chunk] @ train.T
        values, indices = similarity.topk(k, dim=1)
        votes = torch.zeros(len(values), classes)
        votes.scatter_add_(1, train_labels[indices], (values / temperature).exp())
        correct += int((votes.argmax(dim=1) == test_labels[start : start + chunk]).sum())
    return correct / len(test)
