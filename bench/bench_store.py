"""Decode once, train many: training input from packed stores against torchvision's ImageFolder + DataLoader
on the original JPEGs, in the same run, on the same images.

    .venv/bin/python bench/bench_store.py [--images 512] [--crop 64] [-b 64] [-j 2] [--repeats 5]

1. Draws `--images` JPEGs of ImageNet-like size (500x375, quality 90), indexes them with curate and packs
   them three ways: a JPEG store at short side 160 (quality 90) and raw stores at 64 and 112 px. Packing is
   timed end to end (images per second with -j processes, their start-up included) and per core (one image's
   decode, resize and encode, in this process).
2. Five pipelines make the same batches (batch size, random-resized crop of --crop px, flip, normalised,
   on the CPU here; each store also without the normalisation, as a GPU run would get it): baseline = torchvision ImageFolder with PIL, ToTensor, Normalize in the workers (the
   torchvision reference); train/ on the originals; train/ on the JPEG store (decoded in the workers); and
   the raw stores read in batches and cropped on the "device" (the CPU here; counted). One warm-up pass
   each, then --repeats passes interleaved; median images per wall-clock second and per CPU-second (all
   processes: what a GPU machine's cores buy), and the ratios against the baseline. This process runs one
   intra-op thread, as DataLoader's workers do.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_train import baseline_loader, curate_table, make_jpegs
from common import interleaved_passes, timed_runs

warnings.filterwarnings("ignore", category=DeprecationWarning)

STORES = [("jpeg", 160), ("raw", 64), ("raw", 112)]


def pack_all(root: Path, workers: int) -> dict[str, Path]:
    """Pack the index three ways; print each pack's throughput: end to end with `workers` processes (their
    start-up included), and per core, the decode + resize + encode of one image timed in this process."""
    from curate.images.index import ImageIndex
    from curate.images.pack import pack, shrink
    from curate.images.rows import pillow, read_image_bytes
    from curate.labels.manifest import read_labels

    index = ImageIndex.read(root / "index.parquet")
    sources = [read_image_bytes(index.root, row["path"], None, None, None) for row in index.rows.slice(0, 64).to_pylist()]
    tables = {}
    print("packing:")
    for fmt, size in STORES:
        start = time.perf_counter()
        store, report = pack(index, root / f"{fmt}{size}", fmt=fmt, size=size, workers=workers)
        wall = time.perf_counter() - start
        per_core = timed_runs(lambda: [encoded(shrink(pillow(), data, fmt, size), fmt) for data in sources], repeat=3)
        disk = sum(p.stat().st_size for p in (root / f"{fmt}{size}").rglob("*") if p.is_file()) / len(store.index)
        print(f"  {fmt} {size:3d} px: {len(store.index) / wall:6.1f} images/s end to end with {workers} processes; "
              f"{len(sources) / statistics.median(per_core):6.1f} images/s per core; {disk / 1024:5.1f} KB per image on disk")
        store.index.label(read_labels(root / "labels.parquet")).write(root / f"{fmt}{size}-table.parquet")
        tables[f"{fmt}{size}"] = root / f"{fmt}{size}-table.parquet"
    return tables


def encoded(image, fmt: str):
    """What the packer writes of an image: JPEG bytes, or its pixels."""
    if fmt == "raw":
        return np.asarray(image)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def loaders(root: Path, tables: dict[str, Path], args):
    from train.config import PretrainConfig
    from train.data.loaders import to_device
    from train.data.tables import image_loader, load_table
    from train.distributed import Dist

    device = torch.device("cpu")
    run = Dist(0, 0, 1, device)
    config = PretrainConfig(batch_size=args.batch_size, workers=args.workers, train_crop_size=args.crop, min_scale=0.08)
    normalise = lambda x: to_device(x, device)  # noqa: E731 - counted for every train/ pipeline alike
    made = {"torchvision ImageFolder + DataLoader on the JPEGs (baseline)": (baseline_loader(root, args.batch_size, args.workers, args.crop), lambda x: x)}
    original = load_table(root / "table.parquet")
    made["train/ loader on the JPEGs"] = (image_loader(original, original.indices("train"), config, run, train=True), normalise)
    for name, path in tables.items():
        table = load_table(path)
        how = "decoded in the workers" if name.startswith("jpeg") else "read in batches, cropped on the device"
        loader = image_loader(table, table.indices("train"), config, run, train=True)
        made[f"train/ loader on the {name} store ({how})"] = (loader, normalise)
        made[f"  {name}: the batch alone (what a GPU is sent; normalised there)"] = (loader, lambda x: x)
    return made


def spread(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):8.1f} {unit}  (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("-b", "--batch-size", type=int, default=64)
    parser.add_argument("-j", "--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    # One intra-op thread here, as DataLoader gives its workers: with the workers on every core, this process's
    # OpenMP threads only spin (measured: normalising a batch costs 5 us an image alone, 220 us beside them).
    torch.set_num_threads(1)
    from train.data.loaders import set_epoch

    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        root = Path(tmp)
        make_jpegs(root, args.images)
        curate_table(root, root)
        print(f"{args.images} JPEGs, 500x375, quality 90; batch {args.batch_size}, {args.workers} workers, crop {args.crop} px, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        tables = pack_all(root, args.workers)
        runs = loaders(root, tables, args)
        wall, per_cpu = interleaved_passes(runs, args.repeats, set_epoch)
        baseline = next(iter(runs))
        for title, table, unit in (("images per wall-clock second", wall, "images/s"), ("images per CPU-second (all processes)", per_cpu, "images/CPU-s")):
            print(f"\n{title}:")
            base = statistics.median(table[baseline])
            for name, values in table.items():
                print(f"  {name:72s} {spread(values, unit)}  {statistics.median(values) / base:5.2f}x")


if __name__ == "__main__":
    main()
