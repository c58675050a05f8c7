"""Weighted k-NN classification (Wu et al. 2018) over a memory bank sharded across ranks.

Each rank keeps its own shard of the bank (the features of its share of the memory images) on its device;
no rank holds the whole bank. The queries are gathered on every rank; each rank finds, a chunk of queries
at a time, the k most similar images of its shard; the ranks' candidates are gathered and merged into the k
nearest of the whole bank, which vote with weight exp(similarity / T), as DINO's k-NN evaluation does.
Without a process group the one shard is the whole bank: the same code gives the single-process answer.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F

from train.distributed import all_gather_cat, all_reduce_max, all_reduce_sum

# Similarities computed at once: a tile of the bank times a chunk of queries (2**25 fp32 is 128 MiB).
CHUNK_ELEMENTS = 2**25


def knn_predict(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, k: int = 20,
                temperature: float = 0.07, chunk_elements: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """The predicted label of every query of every rank (in rank order, the order `all_gather_cat` gives),
    from this rank's shard `bank` (features, one row an image) with `bank_labels`, and its `queries`."""
    bank = F.normalize(bank.float(), dim=1)
    queries = F.normalize(all_gather_cat(queries.float()), dim=1)
    k = min(k, int(all_reduce_sum([len(bank)], bank.device)[0]))
    classes = all_reduce_max(int(bank_labels.max()) + 1 if len(bank_labels) else 0, bank.device)
    values, labels = nearest(queries, bank, bank_labels, k, chunk_elements)
    rows = max(1, chunk_elements // max(k * classes, 1))  # the one-hot votes of a chunk stay within chunk_elements
    predictions = []
    for start in range(0, len(queries), rows):  # the same chunks on every rank: each is a collective
        chunk = slice(start, start + rows)
        best, voters = merge(all_gather_candidates(values[chunk]), all_gather_candidates(labels[chunk]), k)
        weights = (best / temperature).exp()
        # One-hot sums rather than scatter_add: a sum in a fixed order, the same on every device.
        votes = (weights.unsqueeze(2) * F.one_hot(voters, classes).to(weights.dtype)).sum(dim=1)
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions) if predictions else torch.zeros(0, dtype=torch.int64, device=bank.device)


def knn_top1(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, query_labels: torch.Tensor,
             k: int = 20, temperature: float = 0.07, chunk_elements: int = CHUNK_ELEMENTS) -> float:
    """The fraction of all ranks' queries whose k-NN prediction is their label."""
    predicted = knn_predict(bank, bank_labels, queries, k, temperature, chunk_elements)
    truth = all_gather_cat(query_labels.to(predicted.device))
    return float((predicted == truth).double().mean()) if len(truth) else 0.0


def nearest(queries: torch.Tensor, bank: torch.Tensor, labels: torch.Tensor, k: int,
            chunk_elements: int = CHUNK_ELEMENTS) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest cosine similarities of each query in this shard, and their labels; a shard with fewer
    than k images pads with -inf, which no merge keeps while the whole bank has k.

    The bank is read once: tile by tile (a square tile of similarities is the fewest bytes read for its
    size), each tile against every query a chunk at a time, the best k so far kept per query. A chunk of a
    few queries against the whole bank would read all of it again for every chunk (a 1.28 M x 2048 bank:
    10.5 GB each time)."""
    tile = max(1, min(len(bank), math.isqrt(chunk_elements)))
    rows = max(1, chunk_elements // tile)
    values = torch.full((len(queries), k), float("-inf"), device=queries.device)
    indices = torch.zeros((len(queries), k), dtype=torch.int64, device=queries.device)
    for first in range(0, len(bank), tile):
        part = bank[first : first + tile]
        for start in range(0, len(queries), rows):
            found, where = (queries[start : start + rows] @ part.T).topk(min(k, len(part)), dim=1)
            kept, picked = torch.cat([values[start : start + rows], found], dim=1).topk(k, dim=1)
            indices[start : start + rows] = torch.cat([indices[start : start + rows], where + first], dim=1).gather(1, picked)
            values[start : start + rows] = kept
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

