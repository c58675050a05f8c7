"""The loops: one train_one_epoch, one evaluate, one feature extractor; and the one mixed-precision path."""

from __future__ import annotations

import math
import time
from contextlib import nullcontext

import torch
from torch import nn

from curate.progress import Progress, no_progress
from train.data.loaders import to_device
from train.distributed import all_gather_cat, all_reduce_sum, broadcast_buffers
from train.errors import TrainError
from train.levels import LevelLoss, LevelTree
from train.metrics import lca_heights, topk_correct
from train.voc_eval import classification_ap, mean_ap

AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def precision(amp: bool, amp_dtype: str, device: torch.device) -> torch.dtype | None:
    """The type a run autocasts to (None: full precision); float16 only on CUDA, where a GradScaler goes with it."""
    dtype = AMP_DTYPES[amp_dtype] if amp else None
    if dtype == torch.float16 and device.type != "cuda":
        raise TrainError("`amp_dtype` float16 needs CUDA; on the CPU use bfloat16.")
    return dtype


def autocast(device: torch.device, amp_dtype: torch.dtype | None):
    """The one mixed-precision path: autocast to `amp_dtype` (None: full precision)."""
    if amp_dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=amp_dtype)


def classification_step(model: nn.Module, criterion, device: torch.device, amp_dtype: torch.dtype | None = None,
                        channels_last: bool = False, *, input_norm: str, scored: slice = slice(None)):
    """The training step of a classifier for `train_one_epoch`: (loss, images, correct top-1 of the outputs
    `scored`, or None for multi-label targets) of a batch, fed to the network as `input_norm` says
    (`loaders.INPUT_NORMS`). `scored`: the finest level's outputs of a network with a head per level."""

    def step(images, targets):
        images = to_device(images, device, channels_last, input_norm)
        targets = targets.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model(images)
            loss = criterion(logits, targets)
        correct = (logits.detach()[:, scored].argmax(dim=1) == targets).sum() if targets.dim() == 1 else None
        return loss, len(images), correct

    return step


def train_one_epoch(model: nn.Module, step, optimizer: torch.optim.Optimizer, loader, device: torch.device, epoch: int,
                    scaler: torch.amp.GradScaler, progress: Progress = no_progress, status_every: int = 50, steps: int | None = None,
                    after_step=None) -> dict[str, float]:
    """One pass over `loader` (its first `steps` batches, if given), each batch through `step(*batch)` ->
    (loss, samples, correct top-1 or None), then `after_step()` if given (a schedule counting steps); returns
    mean loss, top-1 (percent, where the step counts it) and samples/s.

    Sums stay on the device, so the host never waits for the GPU within a step; it reads the loss every
    `status_every` steps (progress bar, divergence check) and once at the end."""
    model.train()
    total = len(loader) if steps is None else min(steps, len(loader))
    advance = progress(f"epoch {epoch + 1}", total)
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    single_label = True
    start = time.perf_counter()
    for number, batch in enumerate(loader):
        loss, samples, right = step(*batch[:2])
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if after_step is not None:
            after_step()
        loss_sum += loss.detach() * samples
        single_label = right is not None
        if single_label:
            correct += right
        seen += samples
        status = None
        if number % status_every == 0:
            check_finite(loss.item(), epoch, number)
            status = f"loss {loss.item():.3f}"
        advance(1, status)
        if number + 1 == total:  # the last step of a run counted in steps; else the loader's end
            break
    check_finite(loss_sum.item(), epoch, total - 1)
    broadcast_buffers(model)
    elapsed = time.perf_counter() - start
    loss_sum, correct, seen = all_reduce_sum([loss_sum.item(), correct.item(), seen], device)
    metrics = {"loss": loss_sum / seen, "images_per_s": seen / elapsed}
    return {**metrics, "top1": 100 * correct / seen} if single_label else metrics


