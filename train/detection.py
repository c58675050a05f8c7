"""Object detection on a pretrained network: Fast R-CNN on given proposals or Faster R-CNN (torchvision's
parts) with the network as its backbone, the VOC detection dataset it trains on, and the evaluation of what
it finds.

The two detectors (the `detector` setting, `config.DETECTORS`) share the backbone, the RoI pooling and the box
head below; they differ in where the regions come from:
  faster-rcnn  torchvision's Faster R-CNN: a region proposal network (RPN) learnt on the transferred features,
               so the proposals themselves depend on the pretraining; py-faster-rcnn's numbers, its
               RPN_MIN_SIZE included (proposals under 16 px a side in the original image are dropped before
               NMS, `MinSizeRPN`); 128 RoIs an image, background below 0.5 overlap.
  fast-rcnn    Fast R-CNN (Girshick 2015), the detector of Huh et al.: the same heads on given proposals
               (selective search, `proposals.py`), no RPN; fast-rcnn's sampling (`FAST_RCNN_SAMPLING`: 64
               RoIs an image, a quarter foreground at overlap >= 0.5, background from [0.1, 0.5), the
               ground-truth boxes added to the proposals) and test (the first `TEST_PROPOSALS` proposals, NMS
               0.3). An image without an object to learn from gives background RoIs at any overlap below 0.5,
               as torchvision's heads do, where fast-rcnn would sample none from it.

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
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork
from torchvision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes
from torchvision.ops import box_iou, roi_pool
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
RPN_MIN_SIZE = 16  # py-faster-rcnn's cfg.TRAIN/TEST.RPN_MIN_SIZE: px of the original image
# fast-rcnn's lib/fast_rcnn/config.py: TRAIN.BATCH_SIZE 128 RoIs over IMS_PER_BATCH 2 images, FG_FRACTION 0.25,
# FG_THRESH 0.5, BG_THRESH_LO 0.1, BG_THRESH_HI 0.5; TEST.NMS 0.3
FAST_RCNN_SAMPLING = {"batch_size_per_image": 64, "positive_fraction": 0.25, "fg_iou_thresh": 0.5, "bg_iou_thresh": 0.5,
                      "background_low": 0.1, "nms_thresh": 0.3}
TEST_PROPOSALS = 2000  # the proposals an image is scored on: the first ones, in the order their source ranks them


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


class ScaledTransform(GeneralizedRCNNTransform):
    """torchvision's resize and normalisation, recording on the batch each image's scale (input px per
    original px), which py-faster-rcnn's proposal layer reads as `im_info[2]`."""

    def forward(self, images, targets=None):
        batch, targets = super().forward(images, targets)
        batch.scales = [size[0] / image.shape[-2] for image, size in zip(images, batch.image_sizes)]
        return batch, targets


class MinSizeRPN(RegionProposalNetwork):
    """torchvision's RPN dropping, as py-faster-rcnn's proposal layer does after clipping and before NMS, every
    proposal narrower or lower than RPN_MIN_SIZE px of the original image (RPN_MIN_SIZE x the image's scale
    at the input); torchvision's own minimum is 0.001 px."""

    @classmethod
    def like(cls, rpn: RegionProposalNetwork) -> MinSizeRPN:
        matcher, sampler = rpn.proposal_matcher, rpn.fg_bg_sampler
        return cls(rpn.anchor_generator, rpn.head, matcher.high_threshold, matcher.low_threshold,
                   sampler.batch_size_per_image, sampler.positive_fraction, rpn._pre_nms_top_n, rpn._post_nms_top_n,
                   rpn.nms_thresh, rpn.score_thresh)

    def forward(self, images, features, targets=None):
        self.scales = images.scales  # torchvision calls filter_proposals with the input sizes only
        return super().forward(images, features, targets)

    def filter_proposals(self, proposals, objectness, image_shapes, num_anchors_per_level):
        objectness = objectness.reshape(len(image_shapes), -1)
        boxes, scores = [], []
        for i, scale in enumerate(self.scales):  # one image at a time: each has its own minimum
            self.min_size = RPN_MIN_SIZE * scale
            (kept,), (kept_scores,) = super().filter_proposals(proposals[i:i + 1], objectness[i:i + 1],
                                                               image_shapes[i:i + 1], num_anchors_per_level)
            boxes.append(kept)
            scores.append(kept_scores)
        return boxes, scores


