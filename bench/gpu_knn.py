"""k-NN at ImageNet size on a GPU: a 1.28 M x 2048 fp32 memory bank (10.5 GB) and 50 k queries, as
`evaluate --knn-labels` scores a ResNet-50 on ImageNet (train/knn.py, the same code as on the CPU).

    python bench/gpu_knn.py --out knn.json                           # one GPU: the bank whole on it
    torchrun --nproc-per-node 8 bench/gpu_knn.py --out knn.json      # the bank sharded over 8 GPUs
    python bench/gpu_knn.py --device cpu --quick                     # a dry run of the same code on a CPU

Synthetic features (1000 noisy class centres) are made on the device; the time is from each rank's shard
of features to the top-1, after a warm-up on a slice; peak memory is torch.cuda.max_memory_allocated.
Needs torch only (and curate's train/knn.py).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
import torch.distributed as dist

from train.knn import knn_top1


def features(count: int, dim: int, classes: int, rank: int, world: int, device: torch.device):
    """This rank's share (rows rank, rank + world, ...) of `count` noisy features of `classes` centres."""
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(0)).to(device)
    labels = torch.randint(0, classes, (count,), generator=torch.Generator().manual_seed(count))[rank::world].to(device)
    noise = torch.Generator(device=device).manual_seed(rank + count)
    out = torch.empty(len(labels), dim, device=device)
    for start in range(0, len(labels), 65536):
        block = labels[start : start + 65536]
        out[start : start + 65536] = centres[block] + 8.0 * torch.randn(len(block), dim, device=device, generator=noise)
    return out, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", type=int, default=1_281_167)
    parser.add_argument("--queries", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="a small case, to check the script on a CPU")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.quick:
        args.bank, args.queries, args.dim, args.classes = 20_000, 1_000, 256, 100
    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if args.device == "cuda" else "cpu")
    if world > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    bank, bank_labels = features(args.bank, args.dim, args.classes, rank, world, device)
    queries, query_labels = features(args.queries, args.dim, args.classes, rank, world, device)
    knn_top1(bank, bank_labels, queries[:256], query_labels[:256])  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    top1 = knn_top1(bank, bank_labels, queries, query_labels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    result = {"bank": args.bank, "queries": args.queries, "dim": args.dim, "world_size": world, "device":
              torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "seconds": seconds,
              "queries_per_s": args.queries / seconds, "bank_gib_per_rank": bank.numel() * 4 / 2**30,
              "peak_gib_per_rank": peak, "top1": top1}
    if rank == 0:
        print(json.dumps(result, indent=2))
        if args.out:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=2)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
