"""`python -m train pretrain`: train a network from scratch on the labels of an image table.

Read top to bottom: set up, data, model, optimiser, resume, loop (train, evaluate, checkpoint, log), summary.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from train import distributed
from train.data import ImageDataset, eval_transform, load_tables, make_loader, train_transform
from train.distributed import print0
from train.engine import (
    AMP_DTYPES, check_same_run, evaluate, load_checkpoint, load_model_state, make_output_dir, make_scheduler,
    progress_bar, rng_state, save_checkpoint, seed_everything, set_rng_state, train_one_epoch,
)
from train.errors import TrainError
from train.metrics import JsonLog
from train.models import build_model, check_input_size, check_model


def main(args) -> dict:
    """Train; return the final metrics (also in OUTPUT_DIR/metrics.jsonl and the checkpoint)."""
    check_model(args.model)
    run = distributed.setup(args.device)
    seed_everything(args.seed, run.rank, args.use_deterministic_algorithms)
    amp_dtype = AMP_DTYPES[args.amp_dtype] if args.amp else None
    if amp_dtype == torch.float16 and run.device.type != "cuda":
        raise TrainError("--amp-dtype float16 needs CUDA; on the CPU use bfloat16.")
    output = Path(args.output_dir) if args.output_dir else None
    if output is not None and run.is_main:
        make_output_dir(output)

    # Data: the table names the images, the label of each, and the manifest it came from.
    table, val_table, val_rows = load_tables(args, check_files=run.is_main)
    train_set = ImageDataset(table, table.indices("train"), train_transform(args.train_crop_size, args.min_scale))
    val_set = ImageDataset(val_table, val_rows, eval_transform(args.val_resize_size, args.val_crop_size))
    train_loader = make_loader(train_set, args.batch_size, args.workers, True, run.rank, run.world_size, args.seed)
    val_loader = make_loader(val_set, args.batch_size, args.workers, False, run.rank, run.world_size)
    identity = table.identity()
    quiet = args.quiet or not run.is_main
    if not quiet:
        print0(f"{len(train_set)} training and {len(val_set)} validation images, {table.num_classes} classes "
               f"({identity['labels_recipe'] or 'no recipe recorded'}), {run.world_size} process(es) on {run.device}")

    # Model: keep the plain module for state_dict(); compile, then wrap in DDP.
    model = build_model(args.model, table.num_classes)
    check_input_size(model, args.model, min(args.train_crop_size, args.val_crop_size))
    raw_model, eval_model, model = distributed.prepare_model(model, run, args.channels_last, args.compile)

    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    optimizer = torch.optim.SGD(raw_model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.wd,
                                nesterov=args.nesterov)
    scheduler = make_scheduler(optimizer, args, args.epochs)
    scaler = torch.amp.GradScaler(run.device.type, enabled=amp_dtype == torch.float16)

    start_epoch = 0
    history: list[dict] = []
    if args.resume:
        checkpoint = load_checkpoint(args.resume, "pretrain")
        check_same_run(checkpoint, Path(args.resume), args.model, identity)
        load_model_state(raw_model, checkpoint["model"], Path(args.resume))
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["lr_scheduler"])
        scaler.load_state_dict(checkpoint["scaler"])
        set_rng_state(checkpoint["rng"][min(run.rank, len(checkpoint["rng"]) - 1)])
        start_epoch = checkpoint["epoch"] + 1
        history = checkpoint.get("history", [])
        if not quiet:
            print0(f"resumed from {args.resume} at epoch {start_epoch}")

    if args.test_only:
        metrics = evaluate(eval_model, val_loader, run.device, amp_dtype, args.channels_last)
        distributed.cleanup()
        return metrics if run.is_main else None

    log = JsonLog(output / "metrics.jsonl" if output is not None and run.is_main else None, append=bool(args.resume))
    started = time.perf_counter()
    with progress_bar(not quiet) as progress:
        for epoch in range(start_epoch, args.epochs):
            train_loader.sampler.set_epoch(epoch)
            lr = optimizer.param_groups[0]["lr"]
            train_metrics = train_one_epoch(model, criterion, optimizer, train_loader, run.device, epoch, scaler,
                                            amp_dtype, args.channels_last, progress)
            scheduler.step()
            val_metrics = evaluate(eval_model, val_loader, run.device, amp_dtype, args.channels_last) if len(val_set) else {}
            record = {"epoch": epoch, "lr": lr, **{f"train_{k}": v for k, v in train_metrics.items()},
                      **{f"val_{k}": v for k, v in val_metrics.items()}}
            history.append(record)
            log.write(**record)
            if not quiet:
                progress.console.print(
                    f"epoch {epoch + 1}/{args.epochs}  lr {lr:.4g}  loss {train_metrics['loss']:.4f}  "
                    f"train top-1 {train_metrics['top1']:.1f}%"
                    + (f"  val top-1 {val_metrics['top1']:.1f}%  top-5 {val_metrics['top5']:.1f}%" if val_metrics else "")
                    + f"  {train_metrics['images_per_s']:.0f} img/s",
                    highlight=False,
                )
            if output is not None:
                # Every rank's RNG state travels in the checkpoint, so resume continues the same run.
                states = [rng_state()]
                if run.enabled:
                    states = [None] * run.world_size
                    torch.distributed.all_gather_object(states, rng_state())
                if run.is_main:
                    save_checkpoint(
                        output / "checkpoint.pt", kind="pretrain", model=raw_model.state_dict(),
                        optimizer=optimizer.state_dict(), lr_scheduler=scheduler.state_dict(),
                        scaler=scaler.state_dict(), epoch=epoch, rng=states, model_name=args.model,
                        num_classes=table.num_classes, label_wnids=table.label_wnids, data=identity,
                        args={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"},
                        history=history,
                    )
    final = {"model": args.model, "epochs": args.epochs, **identity, "classes": table.num_classes,
             "minutes": (time.perf_counter() - started) / 60, **(history[-1] if history else {})}
    if run.is_main and not args.quiet:
        summary(final, output)
    distributed.cleanup()
    return final if run.is_main else None


def summary(final: dict, output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pretrain summary", show_header=False)
    for key in ("model", "classes", "labels_recipe", "labels_hash", "epochs", "train_loss", "train_top1", "val_top1",
                "val_top5", "minutes"):
        if key in final:
            value = final[key]
            table.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
    if output is not None:
        table.add_row("checkpoint", str(output / "checkpoint.pt"))
    Console(stderr=True).print(table)
