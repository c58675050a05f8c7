"""Object detection on a pretrained network: torchvision's Faster R-CNN with the network as its backbone,
the VOC detection dataset it trains on, and the evaluation of what it finds.

How each network becomes a detector (`DETECTORS`):
  alexnet, caffenet  conv5 (stride 16) as the one feature map; RoI max pooling to 6x6 where pool5 was,
                     then the pretrained fc6 and fc7 as the box head: Fast R-CNN's transfer of AlexNet;
                     conv1 stays frozen (Fast R-CNN fine-tunes conv2 and up in small nets);
                     anchors of 128, 256 and 512 px; py-faster-rcnn's numbers (12000/2000 proposals
                     before/after NMS in training, 6000/300 in test, 128 RoIs an image, test NMS 0.3).
  resnet18, resnet50 a feature pyramid on layer1..layer4 (torchvision's BackboneWithFPN) with the anchors,
                     RoI align and box head of torchvision's fasterrcnn_resnet50_fpn; the stem and layer1
                     stay frozen and batch norm keeps the pretrained statistics (trainable_layers=3).
  tiny               its last conv map (stride 8), RoI max pooling to 4x4 and a new two-layer box head,
                     batch norm frozen: small and quick, for the tests on a CPU.
With --random-init nothing is frozen and batch norm learns: the scratch baseline trains every layer.

Anchor sizes scale with --min-size (the sizes above are for the 600 px of the papers), so that small
images get anchors their objects fit. torchvision works in continuous coordinates, where the VOC box
xmin..xmax covers [xmin - 1, xmax]; the evaluation takes VOC's 1-based inclusive pixels (`voc_eval.py`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import roi_pool
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import FrozenBatchNorm2d

from curate.seeded import uniforms
from train.data.loaders import INPUT_NORMS, CroppedDataset, read_image
from train.distributed import all_gather_list
from train.errors import TrainError
from train.loops import autocast
from train.models import score_layer
from train.tasks import Split
from train.voc_eval import detection_ap, mean_ap

RATIOS = (0.5, 1.0, 2.0)
SINGLE_MAP = {  # py-faster-rcnn's numbers for a detector on one feature map
    "rpn_pre_nms_top_n_train": 12000, "rpn_post_nms_top_n_train": 2000, "rpn_pre_nms_top_n_test": 6000,
    "rpn_post_nms_top_n_test": 300, "box_batch_size_per_image": 128, "box_nms_thresh": 0.3,
}


class RoIPooling(nn.Module):
    """Fast R-CNN's RoI max pooling of the one feature map, as the `box_roi_pool` Faster R-CNN calls (with
    MultiScaleRoIAlign's arguments); the map's stride inferred, as there, from the batch's image size."""

    def __init__(self, output_size: int):
        super().__init__()
        self.output_size = output_size

    def forward(self, features: dict, proposals: list[torch.Tensor], image_shapes: list[tuple[int, int]]) -> torch.Tensor:
        feature = features["0"]
        scale = 2.0 ** round(math.log2(feature.shape[-2] / max(height for height, _ in image_shapes)))
        return roi_pool(feature, proposals, self.output_size, scale)


