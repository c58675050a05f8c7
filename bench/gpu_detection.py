"""Detection fine-tuning images/s on one GPU: one epoch of `finetune --task voc07-det` with each detector
(Faster R-CNN; Fast R-CNN on 2000 proposals an image) on a ResNet-50 (feature pyramid) and an AlexNet
(conv5, RoI pooling, fc6/fc7) backbone, on synthetic VOC-sized images (500x375 and 375x500 px) at the
papers' sizes (shorter side 600, longer at most 1000), each detector at its own images a step (-b: Faster
R-CNN 1, Fast R-CNN 2, their references').

    python bench/gpu_detection.py --out detection.json     # on a GPU machine: a few minutes
    python bench/gpu_detection.py --device cpu --quick     # a dry run of the same code on a CPU

Each run is finetune's own code path (its config, loaders, detector, bf16 autocast) from a pretrain
checkpoint of untrained weights (the speed does not depend on them; conv1, or the ResNet stem and layer1,
stay frozen as in a real transfer). The figure is the training images/s finetune records for the epoch in
metrics.jsonl: loading, flipping, forward, backward and SGD step, after a warm-up epoch on a few images.
Fast R-CNN's proposals are random boxes (`PROPOSALS` an image, as many as selective search gives): its speed
depends on their number, not on where they are. Needs torch, torchvision, pillow, pyarrow and curate's own
code; not polars, nltk, torchcodec or OpenCV.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "train"))  # the tests' synthetic VOC data
import synthetic_voc  # noqa: E402

from train import checkpoint, finetune  # noqa: E402
from train.config import FinetuneConfig  # noqa: E402
from train.models import build_model  # noqa: E402
from train.proposals import write_cache  # noqa: E402
from train.tasks import TASK  # noqa: E402

MODELS = ("resnet50", "alexnet")
DETECTORS = {"faster-rcnn": 1, "fast-rcnn": 2}  # detector -> images a step (py-faster-rcnn's, fast-rcnn's)
PROPOSALS = 2000


def random_proposals(data: Path, seed: int) -> Path:
    """PROPOSALS random boxes for each image of the VOC 2007 under `data`, in a file of `python -m train proposals`."""
    task, rng, rows = TASK["voc07-det"].load(data, None), np.random.default_rng(seed), {}
    for split in (task.train, task.test):
        for image_id, annotation in zip(split.ids, split.targets):
            xs = np.sort(rng.integers(1, annotation.width + 1, (PROPOSALS, 2)), axis=1)
            ys = np.sort(rng.integers(1, annotation.height + 1, (PROPOSALS, 2)), axis=1)
            rows[f"JPEGImages/{image_id}.jpg"] = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
    write_cache(data / "proposals.parquet", rows)
    return data / "proposals.parquet"


def untrained_checkpoint(folder: Path, model: str) -> Path:
    """A pretrain checkpoint holding an untrained `model`: what finetune transfers from."""
    path = folder / f"{model}.pt"
    checkpoint.save(path, kind="pretrain", model=build_model(model, 1000).state_dict(), model_name=model, num_labels=1000,
                    data={"labels_recipe": "untrained (timing only)", "labels_hash": ""})
    return path


def epoch(data: Path, start: Path, out: Path, args, detector: str) -> dict:
    """One epoch of detection fine-tuning with `detector` over the images of `data`; its record in metrics.jsonl."""
    proposals = data / "proposals.parquet" if detector == "fast-rcnn" else None
    config = FinetuneConfig(task="voc07-det", data=data, checkpoint=start, epochs=1, batch_size=DETECTORS[detector],
                            workers=args.workers, device=args.device, amp=args.device == "cuda", val_fraction=0.0,
                            min_size=args.min_size, max_size=args.max_size, output_dir=out, overwrite=True, quiet=True,
                            detector=detector, proposals=proposals)
    started = time.perf_counter()
    finetune.run(config)
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    return {**record, "wall_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512, help="training images (default %(default)s)")
    parser.add_argument("-j", "--workers", type=int, default=8, help="loader workers (default %(default)s)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--min-size", type=int, default=600)
    parser.add_argument("--max-size", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="a dry run: 8 images at 200 px")
    parser.add_argument("--out", type=Path, default=Path("gpu_detection.json"))
    args = parser.parse_args()
    if args.quick:
        args.images, args.min_size, args.max_size, args.workers = 8, 200, 300, 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synthetic_voc.write_detection(tmp / "data", {"trainval": args.images, "test": 8}, seed=0, size=375)
        synthetic_voc.write_detection(tmp / "warm", {"trainval": 8, "test": 4}, seed=1, size=375)
        random_proposals(tmp / "data", 0), random_proposals(tmp / "warm", 1)
        results = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu", "images": args.images,
                   "proposals": PROPOSALS, "min_size": args.min_size, "max_size": args.max_size, "runs": {}}
        for model in MODELS:
            start = untrained_checkpoint(tmp, model)
            for detector, batch in DETECTORS.items():
                name = f"{model} {detector}"
                epoch(tmp / "warm", start, tmp / "runs" / f"{model}-{detector}-warm", args, detector)  # CUDA context, cuDNN
                record = epoch(tmp / "data", start, tmp / "runs" / f"{model}-{detector}", args, detector)
                results["runs"][name] = {"batch_size": batch, "train_images_per_s": record["train_images_per_s"],
                                         "train_loss": record["train_loss"], "epoch_wall_s": record["wall_s"]}
                print(f"{name}: {record['train_images_per_s']:.1f} images/s (batch {batch}, {args.min_size}/{args.max_size} px)",
                      flush=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
