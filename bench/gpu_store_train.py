"""Training images/s on one GPU from a packed raw store: ResNet-50 at 224 px, ResNet-18 at 160 px, AlexNet at
224 px, with bf16 autocast and channels-last (and torch.compile where asked), beside the store loader alone.

    python bench/gpu_store_train.py --out results.json                # on a GPU machine: well under 8 minutes
    python bench/gpu_store_train.py --device cpu --quick              # a dry run of the same code on a CPU

1. Draws --images JPEGs (500x375) and packs them with curate into raw stores at the training sizes (all cores).
2. For each network: the loader alone (RawBatches: mapped reads, crop and flip on the device), then training
   (forward, backward, SGD step) fed by that loader, after warm-up steps; images/s, and the TFLOP/s achieved
   (FLOPs of one training step counted by torch's FlopCounterMode) against --peak-tflops (H100/H200 SXM dense
   bf16: 989). Goals (MLPerf parity per GPU): ResNet-50 >= 7k images/s, ResNet-18 at 160 px >= 30k.
Needs torch, torchvision, pyarrow, pillow and curate's own code; not polars, nltk or torchcodec.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RUNS = [("resnet50", 224, 256), ("resnet18", 160, 512), ("alexnet", 224, 512)]  # model, crop, batch per step


def make_store(folder: Path, images: int, size: int):
    """`images` JPEGs of 8 classes, indexed, labelled and packed raw at `size` px: a table for RawBatches."""
    from PIL import Image

    from curate.images.index import ImageIndex
    from curate.images.pack import pack
    from curate.labels.labelset import LabelRow, LabelSet

    wnids = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475", "n01496331", "n01498041", "n01514668"]
    rng = np.random.default_rng(0)
    if not (folder / "jpegs").exists():
        for n in range(images):
            path = folder / "jpegs" / wnids[n % 8] / f"{n}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            coarse = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            Image.fromarray(coarse).resize((500, 375), Image.BICUBIC).save(path, quality=90)
    store, _ = pack(ImageIndex.build(folder / "jpegs"), folder / f"raw{size}", fmt="raw", size=size, overwrite=True)
    labels = LabelSet(tuple(LabelRow(w, w, w, w) for w in wnids), "identity", {}, None, "bench", "", "bench")
    store.index.label(labels).write(folder / f"raw{size}.parquet")
    return folder / f"raw{size}.parquet"


def loader_for(table_path: Path, crop: int, batch: int, device: torch.device):
    from train.data.stores import RawBatches
    from train.data.tables import load_table

    table = load_table(table_path)
    rows = table.indices("train")
    return RawBatches(table, rows, table.labels[rows], batch_size=batch, train=True, device=device, crop_size=crop)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def loader_alone(loader, device: torch.device, passes: int) -> float:
    from train.data.loaders import to_device

    seen, start = 0, time.perf_counter()
    for epoch in range(passes):
        loader.sampler.set_epoch(epoch)
        for images, _ in loader:
            seen += len(to_device(images, device, channels_last=True))
    synchronize(device)
    return seen / (time.perf_counter() - start)


def training(model_name: str, loader, device: torch.device, steps: int, compile_model: bool) -> tuple[float, float]:
    """Images/s over `steps` training steps fed by `loader` (after 10 warm-up steps), and FLOPs per image."""
    from torch.utils.flop_counter import FlopCounterMode

    from train.data.loaders import to_device
    from train.loops import autocast
    from train.models import build_model

    model = build_model(model_name, 1000).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    step_model = torch.compile(model) if compile_model else model

    def batches():
        epoch = 0
        while True:
            loader.sampler.set_epoch(epoch)
            yield from loader
            epoch += 1

    def step(images, targets):
        with autocast(device, torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(step_model(to_device(images, device, channels_last=True)), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    feed = batches()
    images, targets = next(feed)
    with FlopCounterMode(display=False) as counter:
        step(images, targets)
    flops_per_image = counter.get_total_flops() / len(images)
    for _ in range(10):
        step(*next(feed))
    synchronize(device)
    seen, start = 0, time.perf_counter()
    for _ in range(steps):
        images, targets = next(feed)
        step(images, targets)
        seen += len(images)
    synchronize(device)
    return seen / (time.perf_counter() - start), flops_per_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--compile", action="store_true", help="torch.compile each network (slower start, faster steps)")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="the GPU's dense bf16 peak (H100/H200 SXM: 989)")
    parser.add_argument("--quick", action="store_true", help="a CPU dry run: tiny sizes, batches and step counts")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    runs = [(name, 32, 8) for name in ("resnet18",)] if args.quick else RUNS
    images, steps = (64, 2) if args.quick else (args.images, args.steps)
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "torch": torch.__version__,
               "compile": args.compile, "peak_tflops": args.peak_tflops, "runs": []}
    with tempfile.TemporaryDirectory(prefix="gpu-store-") as folder:
        for model_name, crop, batch in runs:
            table = make_store(Path(folder), images, crop)
            loader = loader_for(table, crop, batch, device)
            alone = loader_alone(loader, device, passes=1 if args.quick else 3)
            rate, flops = training(model_name, loader, device, steps, args.compile)
            tflops = rate * flops / 1e12
            results["runs"].append({"model": model_name, "crop": crop, "batch": batch, "loader_images_per_s": alone,
                                    "train_images_per_s": rate, "train_gflop_per_image": flops / 1e9, "tflops": tflops,
                                    "of_peak": tflops / args.peak_tflops})
            print(f"{model_name:9s} {crop} px, batch {batch}: loader alone {alone:9.0f} images/s; training {rate:8.0f} images/s, "
                  f"{flops / 1e9:5.2f} GFLOP an image, {tflops:6.1f} TFLOP/s ({100 * tflops / args.peak_tflops:4.1f}% of peak)", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
