"""The loops and the checkpoint: one train_one_epoch, one evaluate, one feature extractor; save and resume."""

from __future__ import annotations

import math
import os
import random
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn

from train.data import to_device
from train.distributed import all_gather_cat, all_reduce_sum
from train.errors import TrainError
from train.metrics import mean_ap, topk_correct

AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def autocast(device: torch.device, amp_dtype: torch.dtype | None):
    """The one mixed-precision path: autocast to `amp_dtype` (None: full precision)."""
    if amp_dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=amp_dtype)


def progress_bar(enabled: bool):
    """A rich progress bar on stderr, shown only on a terminal (rank 0 decides `enabled`)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(), console=console, transient=True, disable=not (enabled and console.is_terminal),
    )


def train_one_epoch(model: nn.Module, criterion, optimizer: torch.optim.Optimizer, loader, device: torch.device,
                    epoch: int, scaler: torch.amp.GradScaler, amp_dtype: torch.dtype | None = None,
                    channels_last: bool = False, progress=None, status_every: int = 50) -> dict[str, float]:
    """One pass over `loader`; returns mean loss, top-1 (percent, single-label only) and images/s.

    Sums stay on the device, so the host never waits for the GPU within a step; it reads the loss every
    `status_every` steps (progress bar, divergence check) and once at the end."""
    model.train()
    task = progress.add_task(f"epoch {epoch}", total=len(loader), status="") if progress is not None else None
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    single_label = True
    start = time.perf_counter()
    for step, (images, targets) in enumerate(loader):
        images = to_device(images, device, channels_last)
        targets = targets.to(device, non_blocking=True)
        single_label = targets.dim() == 1
        with autocast(device, amp_dtype):
            logits = model(images)
            loss = criterion(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss_sum += loss.detach() * len(images)
        if single_label:
            correct += (logits.detach().argmax(dim=1) == targets).sum()
        seen += len(images)
        if step % status_every == 0:
            check_finite(loss.item(), epoch, step)
            if task is not None:
                progress.update(task, status=f"loss {loss.item():.3f}")
        if task is not None:
            progress.update(task, advance=1)
    check_finite(loss_sum.item(), epoch, len(loader) - 1)
    elapsed = time.perf_counter() - start
    if task is not None:
        progress.remove_task(task)
    loss_sum, correct, seen = all_reduce_sum([loss_sum.item(), correct.item(), seen], device)
    metrics = {"loss": loss_sum / seen, "images_per_s": seen / elapsed}
    return {**metrics, "top1": 100 * correct / seen} if single_label else metrics


def check_finite(loss: float, epoch: int, step: int) -> None:
    if not math.isfinite(loss):
        raise TrainError(f"The loss became {loss} by epoch {epoch}, step {step}: lower --lr.")


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, amp_dtype: torch.dtype | None = None,
             channels_last: bool = False, multilabel: bool = False) -> dict[str, float]:
    """Single-label: loss, top-1 and top-5 (percent). Multi-label (VOC): mean AP by the VOC 2007 rule (percent).

    Under DDP each rank sees a disjoint shard (no padding); counts are summed, scores gathered.
    """
    model.eval()
    if multilabel:
        scores, truth = [], []
        for images, targets in loader:
            with autocast(device, amp_dtype):
                logits = model(to_device(images, device, channels_last))
            scores.append(logits.float().cpu())
            truth.append(targets)
        scores, truth = all_gather_cat(torch.cat(scores)), all_gather_cat(torch.cat(truth))
        return {"map": 100 * mean_ap(scores, truth)[0], "images": len(scores)}
    loss_sum = top1 = top5 = seen = 0.0
    for images, targets in loader:
        targets = targets.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model(to_device(images, device, channels_last))
        logits = logits.float()
        loss_sum += nn.functional.cross_entropy(logits, targets, reduction="sum").item()
        c1, c5 = topk_correct(logits, targets, (1, 5))
        top1, top5, seen = top1 + c1, top5 + c5, seen + len(targets)
    loss_sum, top1, top5, seen = all_reduce_sum([loss_sum, top1, top5, seen], device)
    return {"loss": loss_sum / seen, "top1": 100 * top1 / seen, "top5": 100 * top5 / seen, "images": int(seen)}


@torch.no_grad()
def extract_features(model: nn.Module, loader, device: torch.device, amp_dtype: torch.dtype | None = None,
                     channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (`model` is a backbone) and targets of every sample, gathered over ranks."""
    model.eval()
    features, targets = [], []
    for images, target in loader:
        with autocast(device, amp_dtype):
            features.append(model(to_device(images, device, channels_last)).float().cpu())
        targets.append(torch.as_tensor(target))
    return all_gather_cat(torch.cat(features)), all_gather_cat(torch.cat(targets))


