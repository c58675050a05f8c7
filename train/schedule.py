"""The learning-rate schedule, per epoch: optional linear warm-up, then step, cosine or constant
(torchvision's reference options)."""

from __future__ import annotations

import torch

from train.config import Training


def make_scheduler(optimizer: torch.optim.Optimizer, config: Training):
    warmup = config.lr_warmup_epochs
    if config.lr_scheduler == "step":
        main = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step_size, gamma=config.lr_gamma)
    elif config.lr_scheduler == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs - warmup), eta_min=config.lr_min)
    else:
        main = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if warmup <= 0:
        return main
    first = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=config.lr_warmup_decay, total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [first, main], milestones=[warmup])