def check_finite(loss: float, epoch: int, step: int) -> None:
    if not math.isfinite(loss):
        raise TrainError(f"The loss became {loss} by epoch {epoch + 1}, step {step + 1}: lower `lr`.")


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, amp_dtype: torch.dtype | None = None,
             channels_last: bool = False, rule: str | None = None, *, input_norm: str,
             levels: LevelTree | None = None) -> dict:
    """Single-label: loss, top-1 and top-5 (percent); with `levels` (a head per level), those of the finest
    level and what `level_scores` adds. Multi-label (VOC; `rule` voc07 or voc12): the AP of each class
    (percent, `voc_eval.classification_ap`) and their mean over the classes with a positive.

    Under DDP each rank sees a disjoint shard (no padding); counts are summed, scores gathered.
    """
    model.eval()
    if levels is not None:
        return level_scores(model, loader, device, levels, amp_dtype, channels_last, input_norm=input_norm)
    if rule is not None:
        scores, truth = [], []
        for images, targets in loader:
            scores.append(scores_of(model, images, device, amp_dtype, channels_last, input_norm=input_norm))
            truth.append(targets.to(device))
        scores = all_gather_cat(torch.cat(scores)).cpu().double().numpy()
        truth = all_gather_cat(torch.cat(truth)).cpu().numpy()
        aps = [100 * classification_ap(scores[:, c], truth[:, c], rule) for c in range(scores.shape[1])]
        return {"map": mean_ap(aps, [(truth[:, c] > 0).any() for c in range(truth.shape[1])]), "ap": aps,
                "images": len(scores)}
    loss_sum = top1 = top5 = seen = 0.0
    for images, targets in loader:
        targets = targets.to(device, non_blocking=True)
        logits = scores_of(model, images, device, amp_dtype, channels_last, input_norm=input_norm)
        loss_sum += nn.functional.cross_entropy(logits, targets, reduction="sum").item()
        c1, c5 = topk_correct(logits, targets, (1, 5))
        top1, top5, seen = top1 + c1, top5 + c5, seen + len(targets)
    loss_sum, top1, top5, seen = all_reduce_sum([loss_sum, top1, top5, seen], device)
    return {"loss": loss_sum / seen, "top1": 100 * top1 / seen, "top5": 100 * top5 / seen, "images": int(seen)}


def level_scores(model: nn.Module, loader, device: torch.device, levels: LevelTree, amp_dtype: torch.dtype | None = None,
                 channels_last: bool = False, *, input_norm: str) -> dict:
    """A network with a head per level: the loss (summed over levels), top-1 and top-5 of the finest level,
    `top1_level<i>` each level's head's top-1 (level 0 the coarsest), and the mistakes of the finest head: how
    many, `mistake_severity` their mean height of the lowest common ancestor of the predicted and true label in
    the level tree (`metrics.lca_heights`: 1 = same label one level up, ..., the number of levels = none
    shared), and `mistake_heights` how many at each height."""
    loss, ancestors, count = LevelLoss(levels).to(device), levels.ancestor_table(device), len(levels.label_counts)
    loss_sum = top5 = seen = 0.0
    right = torch.zeros(count, dtype=torch.int64, device=device)
    heights = torch.zeros(count + 1, dtype=torch.int64, device=device)
    for images, targets in loader:
        targets = targets.to(device, non_blocking=True)
        logits = scores_of(model, images, device, amp_dtype, channels_last, input_norm=input_norm)
        loss_sum += loss(logits, targets, reduction="sum").item()
        right += torch.stack([(part.argmax(dim=1) == level[targets]).sum()
                              for part, level in zip(levels.split(logits), ancestors)])
        finest = logits[:, levels.finest]
        top5, seen = top5 + topk_correct(finest, targets, (5,))[0], seen + len(targets)
        heights += torch.bincount(lca_heights(finest.argmax(dim=1), targets, ancestors), minlength=count + 1)
    loss_sum, top5, seen, *counts = all_reduce_sum([loss_sum, top5, seen, *right.tolist(), *heights.tolist()], device)
    right, heights = counts[:count], [int(n) for n in counts[count:]]
    mistakes = sum(heights[1:])
    return {"loss": loss_sum / seen, "top1": 100 * right[-1] / seen, "top5": 100 * top5 / seen, "images": int(seen),
            **{f"top1_level{i}": 100 * n / seen for i, n in enumerate(right)}, "mistakes": mistakes,
            "mistake_severity": sum(h * n for h, n in enumerate(heights)) / mistakes if mistakes else None,
            "mistake_heights": {str(h): n for h, n in enumerate(heights) if h}}


def scores_of(model: nn.Module, images: torch.Tensor, device: torch.device, amp_dtype: torch.dtype | None = None,
              channels_last: bool = False, *, input_norm: str) -> torch.Tensor:
    """fp32 outputs (logits, or a backbone's features) of a batch of images fed as `input_norm` says; of a batch
    of several crops an image (N, crops, 3, H, W), the mean of each image's crops' outputs."""
    crops = images.shape[1] if images.dim() == 5 else 0
    with autocast(device, amp_dtype):
        logits = model(to_device(images.flatten(0, 1) if crops else images, device, channels_last, input_norm)).float()
    return logits.view(-1, crops, logits.shape[1]).mean(dim=1) if crops else logits


@torch.no_grad()
def extract_features(model: nn.Module, loader, device: torch.device, amp_dtype: torch.dtype | None = None,
                     channels_last: bool = False, *, input_norm: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (fp32; `model` is a backbone) and targets of this rank's samples, on `device`:
    a k-NN bank stays sharded across ranks (`train.knn`)."""
    model.eval()
    features, targets = [], []
    for images, target in loader:
        features.append(scores_of(model, images, device, amp_dtype, channels_last, input_norm=input_norm))
        targets.append(torch.as_tensor(target).to(device))
    return torch.cat(features), torch.cat(targets)
