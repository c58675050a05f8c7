"""k-NN evaluation under DDP: the sharded bank (train/knn.py) against the code it replaced, in the same run.

The baseline is evaluate's k-NN before issue 16: features gathered with all_gather_object (pickled), every
rank holding the whole bank, every rank computing every query's similarities on the CPU. Both run on 2
gloo processes on this CPU over the same synthetic features (a bank of --bank images, --queries queries,
--dim features, --classes labels); each is timed from the ranks' shards of features to the top-1, and its
peak resident memory is read per rank (each method in fresh processes, since a peak only rises).

    uv run --extra train python bench/bench_knn.py --bank 200000 --queries 10000 --dim 512
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from train.knn import knn_top1


def baseline_top1(bank, bank_labels, queries, query_labels, k=20, temperature=0.07, chunk=1024) -> float:
    """evaluate's k-NN as it was: gather everything everywhere, then score every query on every rank."""
    def gather(tensor):
        parts = [None] * dist.get_world_size()
        dist.all_gather_object(parts, tensor.cpu())
        return torch.cat(parts)

    bank, bank_labels, queries, query_labels = (gather(t) for t in (bank, bank_labels, queries, query_labels))
    train, test = F.normalize(bank.float(), dim=1), F.normalize(queries.float(), dim=1)
    classes = int(max(bank_labels.max(), query_labels.max())) + 1
    correct = 0
    for start in range(0, len(test), chunk):
        values, indices = (test[start : start + chunk] @ train.T).topk(min(k, len(train)), dim=1)
        votes = torch.zeros(len(values), classes)
        votes.scatter_add_(1, bank_labels[indices], (values / temperature).exp())
        correct += int((votes.argmax(dim=1) == query_labels[start : start + chunk]).sum())
    return correct / len(test)


METHODS = {"baseline (all_gather_object, whole bank on every rank)": baseline_top1, "sharded bank (train/knn.py)": knn_top1}


def shard(args, rank: int, world: int):
    """This rank's share of the synthetic features: rows rank, rank + world, ... of bank and queries, made
    a block at a time so that making them peaks no higher than holding them."""
    centres = torch.randn(args.classes, args.dim, generator=torch.Generator().manual_seed(0))
    out = []
    for count in (args.bank, args.queries):
        labels = torch.randint(0, args.classes, (count,), generator=torch.Generator().manual_seed(count))[rank::world]
        noise = torch.Generator().manual_seed(rank + count)
        features = torch.empty(len(labels), args.dim)
        for start in range(0, len(labels), 4096):
            block = labels[start : start + 4096]
            features[start : start + 4096] = centres[block] + 6.0 * torch.randn(len(block), args.dim, generator=noise)
        out += [features, labels]
    return out


def worker(rank: int, port: int, method: str, args, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    data = shard(args, rank, 2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dist.barrier()
    started = time.perf_counter()
    top1 = METHODS[method](*data, k=20)
    dist.barrier()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(f"{out}.{rank}").write_text(json.dumps({"seconds": seconds, "top1": top1, "peak_mib": peak / 1024,
                                                 "added_mib": (peak - before) / 1024}))
    dist.destroy_process_group()


def measure(method: str, args) -> list[dict]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(worker, args=(port, method, args, f"{folder}/r"), nprocs=2)
        return [json.loads(Path(f"{folder}/r.{rank}").read_text()) for rank in (0, 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    bank_mib = args.bank * args.dim * 4 / 2**20
    print(f"k-NN, 2 gloo processes of 1 thread: bank {args.bank} x {args.dim} fp32 ({bank_mib:.0f} MiB), "
          f"{args.queries} queries, {args.classes} classes, k=20")
    speeds = {}
    for method in METHODS:
        runs = [measure(method, args) for _ in range(args.repeats)]
        seconds = [max(r["seconds"] for r in ranks) for ranks in runs]
        speeds[method] = args.queries / statistics.median(seconds)
        memory = [max(r["added_mib"] for r in ranks) for ranks in runs]
        print(f"  {method:55s} {speeds[method]:9.0f} queries/s  (median of {args.repeats}; "
              f"min {args.queries / max(seconds):.0f}, max {args.queries / min(seconds):.0f})  "
              f"peak memory added per rank {statistics.median(memory):6.0f} MiB  top-1 {runs[0][0]['top1']:.4f}")
    sharded, baseline = (speeds[m] for m in reversed(list(METHODS)))
    print(f"  ratio sharded / baseline = {sharded / baseline:.2f}x queries/s")


if __name__ == "__main__":
    main()
