"""The optimiser: SGD whose parameter groups give each parameter the learning rate and weight decay Caffe's
prototxts give it with `lr_mult` and `decay_mult`.

    optimizer = sgd(model, config)                                   # pretrain
    optimizer = sgd(model, config, pretrained, backbone_lr_scale)    # finetune: pretrained layers at LR x scale

A bias (a parameter named `bias`, as torchvision's --bias-weight-decay finds them) learns at --lr times
--bias-lr-scale with --bias-weight-decay (else --wd); a pretrained parameter at --backbone-lr-scale times
that; every other trainable parameter at --lr with --wd. Frozen parameters are left out.
"""

from __future__ import annotations

import torch
from torch import nn


def is_bias(name: str) -> bool:
    return name.rpartition(".")[2] == "bias"


def parameter_groups(model: nn.Module, config, pretrained: set[int] = frozenset(), backbone_lr_scale: float = 1.0) -> list[dict]:
    """The trainable parameters of `model` grouped by learning rate and weight decay, in the order the model
    holds them; the groups at --lr itself come last (the epoch line reports the last group's LR). `pretrained`:
    the ids of the parameters that came pretrained."""
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        bias = is_bias(name)
        scale = (backbone_lr_scale if id(parameter) in pretrained else 1.0) * (config.bias_lr_scale if bias else 1.0)
        decay = config.bias_weight_decay if bias and config.bias_weight_decay is not None else config.wd
        groups.setdefault((scale, decay), []).append(parameter)
    made = [{"params": params, "lr": config.lr * scale, "weight_decay": decay} for (scale, decay), params in groups.items()]
    return sorted(made, key=lambda group: group["lr"] == config.lr)  # stable: the model's order otherwise


def sgd(model: nn.Module, config, pretrained: set[int] = frozenset(), backbone_lr_scale: float = 1.0) -> torch.optim.SGD:
    """SGD with --momentum and --nesterov over `parameter_groups`."""
    return torch.optim.SGD(parameter_groups(model, config, pretrained, backbone_lr_scale), lr=config.lr,
                           momentum=config.momentum, weight_decay=config.wd, nesterov=config.nesterov)
