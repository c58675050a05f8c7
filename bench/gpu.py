"""Every GPU figure the README and bench/RESULTS.md promise, in one run on one GPU, from a bare checkout.

    bench/gpu.sh                          # on the GPU machine: under 8 minutes; JSON in $OUT/gpu.json
    bench/gpu.sh --device cpu --quick     # a dry run of the same code on a CPU (the test suite runs it)

Needs torch, torchvision, pyarrow, pillow and numpy; not polars, nltk, torchcodec or submitit, and curate need
not be installed (the checkout is put on sys.path here). Parts, in this order, each written to the JSON as soon
as it is measured (a part not begun by --budget-s seconds is recorded as skipped):

1. data, made once with every core: --images JPEGs (500x375), packed raw at 224 and 160 px (curate's pack,
   one pool each); VOC 2007-sized detection images (synthetic_voc, one image a job).
2. classification training from the raw store, for ResNet-50 at 224 px (goal 7k images/s), ResNet-18 at
   160 px (goal 30k) and AlexNet at 224 px, with bf16 autocast and channels-last: the store loader alone;
   then train's own step (`loops.classification_step`, SGD) eager, after warm-up; then compiled: the
   compile (its first steps, timed apart), warm-up, and the steady state. FLOPs of one step are counted on
   the eager model after its warm-up (the compiled one does the same arithmetic); TFLOP/s against
   --peak-tflops (H100/H200 SXM dense bf16: 989).
3. k-NN at ImageNet size: a 1.28 M x 2048 fp32 bank (10.5 GB) and 50 k queries through train/knn.py,
   after a warm-up on a slice; queries/s and peak memory.
4. detection fine-tuning: one epoch of `finetune --task voc07-det` (finetune's own code) per network and
   detector (Faster R-CNN; Fast R-CNN on 2000 random proposals an image), at 600/1000 px, after a warm-up
   epoch on a few images; the training images/s finetune records.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The checkout's curate and train, and the tests' synthetic VOC data: curate need not be installed.
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "train")]

CLASSIFIERS = [("resnet50", 224, 256), ("resnet18", 160, 512), ("alexnet", 224, 512)]  # model, crop px, batch
DETECTORS = {"faster-rcnn": 1, "fast-rcnn": 2}  # detector -> images a step (py-faster-rcnn's, fast-rcnn's)
DETECTION_MODELS = ("resnet50", "alexnet")
PROPOSALS = 2000  # a Fast R-CNN image's proposals, as many as selective search gives
WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475", "n01496331", "n01498041", "n01514668"]
JPEGS_A_JOB = 64


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for a dry run (default %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="a dry run: tiny data, one small network a part, a few steps, compiled by the eager backend")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or Path(tempfile.gettempdir()) / "curate-gpu"),
                        help="folder of gpu.json (default: $OUT, else %(default)s)")
    parser.add_argument("--images", type=int, default=4096, help="JPEGs packed for the classification runs (default %(default)s)")
    parser.add_argument("--steps", type=int, default=60, help="timed training steps, eager and compiled (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps before each timing (default %(default)s)")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="the GPU's dense bf16 peak (H100/H200 SXM: 989)")
    parser.add_argument("--detection-images", type=int, default=256, help="training images a detection epoch (default %(default)s)")
    parser.add_argument("--budget-s", type=float, default=450.0, help="begin no part after this many seconds (default %(default)s)")
    parser.add_argument("-j", "--workers", type=int, default=os.cpu_count(), help="processes that make the data (default: every core)")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.steps, args.warmup, args.detection_images = 64, 2, 1, 2
    return args


def classifiers(args) -> list[tuple[str, int, int]]:
    return [("resnet18", 32, 8)] if args.quick else CLASSIFIERS


def main(argv: list[str] | None = None) -> None:
    args = options(argv)
    import torch

    from train.rng import seed_everything

    seed_everything(0)  # as a run seeds: cuDNN autotuning, TF32
    started = time.perf_counter()
    device = torch.device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "torch": torch.__version__,
               "cores": os.cpu_count(), "quick": args.quick, "peak_tflops": args.peak_tflops, "parts": {}}
    with tempfile.TemporaryDirectory(prefix="curate-gpu-") as folder:
        data = Path(folder)
        parts = {"data": lambda: make_data(data, args)}
        parts |= {f"train {name} {crop}px": functools.partial(classification, data, name, crop, batch, device, args)
                  for name, crop, batch in classifiers(args)}
        parts["knn"] = lambda: knn(device, args)
        parts |= {f"detection {model} {detector}": functools.partial(detection, data, model, detector, args)
                  for model in (DETECTION_MODELS[1:] if args.quick else DETECTION_MODELS) for detector in DETECTORS}
        for name, part in parts.items():
            if time.perf_counter() - started > args.budget_s:
                results["parts"][name] = {"skipped": f"not begun: {args.budget_s:.0f} s had passed"}
            else:
                begun = time.perf_counter()
                results["parts"][name] = {**part(), "seconds": time.perf_counter() - begun}
                print(f"{name}: {json.dumps(results['parts'][name])}", flush=True)
            results["seconds"] = time.perf_counter() - started
            (args.out / "gpu.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{results['seconds']:.0f} s in all; figures in {args.out / 'gpu.json'}", flush=True)


# --- 1. data ---------------------------------------------------------------------------------------------


def make_data(folder: Path, args) -> dict:
    """The JPEGs, their raw stores at 224 and 160 px (with tables), and the detection sets, on every core."""
    from curate.workers import in_processes

    jobs = [(first, min(JPEGS_A_JOB, args.images - first)) for first in range(0, args.images, JPEGS_A_JOB)]
    timings = {}
    begun = time.perf_counter()
    for _ in in_processes(functools.partial(draw_jpegs, folder / "jpegs"), jobs, args.workers, start="fork"):
        pass
    timings["jpegs_s"] = time.perf_counter() - begun
    for size in sorted({crop for _, crop, _ in classifiers(args)}, reverse=True):
        begun = time.perf_counter()
        pack_raw(folder, size, args.workers)
        timings[f"pack_raw{size}_s"] = time.perf_counter() - begun
    begun = time.perf_counter()
    few = 2 if args.quick else 8
    voc_images(folder / "voc", {"trainval": args.detection_images, "test": few}, 0, args.workers, args.quick)
    voc_images(folder / "voc-warm", {"trainval": few, "test": few}, 1, args.workers, args.quick)
    timings["detection_images_s"] = time.perf_counter() - begun
    return {"images": args.images, **timings}


def draw_jpegs(folder: Path, job: tuple[int, int]) -> None:
    """JPEGs number first..first+count-1 (500x375, quality 90, ~ImageNet's file sizes), of the classes WNIDS in turn."""
    import numpy as np
    from PIL import Image

    first, count = job
    rng = np.random.default_rng(first)
    for n in range(first, first + count):
        path = folder / WNIDS[n % len(WNIDS)] / f"{n}.JPEG"
        path.parent.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
        image = np.asarray(Image.fromarray(coarse).resize((500, 375), Image.BICUBIC), dtype=np.float32)
        image += rng.normal(0, 18, image.shape)
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path, quality=90)


