"""Weighted k-NN classification (Wu et al. 2018) over a memory bank sharded across ranks.

Each rank keeps its own shard of the bank (the features of its share of the memory images) on its device;
no rank holds the whole bank. The queries are gathered on every rank; each rank finds, a chunk of queries
at a time, the k most similar images of its shard; the ranks' candidates are gathered and merged into the k
nearest of the whole bank, which vote with weight exp(similarity / T), as DINO's k-NN evaluation does.
Without a process group the one shard is the whole bank: the same code gives the single-process answer.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from train.distributed import all_gather_cat, all_reduce_max, all_reduce_sum

# Similarities computed at once: a chunk of queries times the shard (2**25 fp32 is 128 MiB).
CHUNK_ELEMENTS = 2**25


def knn_predict(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, k: int = 20,
                temperature: float = 0.07, chunk_elements: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """The predicted label of every query of every rank (in rank order, the order `all_gather_cat` gives),
    from this rank's shard `bank` (features, one row an image) with `bank_labels`, and its `queries`."""
    bank = F.normalize(bank.float(), dim=1)
    queries = F.normalize(all_gather_cat(queries.float()), dim=1)
    k = min(k, int(all_reduce_sum([len(bank)], bank.device)[0]))
    classes = all_reduce_max(int(bank_labels.max()) + 1 if len(bank_labels) else 0, bank.device)
    # The same chunks on every rank (each chunk is a collective), sized by the largest shard.
    rows = max(1, chunk_elements // max(all_reduce_max(len(bank), bank.device), k * classes, 1))
    predictions = []
    for start in range(0, len(queries), rows):
        values, labels = nearest(queries[start : start + rows], bank, bank_labels, k)
        values, labels = merge(all_gather_candidates(values), all_gather_candidates(labels), k)
        weights = (values / temperature).exp()
        # One-hot sums rather than scatter_add: a sum in a fixed order, the same on every device.
        votes = (weights.unsqueeze(2) * F.one_hot(labels, classes).to(weights.dtype)).sum(dim=1)
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions) if predictions else torch.zeros(0, dtype=torch.int64, device=bank.device)


def knn_top1(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, query_labels: torch.Tensor,
             k: int = 20, temperature: float = 0.07, chunk_elements: int = CHUNK_ELEMENTS) -> float:
    """The fraction of all ranks' queries whose k-NN prediction is their label."""
    predicted = knn_predict(bank, bank_labels, queries, k, temperature, chunk_elements)
    truth = all_gather_cat(query_labels.to(predicted.device))
    return float((predicted == truth).double().mean()) if len(truth) else 0.0


def nearest(queries: torch.Tensor, bank: torch.Tensor, labels: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest cosine similarities of each query in this shard, and their labels; a shard with fewer
    than k images pads with -inf, which no merge keeps while the whole bank has k."""
    values, indices = (queries @ bank.T).topk(min(k, len(bank)), dim=1)
    missing = k - values.shape[1]
    if missing:
        values = F.pad(values, (0, missing), value=float("-inf"))
        indices = F.pad(indices, (0, missing), value=0)
    return values, labels[indices] if len(labels) else torch.zeros_like(indices)


def merge(values: torch.Tensor, labels: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k best of every rank's candidates (ranks side by side along dim 1), best first."""
    values, picked = values.topk(k, dim=1)
    return values, labels.gather(1, picked)


def all_gather_candidates(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's (queries, k) candidates side by side: (queries, k * world size)."""
    if not dist.is_initialized():
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=1)

