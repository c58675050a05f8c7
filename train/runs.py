"""The skeleton every training command shares (pretrain, finetune): set up, resume, the epoch loop, the
checkpoint and the log. A command says only what is its own: its data, its model, its step and its scores.

    run = Run.start("pretrain", config, given, settle=implied_settings)  # settings, folder, processes, seeds
    eval_model, model = run.wrap(raw_model)                              # compiled, then DDP for training
    history = run.fit(model, raw_model, optimizer, step, loader, scores, state)

A run's folder is created when the run first writes into it, so a run that fails at the start leaves none;
its log (metrics.jsonl) is rewritten whole (atomically) after each checkpoint from the history the checkpoint
carries, so it never holds an epoch the checkpoint does not, and a resumed run never repeats a line.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from curate.fileio import atomic_path, check_folder_writable, make_folder
from curate.interrupts import Terminated, sentence as interrupted
from curate.progress import progress_bar
from train import checkpoint, distributed
from train.claims import claim
from train.config import check, explicit
from train.data.loaders import set_epoch
from train.distributed import print0
from train.errors import TrainError
from train.loops import precision, train_one_epoch
from train.rng import seed_everything
from train.schedule import make_scheduler

RUNS = Path("runs")  # where a run without --output-dir goes


@dataclass
class Run:
    """One training run: its settings (a resumed run's from its checkpoint), the checkpoint it resumes, its
    folder, its processes and its precision."""

    kind: str  # "pretrain" or "finetune": the kind of checkpoint it writes and resumes
    config: object
    given: frozenset[str]  # the settings the caller gave (the others took their defaults, or the checkpoint's)
    saved: dict | None
    folder: Path
    dist: distributed.Dist
    amp_dtype: torch.dtype | None
    epochs: int = 0  # the epochs the run trains: its `epochs`, or as many as its `iterations` take (`fit` knows)

    @classmethod
    def start(cls, kind: str, config, given: frozenset[str] | None, settle: Callable = lambda config, given: config) -> Run:
        """Settle and check the settings (`settle` fills in the defaults that depend on other settings; a
        resumed run takes its run settings from the checkpoint instead), check the folder, start the processes,
        seed every RNG. `given`: the fields the command line set (None: those that differ from their defaults)."""
        given = explicit(config, given)
        if {"epochs", "iterations"} <= given:
            raise TrainError("Give the run's length as `epochs` or as `iterations`, not both.")
        saved = checkpoint.load(config.resume, kind) if config.resume else None  # before any data is read
        check(config)  # what the caller gave; then what it implies (a resumed run's were checked when it started)
        if saved is not None:
            config = checkpoint.resumed_config(config, given, saved, Path(config.resume))
        else:
            config = settle(config, given)
            check(config)
        folder = Path(config.output_dir or (Path(config.resume).parent if config.resume else default_folder(kind)))
        if not getattr(config, "test_only", False):
            check_folder(folder)
            if os.environ.get("RANK", "0") == "0":  # rank 0 writes the folder; under torchrun the others share its claim
                claim(folder, "run")
            refuse_to_replace(folder, config.resume, config.overwrite)
        dist = distributed.setup(config.device)
        if saved is not None:
            checkpoint.check_world_size(saved, Path(config.resume), dist.world_size)
        seed_everything(config.seed, dist.rank, config.use_deterministic_algorithms)
        return cls(kind, config, given, saved, folder, dist, precision(config.amp, config.amp_dtype, dist.device))

    @property
    def quiet(self) -> bool:
        return self.config.quiet or not self.dist.is_main

    def say(self, line: str) -> None:
        if not self.quiet:
            print0(line)

    def wrap(self, raw_model: nn.Module) -> tuple[nn.Module, nn.Module]:
        """The model on the run's device, for evaluation (compiled if asked) and for training (that, in DDP
        when distributed). Keep `raw_model` for state_dict(); evaluation runs outside DDP, since ranks'
        evaluation shards may differ in batch count."""
        raw_model.to(self.dist.device, memory_format=torch.channels_last if self.config.channels_last else torch.preserve_format)
        eval_model = torch.compile(raw_model) if self.config.compile else raw_model
        model = DDP(eval_model, device_ids=self.dist.device_ids) if self.dist.enabled else eval_model
        return eval_model, model

    def fit(self, model: nn.Module, raw_model: nn.Module, optimizer: torch.optim.Optimizer, step, loader,
            scores: Callable[[int], dict], state: dict) -> list[dict]:
        """Train from the first epoch not done to the last: each epoch one pass of `step` over `loader`, then
        `scores(epoch)` (the evaluation: called on every rank, it may gather), a line on stderr, and a
        checkpoint holding `state` (what this kind of run records besides the weights and the schedule) and
        the history so far. Returns the history, one record per epoch."""
        config = self.config
        per_epoch = len(loader)
        self.epochs = math.ceil(config.iterations / per_epoch) if config.iterations else config.epochs
        scaler = torch.amp.GradScaler(self.dist.device.type, enabled=self.amp_dtype == torch.float16)
        if self.saved is None:
            scheduler, first, history = make_scheduler(optimizer, config), 0, []
        else:
            scheduler, first, history, change = checkpoint.restore(self.saved, Path(config.resume), raw_model, optimizer,
                                                                   scaler, config, self.dist.rank)
            self.say(f"resumed from {config.resume} after epoch {first} of {self.epochs}")
            if change and self.dist.is_main:
                print0(f"Note: {change}")
        by_step = scheduler.step if config.iterations else None  # a run counted in steps steps its schedule each step
        with progress_bar(enabled=not self.quiet) as progress:
            for epoch in range(first, self.epochs):
                set_epoch(loader, epoch)
                lr = optimizer.param_groups[-1]["lr"]  # the new layers' LR where pretrained ones learn slower
                limit = config.iterations - epoch * per_epoch if config.iterations else None
                trained = train_one_epoch(model, step, optimizer, loader, self.dist.device, epoch, scaler, progress,
                                          steps=limit, after_step=by_step)
                if by_step is None:
                    scheduler.step()
                history.append({"epoch": epoch + 1, "lr": lr, **{f"train_{k}": v for k, v in trained.items()},
                                **scores(epoch)})
                self.say(epoch_line(history[-1], self.epochs))
                rng = checkpoint.every_rank_rng_state(self.dist)  # so a resumed run draws what this one would have
                steps = (epoch + 1) * per_epoch if not config.iterations else min((epoch + 1) * per_epoch, config.iterations)
                if self.dist.is_main:
                    make_folder(self.folder)
                    checkpoint.save(self.folder / "checkpoint.pt", kind=self.kind, model=raw_model.state_dict(),
                                    optimizer=optimizer.state_dict(), lr_scheduler=scheduler.state_dict(),
                                    scaler=scaler.state_dict(), epoch=epoch, steps=steps, rng=rng,
                                    config=checkpoint.config_record(config), history=history, **state)
                    write_log(self.folder / "metrics.jsonl", history)  # after the checkpoint: never ahead of it
        return history

    def finish(self, result: dict, summary: Callable[[], None] | None = None) -> dict | None:
        """The run's `result` (on rank 0), once its outputs are all written: show the `summary` and end the
        processes. An interrupt now cuts only that short; the run is complete, so it says so and ends well."""
        try:
            if summary is not None and not self.quiet:
                summary()
            distributed.cleanup()
        except (KeyboardInterrupt, Terminated) as interrupt:
            print0(f"{interrupted(interrupt)[:-1]} after the run was complete: {self.folder} holds all its outputs.")
        return result if self.dist.is_main else None


def epoch_line(record: dict, epochs: int) -> str:
    """One epoch on stderr: its LR, loss and scores, and the training speed."""
    parts = [f"epoch {record['epoch']}/{epochs}", f"lr {record['lr']:.4g}", f"loss {record['train_loss']:.4f}"]
    for split in ("train", "val", "test"):
        if f"{split}_map" in record:
            parts.append(f"{split} mAP {record[f'{split}_map']:.1f}")
        elif f"{split}_top1" in record:
            parts.append(f"{split} top-1 {record[f'{split}_top1']:.1f}%")
            if f"{split}_top5" in record:
                parts.append(f"top-5 {record[f'{split}_top5']:.1f}%")
            if record.get(f"{split}_mistake_severity") is not None:
                parts.append(f"mistake severity {record[f'{split}_mistake_severity']:.2f}")
    return "  ".join([*parts, f"{record['train_images_per_s']:.0f} img/s"])


def default_folder(command: str) -> Path:
    """A new folder under runs/ for a run given no --output-dir: runs/<command>-<UTC date and time>."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    folder, n = RUNS / f"{command}-{stamp}", 1
    while folder.exists():
        n += 1
        folder = RUNS / f"{command}-{stamp}-{n}"
    return folder