class OneMap(nn.Module):
    """Layers of a network as a backbone of one feature map, with the `out_channels` Faster R-CNN reads."""

    def __init__(self, layers: nn.Module, out_channels: int):
        super().__init__()
        self.body, self.out_channels = layers, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def frozen_batch_norm(module: nn.Module) -> nn.Module:
    """`module` with each BatchNorm2d replaced by a FrozenBatchNorm2d holding its statistics and affine."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, child.eps)
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, key).copy_(getattr(child, key).detach())
            setattr(module, name, frozen)
        else:
            frozen_batch_norm(child)
    return module


def alexnet_parts(network: nn.Module, pretrained: bool) -> dict:
    if pretrained:
        network.features[0].requires_grad_(False)
    fc6_fc7 = list(network.classifier.children())[:6]  # fc6 and fc7, with their ReLUs and dropout
    return {"backbone": OneMap(network.features[:-1], 256), "anchor_sizes": [(128, 256, 512)],  # pool5 -> RoI pooling
            "roi_pooling": RoIPooling(6), "box_head": nn.Sequential(nn.Flatten(), *fc6_fc7),
            "head_width": 4096, **SINGLE_MAP}


def resnet_parts(network: nn.Module, pretrained: bool) -> dict:
    if pretrained:
        network = frozen_batch_norm(network)
        for module in (network.conv1, network.bn1, network.layer1):
            module.requires_grad_(False)
    stages = [getattr(network, f"layer{i}") for i in range(1, 5)]
    widths = [[m for m in stage.modules() if isinstance(m, nn.Conv2d)][-1].out_channels for stage in stages]
    backbone = BackboneWithFPN(network, {f"layer{i}": str(i - 1) for i in range(1, 5)}, widths, 256,
                               extra_blocks=LastLevelMaxPool())
    return {"backbone": backbone, "anchor_sizes": [(32,), (64,), (128,), (256,), (512,)]}


def tiny_parts(network: nn.Module, pretrained: bool) -> dict:
    width = network.fc.in_features
    if pretrained:
        network = frozen_batch_norm(network)
    return {"backbone": OneMap(network.features[:-2], width), "anchor_sizes": [(128, 256, 512)],  # no global pooling
            "roi_pooling": RoIPooling(4), "box_head": TwoMLPHead(width * 4 * 4, 256),
            "head_width": 256, **SINGLE_MAP}


DETECTORS = {"alexnet": alexnet_parts, "caffenet": alexnet_parts, "resnet18": resnet_parts,
             "resnet50": resnet_parts, "tiny": tiny_parts}


def build_detector(network: nn.Module, name: str, num_classes: int, min_size: int, max_size: int,
                   pretrained: bool, input_norm: str) -> FasterRCNN:
    """A Faster R-CNN finding `num_classes` classes on `network`, its images resized to a shorter side of
    `min_size` px (the longer at most `max_size`) and normalised as `input_norm` says (`to_unit` gives them
    in its channel order)."""
    if name not in DETECTORS:
        raise TrainError(f"A {name} network cannot serve as a detection backbone: voc07-det takes {', '.join(DETECTORS)}.")
    parts = DETECTORS[name](network, pretrained)
    sizes = tuple(tuple(max(4, round(s * min_size / 600)) for s in level) for level in parts.pop("anchor_sizes"))
    head_width, pooling = parts.pop("head_width", None), parts.pop("roi_pooling", None)
    predictor = {"box_predictor": FastRCNNPredictor(head_width, num_classes + 1)} if head_width else {"num_classes": num_classes + 1}
    norm = INPUT_NORMS[input_norm]  # the detector's transform takes 0..1 images: mean and std in those units
    detector = FasterRCNN(min_size=min_size, max_size=max_size, image_mean=[m / 255 for m in norm.mean],
                          image_std=[s / 255 for s in norm.std],
                          rpn_anchor_generator=AnchorGenerator(sizes, (RATIOS,) * len(sizes)), **predictor, **parts)
    if pooling is not None:  # FasterRCNN's constructor takes only MultiScaleRoIAlign
        detector.roi_heads.box_roi_pool = pooling
    predictor = detector.roi_heads.box_predictor  # class scores and boxes in fp32 under autocast (ScoreLayer)
    predictor.cls_score, predictor.bbox_pred = score_layer(predictor.cls_score), score_layer(predictor.bbox_pred)
    return detector


class DetectionDataset(CroppedDataset):
    """(uint8 image, target, item) of a detection split: the boxes in continuous coordinates and labels
    from 1 (0 is the background). Training leaves `difficult` objects out and flips each image by a pure
    function of (seed, epoch, image), as py-faster-rcnn trains on the flipped set too."""

    def __init__(self, split: Split, classes: list[str], train: bool, seed: int = 0):
        self.split, self.train, self.seed = split, train, seed
        self.index = {name: c + 1 for c, name in enumerate(classes)}

    def __len__(self) -> int:
        return len(self.split)

    def __getitems__(self, keys: list):
        epochs, items = zip(*(key if isinstance(key, tuple) else (0, key) for key in keys))
        flips = uniforms(self.seed, epochs[0], np.asarray(items), 1)[:, 0] < 0.5 if self.train else [False] * len(items)
        return [self.sample(item, bool(flip)) for item, flip in zip(items, flips)]

    def sample(self, item: int, flip: bool):
        annotation, path = self.split.targets[item], self.split.files[item]
        image = read_image(path)
        if tuple(image.shape[1:]) != (annotation.height, annotation.width):
            raise TrainError(f"{path} is {image.shape[2]}x{image.shape[1]} pixels, but its annotation says "
                             f"{annotation.width}x{annotation.height}.")
        objects = [o for o in annotation.objects if not (self.train and o.difficult)]
        boxes = torch.tensor([[o.box[0] - 1, o.box[1] - 1, o.box[2], o.box[3]] for o in objects], dtype=torch.float32)
        boxes = boxes.reshape(-1, 4)
        if flip:
            image, boxes = image.flip(-1), torch.stack([annotation.width - boxes[:, 2], boxes[:, 1],
                                                        annotation.width - boxes[:, 0], boxes[:, 3]], dim=1)
        labels = torch.tensor([self.index[o.name] for o in objects], dtype=torch.int64)
        return image, {"boxes": boxes, "labels": labels}, item


def collate(batch: list) -> tuple:
    """Images of different sizes stay a list: (images, targets, items)."""
    return tuple(zip(*batch))


def to_unit(image: torch.Tensor, device: torch.device, input_norm: str) -> torch.Tensor:
    """uint8 RGB (3, H, W) -> float 0..1 on `device`, in the channel order of `input_norm` (the detector
    normalises and resizes it there)."""
    return image[list(INPUT_NORMS[input_norm].order)].to(device, non_blocking=True).float().div_(255)


def detection_step(model: nn.Module, device: torch.device, amp_dtype: torch.dtype | None, input_norm: str):
    """The training step of `loops.train_one_epoch`: the detector's four losses, summed."""

    def step(images, targets):
        targets = [{key: value.to(device) for key, value in target.items()} for target in targets]
        with autocast(device, amp_dtype):
            losses = model([to_unit(image, device, input_norm) for image in images], targets)
        return sum(losses.values()), len(images), None

    return step


