"""The one distributed set-up: read RANK / LOCAL_RANK / WORLD_SIZE once, pick the device, print on rank 0."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from train.errors import TrainError


@dataclass(frozen=True)
class Dist:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def device_ids(self) -> list[int] | None:
        """What DistributedDataParallel is told: this rank's GPU, or None on the CPU."""
        return [self.local_rank] if self.device.type == "cuda" else None


STATE = {"rank": 0}


def setup(device: str = "auto") -> Dist:
    """Start the process group when launched by torchrun (WORLD_SIZE > 1); return rank, size and device.

    `device` is "auto" (CUDA when present), "cpu" or "cuda". NCCL on CUDA, gloo on CPU.
    """
    rank = int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainError("`device` cuda was asked for, but this torch sees no CUDA device: use `device` cpu.")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local_rank)
        chosen = torch.device("cuda", local_rank)
    else:
        chosen = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
    STATE["rank"] = rank
    return Dist(rank, local_rank, world_size, chosen)


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def print0(*args, **kwargs) -> None:
    """print on rank 0 only, to stderr (stdout carries data)."""
    if STATE["rank"] == 0:
        print(*args, file=sys.stderr, flush=True, **kwargs)


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum numbers across ranks (identity when not distributed)."""
    if not dist.is_initialized():
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def broadcast_buffers(model: nn.Module) -> None:
    """Give every rank rank 0's buffers (batch-norm running statistics). DDP broadcasts them before each
    training forward, so after an epoch's last step each rank holds statistics its own batch updated, and
    an evaluation outside DDP would score each rank's shard with a different network."""
    if dist.is_initialized():
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def all_reduce_max(value: int, device: torch.device) -> int:
    """The largest of the ranks' integers (identity when not distributed)."""
    if not dist.is_initialized():
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())


def all_gather_cat(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor of any first-dimension length across ranks, in rank order, on its device (under
    NCCL a GPU tensor: one all_gather of tensors padded to the longest shard, nothing pickled)."""
    if not dist.is_initialized():
        return tensor
    world = dist.get_world_size()
    lengths = [torch.zeros(1, dtype=torch.int64, device=tensor.device) for _ in range(world)]
    dist.all_gather(lengths, torch.tensor([len(tensor)], dtype=torch.int64, device=tensor.device))
    lengths = [int(n.item()) for n in lengths]
    padded = tensor.new_zeros((max(lengths), *tensor.shape[1:]))
    padded[: len(tensor)] = tensor
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:n] for part, n in zip(parts, lengths)])


def all_gather_list(items: list) -> list:
    """Join the lists of picklable items of every rank, in rank order."""
    if not dist.is_initialized():
        return items
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, items)
    return [item for part in parts for item in part]