class FastRCNNHeads(RoIHeads):
    """torchvision's RoI heads sampling as fast-rcnn does: background RoIs only from [`background_low`, 0.5)
    overlap with an object (torchvision takes any below 0.5); those below are never sampled."""

    def __init__(self, *args, background_low: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.background_low = background_low

    def assign_targets_to_proposals(self, proposals, gt_boxes, gt_labels):
        matched, labels = super().assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        for boxes, truth, assigned in zip(proposals, gt_boxes, labels):
            if truth.numel():
                assigned[box_iou(truth, boxes).max(dim=0).values < self.background_low] = -1  # -1: never sampled
        return matched, labels


def fast_rcnn_heads(heads: RoIHeads) -> FastRCNNHeads:
    """The pooling, box head and predictor of `heads`, sampling and testing as fast-rcnn does."""
    return FastRCNNHeads(box_roi_pool=heads.box_roi_pool, box_head=heads.box_head, box_predictor=heads.box_predictor,
                         bbox_reg_weights=None, score_thresh=heads.score_thresh,
                         detections_per_img=heads.detections_per_img, **FAST_RCNN_SAMPLING)


class FastRCNN(nn.Module):
    """Fast R-CNN: the backbone and RoI heads of a detector on the proposals each target carries
    (`"proposals"`, in the image's continuous coordinates; in training also `"boxes"` and `"labels"`).
    Returns the losses in training, else the detections, as torchvision's detectors do."""

    def __init__(self, backbone: nn.Module, roi_heads: RoIHeads, transform: GeneralizedRCNNTransform):
        super().__init__()
        self.backbone, self.roi_heads, self.transform = backbone, roi_heads, transform

    def forward(self, images: list[torch.Tensor], targets: list[dict]):
        original = [tuple(image.shape[-2:]) for image in images]
        truth = [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets] if self.training else None
        batch, truth = self.transform(images, truth)
        proposals = [resize_boxes(t["proposals"], size, resized)
                     for t, size, resized in zip(targets, original, batch.image_sizes)]
        features = self.backbone(batch.tensors)
        features = {"0": features} if isinstance(features, torch.Tensor) else features
        detections, losses = self.roi_heads(features, proposals, batch.image_sizes, truth)
        return losses if self.training else self.transform.postprocess(detections, batch.image_sizes, original)


def build_detector(network: nn.Module, name: str, num_classes: int, min_size: int, max_size: int,
                   pretrained: bool, input_norm: str, detector: str = "faster-rcnn") -> nn.Module:
    """A `detector` (one of `config.DETECTORS`) finding `num_classes` classes on `network`, its images resized to
    a shorter side of `min_size` px (the longer at most `max_size`) and normalised as `input_norm` says
    (`to_unit` gives them in its channel order)."""
    if name not in DETECTORS:
        raise TrainError(f"A {name} network cannot serve as a detection backbone: voc07-det takes {', '.join(DETECTORS)}.")
    parts = DETECTORS[name](network, pretrained)
    sizes = tuple(tuple(max(4, round(s * min_size / 600)) for s in level) for level in parts.pop("anchor_sizes"))
    head_width, pooling = parts.pop("head_width", None), parts.pop("roi_pooling", None)
    predictor = {"box_predictor": FastRCNNPredictor(head_width, num_classes + 1)} if head_width else {"num_classes": num_classes + 1}
    norm = INPUT_NORMS[input_norm]  # the detector's transform takes 0..1 images: mean and std in those units
    mean, std = [m / 255 for m in norm.mean], [s / 255 for s in norm.std]
    faster = FasterRCNN(min_size=min_size, max_size=max_size, image_mean=mean, image_std=std,
                        rpn_anchor_generator=AnchorGenerator(sizes, (RATIOS,) * len(sizes)), **predictor, **parts)
    faster.transform = ScaledTransform(min_size, max_size, mean, std)
    faster.rpn = MinSizeRPN.like(faster.rpn)
    if pooling is not None:  # FasterRCNN's constructor takes only MultiScaleRoIAlign
        faster.roi_heads.box_roi_pool = pooling
    predictor = faster.roi_heads.box_predictor  # class scores and boxes in fp32 under autocast (ScoreLayer)
    predictor.cls_score, predictor.bbox_pred = score_layer(predictor.cls_score), score_layer(predictor.bbox_pred)
    if detector == "fast-rcnn":
        return FastRCNN(faster.backbone, fast_rcnn_heads(faster.roi_heads), faster.transform)
    return faster


class DetectionDataset(CroppedDataset):
    """(uint8 image, target, item) of a detection split: the boxes in continuous coordinates and labels
    from 1 (0 is the background), and for Fast R-CNN the image's proposals (`proposals`: image id -> VOC
    boxes; the first TEST_PROPOSALS outside training). Training leaves `difficult` objects out and flips each
    image (and its proposals) by a pure function of (seed, epoch, image), as fast-rcnn and py-faster-rcnn
    train on the flipped set too."""

    def __init__(self, split: Split, classes: list[str], train: bool, seed: int = 0, proposals: dict | None = None):
        self.split, self.train, self.seed, self.proposals = split, train, seed, proposals
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
        boxes = {"boxes": continuous([o.box for o in objects])}
        if self.proposals is not None:
            given = self.proposals[self.split.ids[item]]
            boxes["proposals"] = continuous(given if self.train else given[:TEST_PROPOSALS])
        if flip:
            image, boxes = image.flip(-1), {key: flipped(value, annotation.width) for key, value in boxes.items()}
        labels = torch.tensor([self.index[o.name] for o in objects], dtype=torch.int64)
        return image, {**boxes, "labels": labels}, item


def continuous(voc_boxes) -> torch.Tensor:
    """VOC boxes (1-based inclusive pixels xmin, ymin, xmax, ymax) in torchvision's continuous coordinates,
    where pixels xmin..xmax cover [xmin - 1, xmax]."""
    boxes = torch.as_tensor(np.asarray(voc_boxes, dtype=np.float32).reshape(-1, 4))
    return torch.cat([boxes[:, :2] - 1, boxes[:, 2:]], dim=1)


def flipped(boxes: torch.Tensor, width: int) -> torch.Tensor:
    """Continuous boxes of an image `width` px wide, mirrored left to right."""
    return torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1)


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
    """(item, boxes (n, 4) in VOC pixels, scores, class indices) for each image of `loader`, of every rank;
    a Fast R-CNN is given each image's proposals, and nothing else of its target."""
    model.eval()
    found = []
    for images, targets, items in loader:
        given = [{"proposals": t["proposals"].to(device)} for t in targets] if "proposals" in targets[0] else None
        with autocast(device, amp_dtype):
            outputs = model([to_unit(image, device, input_norm) for image in images], given)
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