@torch.no_grad()
def detect(model: nn.Module, loader, device: torch.device, amp_dtype: torch.dtype | None, input_norm: str) -> list:
    """(item, boxes (n, 4) in VOC pixels, scores, class indices) for each image of `loader`, of every rank."""
    model.eval()
    found = []
    for images, _, items in loader:
        with autocast(device, amp_dtype):
            outputs = model([to_unit(image, device, input_norm) for image in images])
        for item, output in zip(items, outputs):
            boxes = output["boxes"].float().cpu().numpy().astype(np.float64)
            boxes[:, :2] += 1  # continuous [x1, x2] -> VOC's inclusive pixels x1 + 1 .. x2
            found.append((int(item), boxes, output["scores"].float().cpu().numpy(), output["labels"].cpu().numpy() - 1))
    return sorted(all_gather_list(found), key=lambda entry: entry[0])


def score_detections(found: list, split: Split, classes: list[str], rule: str) -> dict:
    """Per-class AP (percent) of the detections `found` on `split` by `rule`, and their mean over the
    classes that have an object to find."""
    aps, counted = [], []
    for c, name in enumerate(classes):
        truth = {}
        for image_id, annotation in zip(split.ids, split.targets):
            objects = [o for o in annotation.objects if o.name == name]
            truth[image_id] = (np.array([o.box for o in objects], dtype=np.float64).reshape(-1, 4),
                               np.array([o.difficult for o in objects], dtype=bool))
        images, scores, boxes = [], [], []
        for item, found_boxes, found_scores, labels in found:
            mine = labels == c
            images += [split.ids[item]] * int(mine.sum())
            scores.append(found_scores[mine])
            boxes.append(found_boxes[mine])
        aps.append(100 * detection_ap(images, np.concatenate(scores) if scores else [], np.concatenate(boxes) if boxes else [],
                                      truth, rule))
        counted.append(any((~difficult).any() for _, difficult in truth.values()))
    return {"map": mean_ap(aps, counted), "ap": dict(zip(classes, aps)), "images": len(found),
            "classes_without_objects": [name for name, keep in zip(classes, counted) if not keep]}
