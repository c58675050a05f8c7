"""`python -m train evaluate`: a pretrain checkpoint scored on the val split of an image table.

Top-1/top-5 on the labels it was trained on (of a network with a head per level, `pretrain --hierarchy`, also
top-1 at each level and the mistake severity, from the level tree its checkpoint holds), and k-NN top-1 on
another label set of the same images: the features of a net trained on coarse labels, scored against fine
labels (does coarse training learn fine distinctions?). The k-NN memory is the train split, the queries are
the val split. With --knn-only the tables may be any (the grid gives every variant one bank and one query
set), and only k-NN is scored. The network is fed the input it was pretrained on (`input_norm`, from its
checkpoint).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from train import checkpoint, distributed
from train.config import EvaluateConfig, check, explicit, implied_sizes
from train.data.tables import TrainingTable, image_loader, knn_targets, load_tables
from train.distributed import print0
from train.errors import TrainError
from train.levels import LevelTree
from train.loops import evaluate, extract_features, precision
from train.knn import knn_top1
from train.models import backbone


def knn_score(features_model: nn.Module, table: TrainingTable, val_table: TrainingTable, val_rows: list[int],
              labels_path: Path, run: distributed.Dist, config: EvaluateConfig) -> dict:
    """k-NN top-1 (percent) of `features_model` (a backbone) on the labels of another manifest: the train
    split of `table` is the memory, the rows `val_rows` of `val_table` the queries. Says how many images of
    each were scored, and refuses a label set that covers fewer than two labels of the queries (top-1 over
    one label is 100% whatever the features)."""
    scored, counts = {}, {}
    for split, source, rows in (("train", table, table.indices("train")), ("val", val_table, val_rows)):
        if not rows:
            raise TrainError(f"k-NN needs images in the {split} split of {source.source}, and it has none.")
        kept, targets, label_wnids = knn_targets(source, rows, labels_path)
        if split == "val" and len(set(targets)) < 2:
            raise TrainError(f"`knn_labels` {labels_path} labels the val images with {len(set(targets))} of its "
                             f"{len(label_wnids)} labels: top-1 over one label is 100% whatever the features; give a "
                             "label set of the data's classes.")
        if split == "val" and 2 * len(kept) < len(rows) and run.is_main and not config.quiet:
            print0(f"Warning: --knn-labels {labels_path} covers {len(kept)} of the {len(rows)} val images; the others "
                   "are left out of k-NN.")
        counts[split] = (len(kept), len(rows))
        loader = image_loader(source, [rows[pos] for pos in kept], config, run, train=False, targets=targets)
        scored[split] = extract_features(features_model, loader, run.device, precision(config.amp, config.amp_dtype, run.device),
                                         config.channels_last, input_norm=config.input_norm)
    top1 = knn_top1(*scored["train"], *scored["val"], k=config.knn_k, temperature=config.knn_temperature)
    return {"knn_top1": 100 * top1, "knn_label_count": len(label_wnids), "knn_k": config.knn_k,
            "knn_labels": str(labels_path), "knn_memory_images": counts["train"][0], "knn_query_images": counts["val"][0],
            "knn_query_images_left_out": counts["val"][1] - counts["val"][0], "knn_memory_hash": table.content_hash,
            "knn_queries_hash": val_table.content_hash}


TRAINED_SIZES = ("val_resize_size", "val_crop_size", "augment")


def run(config: EvaluateConfig, given: frozenset[str] | None = None) -> dict | None:
    given = explicit(config, given)
    check(implied_sizes(config, given))
    run = distributed.setup(config.device)
    model, pretrained = checkpoint.pretrained_model(config.checkpoint)
    # Score at the sizes the network was validated at during pretraining, unless the flags say otherwise; feed it
    # the input it learnt on.
    recorded = pretrained.get("config", {})
    trained = {k: recorded[k] for k in TRAINED_SIZES if k in recorded and k not in given}
    input_norm = checkpoint.pretrained_input(pretrained, config.checkpoint, config, given)
    config = implied_sizes(replace(config, **trained, input_norm=input_norm), given)
    if config.knn_only and config.knn_labels is None:
        raise TrainError("`knn_only` scores k-NN on `knn_labels`: give the label manifest to score against.")
    table, val_table, val_rows = load_tables(config, check_files=run.is_main)
    if table.labels_hash != pretrained["data"]["labels_hash"] and not config.knn_only:
        raise TrainError(
            f"{config.checkpoint} was trained on another label set ({pretrained['data']['labels_recipe']}) than "
            f"{table.source} ({table.labels_recipe}): top-1 needs the same labels; use `knn_labels` for another label set."
        )
    model = model.to(run.device, memory_format=torch.channels_last if config.channels_last else torch.preserve_format)
    if not val_rows:
        raise TrainError(f"{val_table.source} has no images in the val split to evaluate on: give one with `val_table`.")
    result = {"checkpoint": str(config.checkpoint), "model": pretrained["model_name"], **pretrained["data"],
              **{k: getattr(config, k) for k in (*TRAINED_SIZES, "input_norm")}}
    if not config.knn_only:
        loader = image_loader(val_table, val_rows, config, run, train=False)
        levels = LevelTree.of_record(pretrained["levels"]) if "levels" in pretrained else None
        result.update(evaluate(model, loader, run.device, precision(config.amp, config.amp_dtype, run.device),
                               config.channels_last, input_norm=config.input_norm, levels=levels))
    if config.knn_labels is not None:
        features = backbone(model, pretrained["model_name"])
        result.update(knn_score(features, table, val_table, val_rows, config.knn_labels, run, config))
    if not config.quiet:
        shown = ("top1", "top5", *(k for k in result if k.startswith("top1_level")), "mistake_severity", "knn_top1")
        print0("  ".join(f"{k} {result[k]:.2f}" for k in shown if isinstance(result.get(k), float)))
    distributed.cleanup()
    return result if run.is_main else None
