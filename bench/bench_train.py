"""Training input and training step, images/s, beside torchvision's ImageFolder + DataLoader in the same run.

    .venv/bin/python bench/bench_train.py [--images 384] [--workers 2] [--repeats 5] [--device cpu|cuda]

1. Draws `--images` JPEGs of ImageNet-like size (500x375, quality 90) in ImageNet layout, indexes them with
   curate and labels them with a curate label set: the same files for both pipelines.
2. Input pipeline, decode + standard augmentation (random-resized crop 224, flip) to a batch ready for the
   network: baseline = torchvision ImageFolder with PIL, ToTensor, Normalize in the workers (the
   torchvision classification reference); train/ = uint8 decode and augment in the workers, normalise in
   the main process on --device (counted; on a GPU this is free, on the CPU it is not), and the train/
   loader alone (the uint8 batch a GPU would receive). Same batch size, workers, crop. One warm-up pass
   each, then --repeats timed passes, interleaved; median and spread of images per wall-clock second and
   per CPU-second (all processes: steadier on a shared machine), and the ratios of the medians.
3. Training step (forward, backward, SGD step) of --model at --size on a fixed batch, images/s: the rate the
   input pipeline has to keep up with.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from common import interleaved_passes
from PIL import Image

warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision.io.image")

WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475", "n01496331", "n01498041", "n01514668"]


def make_jpegs(root: Path, count: int, seed: int = 0) -> None:
    """root/train/<wnid>/<wnid>_<n>.JPEG: smooth random colour fields with shapes, ~ImageNet file sizes."""
    rng = np.random.default_rng(seed)
    for n in range(count):
        wnid = WNIDS[n % len(WNIDS)]
        folder = root / "train" / wnid
        folder.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
        image = np.asarray(Image.fromarray(coarse).resize((500, 375), Image.BICUBIC), dtype=np.float32)
        image += rng.normal(0, 18, image.shape)
        y0, x0 = rng.integers(0, 200, 2)
        image[y0 : y0 + 150, x0 : x0 + 200] = rng.integers(0, 255, 3)
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(folder / f"{wnid}_{n}.JPEG", quality=90)


def curate_table(root: Path, out: Path) -> Path:
    """Index the images and label them (one label per class) with curate: the table train/ reads."""
    from curate.images.index import ImageIndex
    from curate.labels.classlists import ClassList
    from curate.labels.recipes import coarsen
    from curate.wordnet.snapshot import load_hierarchy

    from curate.labels.manifest import write_labels

    labels = coarsen(load_hierarchy().tree(), ClassList("bench", tuple(WNIDS)), depth=99)
    write_labels(labels, out / "labels.parquet")
    index = ImageIndex.build(root / "train", split="train")
    index.write(out / "index.parquet")
    path = out / "table.parquet"
    index.label(labels).write(path)
    return path


def baseline_loader(root: Path, batch: int, workers: int, crop: int = 224):
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder

    transform = T.Compose([T.RandomResizedCrop(crop), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    dataset = ImageFolder(str(root / "train"), transform=transform)
    return torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=False)


def train_loader(table_path: Path, batch: int, workers: int):
    from train.data.loaders import ImageDataset, make_loader, train_transform
    from train.data.tables import load_table

    table = load_table(table_path)
    dataset = ImageDataset(table, table.indices("train"), train_transform(224))
    return make_loader(dataset, batch, workers, train=True)


def step_images_per_second(model_name: str, size: int, batch: int, steps: int, device: torch.device,
                           channels_last: bool, amp: bool) -> list[float]:
    from train.loops import autocast
    from train.models import build_model

    model = build_model(model_name, 1000).to(device)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=memory)
    targets = torch.randint(0, 1000, (batch,), device=device)
    rates = []
    for step in range(steps + 2):  # two warm-up steps
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast(device, torch.bfloat16 if amp else None):
            loss = torch.nn.functional.cross_entropy(model(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= 2:
            rates.append(batch / (time.perf_counter() - start))
    return rates


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} images/s  (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=384)
    parser.add_argument("-b", "--batch-size", type=int, default=64)
    parser.add_argument("-j", "--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--size", type=int, default=112, help="training-step input size (224 on a GPU)")
    parser.add_argument("--step-batch", type=int, default=16, help="training-step batch size (256 on a GPU)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast in the training step")
    args = parser.parse_args()
    device = torch.device(args.device)

    from train.data.loaders import set_epoch, to_device

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        make_jpegs(root, args.images)
        table = curate_table(root, root)
        size_kb = statistics.mean(p.stat().st_size for p in root.glob("train/*/*.JPEG")) / 1024
        print(f"{args.images} JPEGs, 500x375, mean {size_kb:.0f} KB, drawn and curated in {time.perf_counter() - started:.1f}s; "
              f"batch {args.batch_size}, {args.workers} workers, torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
        baseline = baseline_loader(root, args.batch_size, args.workers)
        ours = train_loader(table, args.batch_size, args.workers)
        move = (lambda x: x.to(device)) if device.type == "cuda" else (lambda x: x)
        runs = {"torchvision ImageFolder + DataLoader (PIL, ToTensor, Normalize)": (baseline, move),
                f"train/ loader, uint8 batch normalised on {device.type} (counted)": (ours, lambda x: to_device(x, device)),
                "train/ loader alone, uint8 batch (what crosses to a GPU)": (ours, lambda x: x)}
        rates, per_cpu = interleaved_passes(runs, args.repeats, set_epoch)
        print("\ninput pipeline, decode + augment to a normalised batch:")
        for name, values in rates.items():
            print(f"  {name:66s} {spread(values)}")
        names = list(rates)

        def ratios(table: dict[str, list[float]]) -> str:
            base = statistics.median(table[names[0]])
            return ", ".join(f"{statistics.median(table[name]) / base:.2f}x" for name in names[1:])

        print(f"  ratio train/ : torchvision (normalised, loader alone) = {ratios(rates)}")
        print("per CPU-second, all processes (user + system time of main process and workers):")
        for name, values in per_cpu.items():
            print(f"  {name:66s} {spread(values).replace('images/s', 'images/CPU-s')}")
        print(f"  ratio train/ : torchvision (normalised, loader alone) = {ratios(per_cpu)}")

    step = step_images_per_second(args.model, args.size, args.step_batch, args.steps, device, args.channels_last, args.amp)
    print(f"\ntraining step, {args.model} at {args.size}px, batch {args.step_batch}"
          f"{', channels-last' if args.channels_last else ''}{', bf16 autocast' if args.amp else ''}:")
    print(f"  {'forward + backward + SGD step':66s} {spread(step)}")
    print(f"  input pipeline (train/) / training step = {statistics.median(rates[names[1]]) / statistics.median(step):.2f}x"
          "  (>= 1: the loader keeps the step busy with these workers)")


if __name__ == "__main__":
    main()