def pack_raw(folder: Path, size: int, workers: int) -> Path:
    """The JPEGs packed raw at `size` px, and a table of the store's index, one label a class."""
    from curate.images.index import ImageIndex
    from curate.images.pack import pack
    from curate.labels.labelset import LabelRow, LabelSet

    store, _ = pack(ImageIndex.build(folder / "jpegs"), folder / f"raw{size}", fmt="raw", size=size, workers=workers)
    labels = LabelSet(tuple(LabelRow(w, w, w, w) for w in WNIDS), "identity", {}, None, "bench", "", "bench")
    store.index.label(labels).write(folder / f"raw{size}.parquet")
    return folder / f"raw{size}.parquet"


def voc_images(root: Path, counts: dict[str, int], seed: int, workers: int, quick: bool) -> None:
    """A synthetic VOC 2007 of VOC-sized images (375 px short side; 96 for a dry run), drawn on every core,
    with PROPOSALS random boxes an image for Fast R-CNN (its speed depends on their number, not their place)."""
    import synthetic_voc

    from curate.workers import in_processes

    def on_every_core(function, numbers):
        return [image for _, image in sorted(in_processes(function, list(numbers), workers, start="fork"))]

    synthetic_voc.write_detection(root, counts, seed=seed, size=96 if quick else 375, map=on_every_core)
    random_proposals(root, seed)


