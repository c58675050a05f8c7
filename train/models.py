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


class CaffeNet(nn.Module):
    """AlexNet as Caffe trains it (`bvlc_reference_caffenet`), the network of Huh et al. 2016: 96 conv1
    filters, conv2/4/5 in two groups, local response normalisation after pools 1 and 2, pools in Caffe's ceil
    mode, dropout after the ReLUs of fc6 and fc7, and Caffe's initialisation. 227 px in, 6x6x256 out of pool5
    (60,965,224 parameters for 1000 classes). Laid out as torchvision's AlexNet (features, avgpool,
    classifier; the last Linear at classifier.6); the adaptive pool is the identity at 227 px and lets
    smaller inputs through."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()

        def lrn():  # torch divides alpha by the size, as Caffe does
            return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)

        def pool():
            return nn.MaxPool2d(3, stride=2, ceil_mode=True)

        def relu():
            return nn.ReLU(inplace=True)

        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), relu(), pool(), lrn(),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), relu(), pool(), lrn(),
            nn.Conv2d(256, 384, 3, padding=1), relu(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), relu(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), relu(), pool(),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096), relu(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), relu(), nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )
        # Caffe's models/bvlc_reference_caffenet/train_val.prototxt: gaussian weights (std 0.005 for fc6 and fc7, 0.01 for the others); biases 1
        # for conv2, conv4, conv5, fc6 and fc7, 0 for conv1, conv3 and fc8
        conv1, conv2, conv3, conv4, conv5 = (m for m in self.features if isinstance(m, nn.Conv2d))
        fc6, fc7, fc8 = (m for m in self.classifier if isinstance(m, nn.Linear))
        for layer, std, bias in ((conv1, 0.01, 0.0), (conv2, 0.01, 1.0), (conv3, 0.01, 0.0), (conv4, 0.01, 1.0),
                                 (conv5, 0.01, 1.0), (fc6, 0.005, 1.0), (fc7, 0.005, 1.0), (fc8, 0.01, 0.0)):
            nn.init.normal_(layer.weight, 0.0, std)
            nn.init.constant_(layer.bias, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# name -> (builder taking num_classes, dotted path of the final linear layer)
MODELS: dict[str, tuple[Callable[[int], nn.Module], str]] = {
    "alexnet": (lambda n: tv.alexnet(weights=None, num_classes=n), "classifier.6"),  # "one weird trick" AlexNet
    "caffenet": (lambda n: CaffeNet(n), "classifier.6"),
    "resnet18": (lambda n: tv.resnet18(weights=None, num_classes=n), "fc"),
    "resnet50": (lambda n: tv.resnet50(weights=None, num_classes=n), "fc"),
    "tiny": (lambda n: TinyNet(n), "fc"),
}


# name -> its layers by position, as Yosinski et al. 2014 count them: (layer name, the module paths it is made of).
# The classifier is not among them (a network on other labels has its own). AlexNet/CaffeNet: conv1..conv5,
# fc6, fc7; tiny: its four conv blocks (each a conv, its batch norm and ReLU); ResNets: the stem (conv1 and
# its batch norm), then each of the four stages of residual blocks.
RESNET_LAYERS = (("stem", ("conv1", "bn1")), ("layer1", ("layer1",)), ("layer2", ("layer2",)), ("layer3", ("layer3",)),
                 ("layer4", ("layer4",)))
LAYERS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "alexnet": tuple(zip(("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"),
                         (("features.0",), ("features.3",), ("features.6",), ("features.8",), ("features.10",),
                          ("classifier.1",), ("classifier.4",)))),
    "caffenet": tuple(zip(("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"),
                          (("features.0",), ("features.4",), ("features.8",), ("features.10",), ("features.12",),
                           ("classifier.0",), ("classifier.3",)))),
    "resnet18": RESNET_LAYERS,
    "resnet50": RESNET_LAYERS,
    "tiny": tuple((f"block{i + 1}", (f"features.{2 * i}",)) for i in range(4)),
}


def first_layers(name: str, count: int) -> tuple[str, ...]:
    """The module paths of the first `count` layers of the network `name` (LAYERS); more than it has is an error."""
    layers = LAYERS[name]
    if count > len(layers):
        raise TrainError(f"`copy_layers` {count} is more than the {len(layers)} layers of {name} "
                         f"({', '.join(layer for layer, _ in layers)}).")
    return tuple(path for _, paths in layers[:count] for path in paths)


def copy_layers(model: nn.Module, name: str, state: dict, count: int) -> list[str]:
    """Copy into `model` (a `name` network) the tensors, parameters and buffers, of its first `count` layers from
    `state` (another `name` network's state_dict); every other tensor stays as it is. The keys copied."""
    prefixes = tuple(path + "." for path in first_layers(name, count))
    own = model.state_dict()
    keys = [key for key in own if key.startswith(prefixes)]
    with torch.no_grad():
        for key in keys:
            own[key].copy_(state[key])
    return keys


def freeze_layers(model: nn.Module, name: str, count: int) -> None:
    """The first `count` layers of `model` learn nothing: no gradients, and they run as in evaluation (their
    batch-norm statistics stay too) even while the rest trains."""
    for path in first_layers(name, count):
        module = model.get_submodule(path)
        module.requires_grad_(False)
        module.register_forward_pre_hook(keep_in_eval)


def keep_in_eval(layer: nn.Module, inputs) -> None:
    layer.eval()  # a forward pre-hook: after every model.train(), before the layer runs


def build_model(name: str, num_classes: int) -> nn.Module:
    """The network `name` (one of MODELS: a config's `model` setting is checked against them) for `num_classes`."""
    model = MODELS[name][0](num_classes)
    set_classifier(model, name, score_layer(get_classifier(model, name)))
    return model


class ScoreLayer(nn.Linear):
    """A final linear layer computed in fp32 even under autocast. Its outputs are the scores metrics rank:
    in bf16 (8 significant bits) most of them tie, and an AP of tied scores depends on the input order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float())


def score_layer(layer: nn.Linear) -> ScoreLayer:
    """`layer` (its weights and initialisation kept) as a ScoreLayer; the state_dict keys stay the same."""
    scored = nn.utils.skip_init(ScoreLayer, layer.in_features, layer.out_features, bias=layer.bias is not None,
                                device=layer.weight.device, dtype=layer.weight.dtype)  # draws no random numbers
    scored.load_state_dict(layer.state_dict())
    return scored


# Oquab et al. 2014 (CVPR), "Learning and Transferring Mid-Level Image Representations using CNNs": FCa has 2048
# units; an image's score for class C is (1/M) sum over its M patches of y(C|P)^k, k = 5.
ADAPTATION_UNITS = 2048
PATCH_POWER = 5


class PatchScores(ScoreLayer):
    """Oquab et al.'s FCb: scores of the task's classes and a last one, background. In training, the logits
    (for a softmax cross-entropy over classes and background); to evaluate, each class's softmax output to the
    power `PATCH_POWER`, background dropped, so that the mean over an image's patches (`loops.scores_of`
    averages a sample's crops) is their aggregate score."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = super().forward(x)
        return logits if self.training else logits.softmax(dim=1)[:, :-1] ** PATCH_POWER


def new_layers(head: str, features: int, classes: int) -> nn.Module:
    """The layers a transfer adds on `features` inputs (config.HEADS): "linear", one score layer;
    "oquab", Oquab et al.'s adaptation layers, FCa (ReLU, dropout 0.5) then FCb with a background class."""
    if head == "oquab":
        return nn.Sequential(nn.Linear(features, ADAPTATION_UNITS), nn.ReLU(inplace=True), nn.Dropout(0.5),
                             PatchScores(ADAPTATION_UNITS, classes + 1))
    return ScoreLayer(features, classes)


def check_input_size(model: nn.Module, name: str, size: int) -> None:
    """Fail in one sentence when `size` px inputs are too small for the network (e.g. AlexNet below 63 px, CaffeNet below 39)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
    except RuntimeError:
        raise TrainError(f"`model` {name} cannot take {size} px inputs: raise the crop sizes.") from None
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
