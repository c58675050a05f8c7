"""The learning-rate schedule: optional linear warm-up, then step, cosine or constant (torchvision's reference
options), stepped once an epoch, or once an SGD step for a run whose length is in `iterations`."""

from __future__ import annotations

import warnings

import torch

from train.config import Training, length_of


def make_scheduler(optimizer: torch.optim.Optimizer, config: Training):
    """The schedule over the run's length, in the run's unit (`length_of`)."""
    length, _ = length_of(config)
    warmup = config.lr_warmup_epochs
    if config.lr_scheduler == "step":
        main = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step_size, gamma=config.lr_gamma)
    elif config.lr_scheduler == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, length - warmup), eta_min=config.lr_min)
    else:
        main = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if warmup <= 0:
        return main
    first = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=config.lr_warmup_decay, total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [first, main], milestones=[warmup])


def continue_schedule(optimizer: torch.optim.Optimizer, config: Training, state: dict, done: int, before: int):
    """The schedule of a resumed run that has done `done` epochs (or steps, `length_of`), its optimizer state
    loaded: the checkpoint's own schedule (`state`) when the run keeps its length (`before`); laid out again over
    the new length and stepped `done` times when it does not. Returns the scheduler, and a sentence saying how
    the LR goes on when the length changed (else None)."""
    length, unit = length_of(config)
    if length == before:
        scheduler = make_scheduler(optimizer, config)
        scheduler.load_state_dict(state)
        for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr()):
            group["lr"] = lr  # making the scheduler set the LR of epoch 0
        return scheduler, None
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"]  # a schedule is laid out from the base LR
    scheduler = make_scheduler(optimizer, config)
    with warnings.catch_warnings():  # stepping with no optimizer step in between is what we mean here
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(done):
            scheduler.step()
    lr = optimizer.param_groups[0]["lr"]
    how = ("is laid out again over" if config.lr_scheduler == "cosine"
           else "does not depend on the run's length: it goes on as it would have, now over")
    flag = "--iterations" if config.iterations else "--epochs"
    return scheduler, (f"{flag} {length} changes the run's length from {before} {unit}s: the {config.lr_scheduler} "
                       f"schedule {how} {length} {unit}s, and {unit} {done + 1} starts at LR {lr:.4g}.")
