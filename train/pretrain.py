"""`python -m train pretrain`: train a network from scratch on the labels of an image table.

Read top to bottom: set up (`runs.Run`), data, model, optimiser, the loop (train, evaluate, checkpoint, log),
summary. Resuming is the run skeleton's and the checkpoint's (`runs.py`, `checkpoint.py`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from torch import nn

from curate.wording import has
from train import checkpoint, distributed
from train.config import PretrainConfig, implied_settings
from train.data.tables import image_loader, load_tables
from train.errors import TrainError
from train.levels import LevelLoss, LevelTree
from train.loops import classification_step, evaluate
from train.models import build_model, check_input_size, freeze_layers
from train.optimizer import sgd
from train.runs import Run


def run(config: PretrainConfig, given: frozenset[str] | None = None) -> dict | None:
    """Train; return the final metrics (also in OUTPUT_DIR/metrics.jsonl and the checkpoint) on rank 0.
    `given`: the fields the command line set (None: those that differ from their defaults); a resumed run
    takes the others from its checkpoint."""
    run = Run.start("pretrain", config, given, settle=implied_settings)
    config, device = run.config, run.dist.device

    # Data: the table names the images, the label of each, and the manifest it came from.
    table, val_table, val_rows = load_tables(config, check_files=run.dist.is_main)
    levels = LevelTree.read(config.hierarchy, table.labels_hash, table.source) if config.hierarchy else None
    identity = {**table.identity(), **({"hierarchy": levels.source, "hierarchy_hash": levels.content_hash} if levels else {})}
    if run.saved is not None:
        checkpoint.check_same_data(run.saved, Path(config.resume), identity)
    if config.test_only and not val_rows:
        raise TrainError(f"{val_table.source} has no images in the val split to test on: give one with `val_table`.")
    train_rows = table.indices("train")
    empty = np.flatnonzero(np.bincount(table.labels[train_rows], minlength=table.num_labels) == 0)
    if len(empty) and not config.test_only:  # a table curate's ImageIndex.label made has none; one written otherwise may
        name = table.label_wnids[empty[0]] or "with no rows at all"
        raise TrainError(f"{len(empty)} of the {table.num_labels} labels of {table.source} {has(len(empty))} no training "
                         f"images (label {empty[0]}, {name}): a net cannot learn an empty label; drop it from the label "
                         "set or add its images.")
    train_loader = image_loader(table, train_rows, config, run.dist, train=True)
    val_loader = image_loader(val_table, val_rows, config, run.dist, train=False)
    if not val_rows and not config.test_only:  # even under -q: a long run that reports nothing is a lost run
        why = "has no val split and no --val-table was given" if config.val_table is None else "has no val split"
        distributed.print0(f"Warning: NO VALIDATION IMAGES: {val_table.source} {why}, so this run will report no "
                           "accuracy at any epoch; give a table of val images with --val-table (the README shows how "
                           "to make val-127.parquet).")
    heads = (f" and a head for each of {len(levels.label_counts)} levels ({' / '.join(map(str, levels.label_counts))})"
             if levels else "")
    run.say(f"{len(train_rows)} training and {len(val_rows)} validation images, {table.num_labels} labels "
            f"({identity['labels_recipe'] or 'no recipe recorded'}){heads}, {run.dist.world_size} process(es) on {device}; "
            f"the run goes to {run.folder}")

    # Model: the network for the table's labels (with --hierarchy, for every level's: one block of outputs each).
    outputs = levels.outputs if levels else table.num_labels
    raw_model = build_model(config.model, outputs)
    check_input_size(raw_model, config.model, min(config.train_crop_size, config.val_crop_size))
    copied = run.saved.get("copied", {}) if run.saved is not None else {}
    if config.copy_layers and run.saved is None:  # a resumed run's weights come from its own checkpoint
        copied = checkpoint.copy_pretrained_layers(raw_model, config.model, config.copy_from, config.copy_layers)
    if config.freeze_copied:
        freeze_layers(raw_model, config.model, config.copy_layers)
    eval_model, model = run.wrap(raw_model)
    if config.test_only:
        if run.saved is not None:
            checkpoint.load_weights(raw_model, run.saved["model"], Path(config.resume))
        metrics = evaluate(eval_model, val_loader, device, run.amp_dtype, config.channels_last, input_norm=config.input_norm,
                           levels=levels)
        distributed.cleanup()
        return metrics if run.dist.is_main else None

    criterion = (LevelLoss(levels, config.label_smoothing).to(device) if levels
                 else nn.CrossEntropyLoss(label_smoothing=config.label_smoothing))
    optimizer = sgd(raw_model, config)
    step = classification_step(model, criterion, device, run.amp_dtype, config.channels_last, input_norm=config.input_norm,
                               scored=levels.finest if levels else slice(None))

    def scores(epoch: int) -> dict:
        metrics = (evaluate(eval_model, val_loader, device, run.amp_dtype, config.channels_last, input_norm=config.input_norm,
                            levels=levels) if val_rows else {})
        return {f"val_{k}": v for k, v in metrics.items()}

    started = time.perf_counter()
    history = run.fit(model, raw_model, optimizer, step, train_loader, scores,
                      state={"model_name": config.model, "num_labels": table.num_labels, "num_outputs": outputs,
                             "label_wnids": table.label_wnids, "data": identity, "copied": copied,
                             **({"levels": levels.record()} if levels else {})})
    final = {"model": config.model, "augment": config.augment, "input_norm": config.input_norm, "epochs": run.epochs, "iterations": config.iterations, **identity, **copied,
             "label_count": table.num_labels, "output_dir": str(run.folder),
             "minutes": (time.perf_counter() - started) / 60, **(history[-1] if history else {})}
    return run.finish(final, lambda: summary(final, run.folder))


def summary(final: dict, output: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pretrain summary", show_header=False)
    for key in ("model", "augment", "input_norm", "label_count", "labels_recipe", "labels_hash", "epochs", "train_loss", "train_top1",
                "val_top1", "val_top5", *(k for k in final if k.startswith("val_top1_level")), "val_mistake_severity",
                "minutes"):
        if key in final:
            value = final[key]
            table.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
    table.add_row("checkpoint", str(output / "checkpoint.pt"))
    Console(stderr=True).print(table)