def check_folder(path: Path) -> None:
    """Fail in one sentence, before any work, when the run folder `path` could not be created or written."""
    if str(path) == "-":
        raise TrainError("`output_dir` cannot be - (standard output): the outputs are files, so give a folder to write "
                         "them into.")
    if path.exists() and not path.is_dir():
        raise TrainError(f"`output_dir` {path} is a file, not a folder.")
    check_folder_writable(path, "the run")


def refuse_to_replace(path: Path, resuming: Path | None, overwrite: bool) -> None:
    """A run never writes over another run's checkpoint.pt unless it continues that very checkpoint (--resume)
    or is told to (--overwrite)."""
    existing = path / "checkpoint.pt"
    if overwrite or not existing.is_file() or (resuming is not None and existing.samefile(resuming)):
        return
    raise TrainError(f"{path} already holds a run (checkpoint.pt): continue it with `resume` {existing}, replace it with "
                     "`overwrite`, or give another `output_dir`.")


def write_json(path: Path, value: dict) -> None:
    """A record (results.json, a grid cell's done.json) as indented JSON, written whole and atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def write_log(path: Path, history: list[dict]) -> None:
    """metrics.jsonl: one line per epoch of `history`, its scalars (per-class APs stay in the checkpoint and
    results.json), written whole and atomically."""
    lines = [{key: value for key, value in record.items() if not isinstance(value, (dict, list))} for record in history]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))
