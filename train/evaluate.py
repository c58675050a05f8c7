"""`python -m train evaluate`: a pretrain checkpoint scored on the val split of an image table.

Top-1/top-5 on the labels it was trained on, and k-NN top-1 on another label set of the same images: the
features of a net trained on coarse labels, scored against fine labels (does coarse training learn fine
distinctions?). The k-NN memory is the train split, the queries are the val split.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from train import distributed
from train.data import ImageDataset, ImageRows, eval_transform, knn_targets, load_tables, make_loader
from train.distributed import print0
from train.engine import evaluate, extract_features, load_checkpoint, load_model_state
from train.errors import TrainError
from train.metrics import knn_top1
from train.models import backbone, build_model


def model_from_checkpoint(path: Path) -> tuple[nn.Module, dict]:
    """The network of a pretrain checkpoint, weights loaded, on the CPU."""
    checkpoint = load_checkpoint(path, "pretrain")
    model = build_model(checkpoint["model_name"], checkpoint["num_classes"])
    load_model_state(model, checkpoint["model"], Path(path))
    return model, checkpoint


def knn_score(features_model: nn.Module, table: ImageRows, val_table: ImageRows, val_rows: list[int],
              labels_path: Path, run: distributed.Dist, args) -> dict:
    """k-NN top-1 (percent) of `features_model` (a backbone) on the labels of another manifest: the train
    split of `table` is the memory, the rows `val_rows` of `val_table` the queries."""
    transform = eval_transform(args.val_resize_size, args.val_crop_size)
    scored = {}
    for split, source, rows in (("train", table, table.indices("train")), ("val", val_table, val_rows)):
        if not rows:
            raise TrainError(f"k-NN needs images in the {split} split of {source.source}, and it has none.")
        kept, targets, label_wnids = knn_targets(source, rows, labels_path)
        dataset = ImageDataset(source, [rows[pos] for pos in kept], transform, targets)
        loader = make_loader(dataset, args.batch_size, args.workers, False, run.rank, run.world_size)
        scored[split] = extract_features(features_model, loader, run.device, amp_dtype(args), args.channels_last)
    top1 = knn_top1(*scored["train"], *scored["val"], k=args.knn_k, temperature=args.knn_temperature)
    return {"knn_top1": 100 * top1, "knn_classes": len(label_wnids), "knn_k": args.knn_k, "knn_labels": str(labels_path)}


def amp_dtype(args) -> torch.dtype | None:
    return torch.bfloat16 if args.amp else None


def main(args) -> dict | None:
    run = distributed.setup(args.device)
    model, checkpoint = model_from_checkpoint(args.checkpoint)
    table, val_table, val_rows = load_tables(args, check_files=run.is_main)
    if table.labels_hash != checkpoint["data"]["labels_hash"]:
        raise TrainError(
            f"{args.checkpoint} was trained on another label set ({checkpoint['data']['labels_recipe']}) than "
            f"{table.source} ({table.labels_recipe}): top-1 needs the same labels; use --knn-labels for another label set."
        )
    model = model.to(run.device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    val_set = ImageDataset(val_table, val_rows, eval_transform(args.val_resize_size, args.val_crop_size))
    if len(val_set) == 0:
        raise TrainError(f"{val_table.source} has no images in the val split to evaluate on: give one with --val-table.")
    loader = make_loader(val_set, args.batch_size, args.workers, False, run.rank, run.world_size)
    result = {"checkpoint": str(args.checkpoint), "model": checkpoint["model_name"], **checkpoint["data"],
              **evaluate(model, loader, run.device, amp_dtype(args), args.channels_last)}
    if args.knn_labels is not None:
        features = backbone(model, checkpoint["model_name"])
        result.update(knn_score(features, table, val_table, val_rows, args.knn_labels, run, args))
    if not args.quiet:
        print0("  ".join(f"{k} {result[k]:.2f}" for k in ("top1", "top5", "knn_top1") if k in result))
    distributed.cleanup()
    return result if run.is_main else None
