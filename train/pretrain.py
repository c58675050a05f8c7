"""`python -m train pretrain`: train a network from scratch on the labels of an image table.

Read top to bottom: set up, data, model, optimiser, resume, loop (train, evaluate, checkpoint, log), summary.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from train import checkpoint, distributed
from train.config import PretrainConfig, check, explicit, implied_sizes
from train.data.loaders import set_epoch
from train.data.tables import image_loader, load_tables
from train.distributed import print0
from train.errors import TrainError
from train.loops import AMP_DTYPES, classification_step, evaluate, train_one_epoch
from train.models import build_model, check_input_size, check_model
from train.output import check_folder, default_folder, make_folder, progress_bar, refuse_to_replace, write_log
from train.rng import seed_everything, set_rng_state
from train.schedule import continue_schedule, make_scheduler


def run(config: PretrainConfig, given: frozenset[str] | None = None) -> dict | None:
    """Train; return the final metrics (also in OUTPUT_DIR/metrics.jsonl and the checkpoint) on rank 0.
    `given`: the fields the command line set (None: those that differ from their defaults); a resumed run
    takes the others from its checkpoint."""
    given = explicit(config, given)
    config = implied_sizes(config, given)
    check(config)
    check_model(config.model)
    saved = checkpoint.load(config.resume, "pretrain") if config.resume else None  # before any data is read
    if saved is not None:
        config = checkpoint.resumed_config(config, given, saved, Path(config.resume))
    output = Path(config.output_dir or (Path(config.resume).parent if config.resume else default_folder("pretrain")))
    if not config.test_only:
        check_folder(output)
        refuse_to_replace(output, config.resume, config.overwrite)
    run = distributed.setup(config.device)
    if saved is not None:
        checkpoint.check_world_size(saved, Path(config.resume), run.world_size)
    seed_everything(config.seed, run.rank, config.use_deterministic_algorithms)
    amp_dtype = AMP_DTYPES[config.amp_dtype] if config.amp else None
    if amp_dtype == torch.float16 and run.device.type != "cuda":
        raise TrainError("--amp-dtype float16 needs CUDA; on the CPU use bfloat16.")

    # Data: the table names the images, the label of each, and the manifest it came from.
    table, val_table, val_rows = load_tables(config, check_files=run.is_main)
    train_rows = table.indices("train")
    if config.test_only and not val_rows:
        raise TrainError(f"{val_table.source} has no images in the val split to test on: give one with --val-table.")
    train_loader = image_loader(table, train_rows, config, run, train=True)
    val_loader = image_loader(val_table, val_rows, config, run, train=False)
    identity = table.identity()
    quiet = config.quiet or not run.is_main
    if not val_rows and not config.test_only:  # even under -q: a long run that reports nothing is a lost run
        why = "has no val split and no --val-table was given" if config.val_table is None else "has no val split"
        print0(f"Warning: NO VALIDATION IMAGES: {val_table.source} {why}, so this run will report no accuracy at any "
               "epoch; give a table of val images with --val-table (the README shows how to make val-127.parquet).")
    if not quiet:
        print0(f"{len(train_rows)} training and {len(val_rows)} validation images, {table.num_labels} labels "
               f"({identity['labels_recipe'] or 'no recipe recorded'}), {run.world_size} process(es) on {run.device}; "
               f"the run goes to {output}")

    # Model: keep the plain module for state_dict(); compile it, then wrap it in DDP for training (evaluation
    # runs outside DDP, since ranks' evaluation shards may differ in batch count).
    raw_model = build_model(config.model, table.num_labels)
    check_input_size(raw_model, config.model, min(config.train_crop_size, config.val_crop_size))
    raw_model = raw_model.to(run.device, memory_format=torch.channels_last if config.channels_last else torch.preserve_format)
    eval_model = torch.compile(raw_model) if config.compile else raw_model
    model = DDP(eval_model, device_ids=run.device_ids) if run.enabled else eval_model

    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    optimizer = torch.optim.SGD(raw_model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.wd,
                                nesterov=config.nesterov)
    scaler = torch.amp.GradScaler(run.device.type, enabled=amp_dtype == torch.float16)
    step = classification_step(model, criterion, run.device, amp_dtype, config.channels_last)

    start_epoch = 0
    history: list[dict] = []
    if saved is None:
        scheduler = make_scheduler(optimizer, config)
    else:
        checkpoint.check_same_data(saved, Path(config.resume), identity)
        checkpoint.load_weights(raw_model, saved["model"], Path(config.resume))
        optimizer.load_state_dict(saved["optimizer"])
        start_epoch = saved["epoch"] + 1
        epochs_before = saved.get("config", {}).get("epochs", config.epochs)
        scheduler, change = continue_schedule(optimizer, config, saved["lr_scheduler"], start_epoch, epochs_before)
        scaler.load_state_dict(saved["scaler"])
        set_rng_state(saved["rng"][run.rank])
        history = saved.get("history", [])
        if not quiet:
            print0(f"resumed from {config.resume} after epoch {start_epoch} of {config.epochs}")
        if change and run.is_main:
            print0(f"Note: {change}")

    if config.test_only:
        metrics = evaluate(eval_model, val_loader, run.device, amp_dtype, config.channels_last)
        distributed.cleanup()
        return metrics if run.is_main else None

    started = time.perf_counter()
    with progress_bar(not quiet) as progress:
        for epoch in range(start_epoch, config.epochs):
            set_epoch(train_loader, epoch)
            lr = optimizer.param_groups[0]["lr"]
            train_metrics = train_one_epoch(model, step, optimizer, train_loader, run.device, epoch, scaler, progress)
            scheduler.step()
            val_metrics = evaluate(eval_model, val_loader, run.device, amp_dtype, config.channels_last) if val_rows else {}
            history.append({"epoch": epoch + 1, "lr": lr, **{f"train_{k}": v for k, v in train_metrics.items()},
                            **{f"val_{k}": v for k, v in val_metrics.items()}})
            if not quiet:
                progress.console.print(
                    f"epoch {epoch + 1}/{config.epochs}  lr {lr:.4g}  loss {train_metrics['loss']:.4f}  "
                    f"train top-1 {train_metrics['top1']:.1f}%"
                    + (f"  val top-1 {val_metrics['top1']:.1f}%  top-5 {val_metrics['top5']:.1f}%" if val_metrics else "")
                    + f"  {train_metrics['images_per_s']:.0f} img/s",
                    highlight=False,
                )
            rng = checkpoint.every_rank_rng_state(run)  # so a resumed run draws what this one would have
            if run.is_main:
                make_folder(output)
                checkpoint.save(
                    output / "checkpoint.pt", kind="pretrain", model=raw_model.state_dict(),
                    optimizer=optimizer.state_dict(), lr_scheduler=scheduler.state_dict(),
                    scaler=scaler.state_dict(), epoch=epoch, rng=rng, model_name=config.model,
                    num_labels=table.num_labels, label_wnids=table.label_wnids, data=identity,
                    config=checkpoint.config_record(config), history=history,
                )
                write_log(output / "metrics.jsonl", history)  # after the checkpoint: the log is never ahead of it
    final = {"model": config.model, "augment": config.augment, "epochs": config.epochs, **identity,
             "label_count": table.num_labels, "output_dir": str(output), "minutes": (time.perf_counter() - started) / 60, **(history[-1] if history else {})}
    if run.is_main and not config.quiet:
        summary(final, output)
    distributed.cleanup()
    return final if run.is_main else None


def summary(final: dict, output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pretrain summary", show_header=False)
    for key in ("model", "augment", "label_count", "labels_recipe", "labels_hash", "epochs", "train_loss", "train_top1",
                "val_top1", "val_top5", "minutes"):
        if key in final:
            value = final[key]
            table.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
    if output is not None:
        table.add_row("checkpoint", str(output / "checkpoint.pt"))
    Console(stderr=True).print(table)