def random_proposals(data: Path, seed: int) -> None:
    """PROPOSALS random boxes for each image of the VOC 2007 under `data`, in a file of `python -m train proposals`."""
    import numpy as np

    from train.proposals import write_cache
    from train.tasks import TASK

    task, rng, rows = TASK["voc07-det"].load(data, None), np.random.default_rng(seed), {}
    for split in (task.train, task.test):
        for image_id, annotation in zip(split.ids, split.targets):
            xs = np.sort(rng.integers(1, annotation.width + 1, (PROPOSALS, 2)), axis=1)
            ys = np.sort(rng.integers(1, annotation.height + 1, (PROPOSALS, 2)), axis=1)
            rows[f"JPEGImages/{image_id}.jpg"] = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
    write_cache(data / "proposals.parquet", rows)


# --- 2. classification training ----------------------------------------------------------------------------


def classification(folder: Path, model_name: str, crop: int, batch: int, device, args) -> dict:
    """The store loader alone, then train's step eager and compiled, for one network."""
    import torch

    from train.config import PretrainConfig
    from train.data.stores import RawBatches
    from train.data.tables import load_table
    from train.loops import classification_step
    from train.models import build_model
    from train.optimizer import sgd

    table = load_table(folder / f"raw{crop}.parquet")
    rows = table.indices("train")
    loader = RawBatches(table, rows, table.labels[rows], batch_size=batch, train=True, device=device, crop_size=crop)
    result = {"model": model_name, "crop": crop, "batch": batch, "loader_images_per_s": loader_alone(loader, device, args)}
    model = build_model(model_name, 1000).to(device, memory_format=torch.channels_last)
    optimizer = sgd(model, PretrainConfig(lr=0.1, wd=1e-4))
    feed = batches(loader)
    amp = torch.bfloat16

    def stepper(network):
        step = classification_step(network, torch.nn.CrossEntropyLoss(), device, amp, channels_last=True, input_norm="torchvision")

        def train_step():
            loss, _, _ = step(*next(feed))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return train_step

    eager = stepper(model)
    for _ in range(args.warmup):
        eager()
    flops = flops_per_image(eager, batch)
    result["eager_images_per_s"] = steady_rate(eager, batch, device, args.steps)
    begun = time.perf_counter()
    compiled = stepper(torch.compile(model, backend="eager" if args.quick else "inductor"))
    compiled()  # the first call compiles forward and backward
    synchronize(device)
    result["compile_s"] = time.perf_counter() - begun
    for _ in range(args.warmup):
        compiled()
    result["compiled_images_per_s"] = steady_rate(compiled, batch, device, args.steps)
    best = max(result["eager_images_per_s"], result["compiled_images_per_s"])
    tflops = best * flops / 1e12
    return {**result, "gflop_per_image": flops / 1e9, "tflops": tflops, "of_peak": tflops / args.peak_tflops}


def batches(loader):
    """The loader's batches, epoch after epoch."""
    epoch = 0
    while True:
        loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def loader_alone(loader, device, args) -> float:
    """Images/s of the store loader by itself over whole epochs (after one to warm the page cache), as fed to
    the network (normalised, channels-last)."""
    from train.data.loaders import to_device

    def one_pass(epoch: int) -> int:
        loader.sampler.set_epoch(epoch)
        return sum(len(to_device(images, device, channels_last=True)) for images, _ in loader)

    one_pass(0)
    synchronize(device)
    begun = time.perf_counter()
    seen = sum(one_pass(epoch) for epoch in range(1, 2 if args.quick else 4))
    synchronize(device)
    return seen / (time.perf_counter() - begun)


