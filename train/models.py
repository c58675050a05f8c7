"""The networks: one table of model name -> builder and the attribute that holds its classifier."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision import models as tv

from train.errors import TrainError


class TinyNet(nn.Module):
    """A four-layer CNN for tests and the CPU demo (32 px inputs); not a research model."""

    def __init__(self, num_classes: int = 10, width: int = 16):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.features = nn.Sequential(
            block(3, width), nn.MaxPool2d(2), block(width, 2 * width), nn.MaxPool2d(2),
            block(2 * width, 4 * width), nn.MaxPool2d(2), block(4 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


# name -> (builder taking num_classes, dotted path of the final linear layer)
MODELS: dict[str, tuple[Callable[[int], nn.Module], str]] = {
    "alexnet": (lambda n: tv.alexnet(weights=None, num_classes=n), "classifier.6"),
    "resnet18": (lambda n: tv.resnet18(weights=None, num_classes=n), "fc"),
    "resnet50": (lambda n: tv.resnet50(weights=None, num_classes=n), "fc"),
    "tiny": (lambda n: TinyNet(n), "fc"),
}


def check_model(name: str) -> str:
    if name not in MODELS:
        raise TrainError(f"Unknown model {name!r}: choose one of {', '.join(MODELS)}.")
    return name


def build_model(name: str, num_classes: int) -> nn.Module:
    return MODELS[check_model(name)][0](num_classes)


def check_input_size(model: nn.Module, name: str, size: int) -> None:
    """Fail in one sentence when `size` px inputs are too small for the network (e.g. AlexNet below 63 px)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
    except RuntimeError:
        raise TrainError(f"--model {name} cannot take {size} px inputs: raise the crop sizes.") from None
    finally:
        model.train(was_training)


def _parent_and_attr(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    *parents, attr = MODELS[name][1].split(".")
    module = model
    for part in parents:
        module = getattr(module, part) if not part.isdigit() else module[int(part)]
    return module, attr


def get_classifier(model: nn.Module, name: str) -> nn.Linear:
    parent, attr = _parent_and_attr(model, name)
    return parent[int(attr)] if attr.isdigit() else getattr(parent, attr)


def set_classifier(model: nn.Module, name: str, layer: nn.Module) -> None:
    parent, attr = _parent_and_attr(model, name)
    if attr.isdigit():
        parent[int(attr)] = layer
    else:
        setattr(parent, attr, layer)


def feature_dim(model: nn.Module, name: str) -> int:
    return get_classifier(model, name).in_features


def backbone(model: nn.Module, name: str) -> nn.Module:
    """The same network with its classifier replaced by the identity: image -> penultimate features."""
    set_classifier(model, name, nn.Identity())
    return model