# --- optimisation ----------------------------------------------------------------------------------------


def make_scheduler(optimizer, args, epochs: int):
    """Per-epoch LR schedule: optional linear warm-up, then step or cosine decay (torchvision's options)."""
    warmup = args.lr_warmup_epochs
    if args.lr_scheduler == "step":
        main = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_step_size, gamma=args.lr_gamma)
    elif args.lr_scheduler == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs - warmup), eta_min=args.lr_min)
    else:
        main = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if warmup <= 0:
        return main
    first = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=args.lr_warmup_decay, total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [first, main], milestones=[warmup])


# --- reproducibility and checkpoints ---------------------------------------------------------------------


def seed_everything(seed: int, rank: int = 0, deterministic: bool = False) -> None:
    """Seed every RNG (per rank); choose bitwise-reproducible kernels, or the fastest ones (cuDNN autotuning,
    TF32 matmuls and convolutions on Ampere and later GPUs; no effect on the CPU)."""
    torch.manual_seed(seed + rank)
    random.seed(seed + rank)
    np.random.seed(seed + rank)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def rng_state() -> dict:
    """Every RNG the run draws from, in types torch.load(weights_only=True) accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def make_output_dir(path: Path) -> None:
    """Create --output-dir, or say in one sentence why it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrainError(f"Cannot create --output-dir {path}: {error.strerror or error}.") from None


def save_checkpoint(path: Path, **state) -> None:
    """Write atomically: an interrupted save never leaves a half checkpoint behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, kind: str = "pretrain") -> dict:
    """A checkpoint written by this module, loaded on the CPU with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"The checkpoint {path} does not exist.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types for a foreign or damaged file
        raise TrainError(f"{path} is not a checkpoint this module can read (foreign or damaged file).") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "model_name" not in checkpoint:
        raise TrainError(f"{path} is a torch file but not a `python -m train` checkpoint.")
    if kind is not None and checkpoint.get("kind") != kind:
        raise TrainError(f"{path} is a {checkpoint.get('kind')} checkpoint, not a {kind} checkpoint.")
    return checkpoint


def check_same_run(checkpoint: dict, path: Path, model_name: str, data: dict[str, str]) -> None:
    """Refuse to resume a checkpoint of another model or of another manifest."""
    if checkpoint["model_name"] != model_name:
        raise TrainError(f"{path} holds a {checkpoint['model_name']} model, not --model {model_name}: "
                         "resume with the model it was trained with.")
    old = checkpoint["data"]
    if old["labels_hash"] != data["labels_hash"]:
        raise TrainError(
            f"{path} was trained on another label set ({old['labels_recipe']}, {old['labels_hash'][:19]}) than "
            f"{data['table']} ({data['labels_recipe']}, {data['labels_hash'][:19]}): start a new run instead of --resume."
        )
    if old["table_hash"] != data["table_hash"]:
        raise TrainError(
            f"{path} was trained on another image table ({old['table_hash'][:19]}) than {data['table']} "
            f"({data['table_hash'][:19]}): start a new run instead of --resume."
        )


def load_model_state(model: nn.Module, state: dict, path: Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise TrainError(f"The weights in {path} do not fit this network: the checkpoint is from another model.") from None