def flops_per_image(step, batch: int) -> float:
    """FLOPs of one training step (forward, backward) over its images, counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / batch


def steady_rate(step, batch: int, device, steps: int) -> float:
    synchronize(device)
    begun = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return steps * batch / (time.perf_counter() - begun)


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


# --- 3. k-NN ---------------------------------------------------------------------------------------------


def knn(device, args) -> dict:
    """k-NN top-1 of ImageNet-sized synthetic features (1000 noisy class centres) through train/knn.py."""
    import torch

    from train.knn import knn_top1

    count, queries_count, dim, classes = (20_000, 1_000, 256, 100) if args.quick else (1_281_167, 50_000, 2048, 1000)
    bank, bank_labels = features(count, dim, classes, device)
    queries, query_labels = features(queries_count, dim, classes, device)
    knn_top1(bank, bank_labels, queries[:256], query_labels[:256])  # warm-up
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    begun = time.perf_counter()
    top1 = knn_top1(bank, bank_labels, queries, query_labels)
    synchronize(device)
    seconds = time.perf_counter() - begun
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return {"bank": count, "queries": queries_count, "dim": dim, "knn_s": seconds, "queries_per_s": queries_count / seconds,
            "bank_gib": bank.numel() * 4 / 2**30, "peak_gib": peak, "top1": top1}


def features(count: int, dim: int, classes: int, device):
    """`count` noisy features of `classes` random centres, made on the device, and their labels."""
    import torch

    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(0)).to(device)
    labels = torch.randint(0, classes, (count,), generator=torch.Generator().manual_seed(count)).to(device)
    noise = torch.Generator(device=device).manual_seed(count)
    out = torch.empty(count, dim, device=device)
    for start in range(0, count, 65536):
        block = labels[start : start + 65536]
        out[start : start + 65536] = centres[block] + 8.0 * torch.randn(len(block), dim, device=device, generator=noise)
    return out, labels


# --- 4. detection ----------------------------------------------------------------------------------------


def detection(folder: Path, model: str, detector: str, args) -> dict:
    """One epoch of detection fine-tuning of an untrained `model` with `detector`, after a warm-up epoch."""
    start = untrained_checkpoint(folder, model)
    epoch(folder / "voc-warm", start, folder / "runs" / f"{model}-{detector}-warm", args, detector)  # CUDA context, cuDNN
    record = epoch(folder / "voc", start, folder / "runs" / f"{model}-{detector}", args, detector)
    return {"batch": DETECTORS[detector], "images": args.detection_images, "train_images_per_s": record["train_images_per_s"],
            "train_loss": record["train_loss"]}


def untrained_checkpoint(folder: Path, model: str) -> Path:
    """A pretrain checkpoint holding an untrained `model`: what finetune transfers from (speed does not
    depend on the weights)."""
    from train import checkpoint
    from train.models import build_model

    path = folder / f"{model}.pt"
    if not path.is_file():
        checkpoint.save(path, kind="pretrain", model=build_model(model, 1000).state_dict(), model_name=model, num_labels=1000,
                        data={"labels_recipe": "untrained (timing only)", "labels_hash": ""})
    return path


def epoch(data: Path, start: Path, out: Path, args, detector: str) -> dict:
    """One epoch of `finetune --task voc07-det` over the images of `data`; its record in metrics.jsonl."""
    from train import finetune
    from train.config import FinetuneConfig

    sizes = (128, 160) if args.quick else (600, 1000)
    config = FinetuneConfig(task="voc07-det", data=data, checkpoint=start, epochs=1, batch_size=DETECTORS[detector],
                            workers=0 if args.quick else 8, device=args.device, amp=args.device == "cuda", val_fraction=0.0,
                            min_size=sizes[0], max_size=sizes[1], output_dir=out, overwrite=True, quiet=True,
                            detector=detector, proposals=data / "proposals.parquet" if detector == "fast-rcnn" else None)
    finetune.run(config)
    return json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])


if __name__ == "__main__":
    main()
