"""Oquab et al. 2014's multi-scale patches (CVPR, "Learning and Transferring Mid-Level Image Representations
using CNNs", section 3): the square patches of an image, each labelled by its overlap with the objects' boxes,
for training the adaptation layers (`head` oquab); and every patch of an image, for scoring it.

    boxes = patch_boxes(width, height)                   (n, 3) int: left, top, side, in pixels from 0
    labels = patch_labels(boxes, annotation, classes)    (n,) int: a class, len(classes) (background), or -1

A patch's side is min(width, height) / λ for each λ of SCALES, its positions a regular grid from edge to edge,
neighbours at most STEP of a side apart (the paper: "at least 50% overlap"; 1/3 gives about 500 patches on a
500x375 VOC image, the paper's "around 500"). A patch P shows object B when |P ∩ B| >= 0.2 |P| and
|P ∩ B| >= 0.6 |B| and no other object does so (the paper: "overlaps with no more than one object"); it is
background when no object covers 0.2 of it. The others, and those showing only a `difficult` object, are not
trained on (-1). A random tenth of the background patches is trained on, fixed by the run's seed.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from curate.seeded import uniforms
from train.data.crops import resized_crop
from train.data.loaders import CroppedDataset, read_image
from train.errors import TrainError

SCALES = (1, 1.3, 1.6, 2, 2.4, 2.8, 3.2, 3.6, 4)  # λ: a patch's side is min(width, height) / λ
STEP = 1 / 3  # at most this much of a side between neighbouring patches
OF_PATCH, OF_OBJECT = 0.2, 0.6  # |P ∩ B| >= 0.2 |P| and >= 0.6 |B|
BACKGROUND_KEPT = 0.1
UNUSED = -1


def positions(length: int, side: int) -> np.ndarray:
    """Where patches of `side` start along `length` pixels: from 0 to length - side, evenly, at most STEP * side apart."""
    count = math.ceil((length - side) / (STEP * side)) + 1
    return np.rint(np.linspace(0, length - side, count)).astype(np.int64)


def patch_boxes(width: int, height: int) -> np.ndarray:
    """Every patch of a width x height image: (n, 3) int64 rows of left, top, side (pixels from 0), by scale,
    then row, then column."""
    rows = []
    for scale in SCALES:
        side = max(1, int(min(width, height) / scale))
        for top in positions(height, side):
            rows += [(left, top, side) for left in positions(width, side)]
    return np.asarray(rows, dtype=np.int64)


def patch_labels(boxes: np.ndarray, annotation, classes: list[str]) -> np.ndarray:
    """Each patch's label (module docstring): the index of the class it shows, len(classes) for background,
    UNUSED for the rest. `annotation`: a `voc.Annotation`, its boxes 1-based inclusive pixels."""
    labels = np.full(len(boxes), UNUSED, dtype=np.int64)
    if not len(annotation.objects):
        labels[:] = len(classes)
        return labels
    objects = np.asarray([o.box for o in annotation.objects], dtype=np.float64)
    x0, y0, x1, y1 = objects[:, 0] - 1, objects[:, 1] - 1, objects[:, 2], objects[:, 3]  # half-open, from 0
    left, top, side = (boxes[:, i, None].astype(np.float64) for i in range(3))
    overlap = (np.clip(np.minimum(left + side, x1) - np.maximum(left, x0), 0, None)
               * np.clip(np.minimum(top + side, y1) - np.maximum(top, y0), 0, None))
    covers = overlap >= OF_PATCH * side**2
    shows = covers & (overlap >= OF_OBJECT * (x1 - x0) * (y1 - y0))
    one = shows.sum(axis=1) == 1
    shown = shows.argmax(axis=1)
    usable = np.asarray([not o.difficult and o.name in classes for o in annotation.objects])
    class_of = np.asarray([classes.index(o.name) if o.name in classes else UNUSED for o in annotation.objects])
    labels[one & usable[shown]] = class_of[shown[one & usable[shown]]]
    labels[~covers.any(axis=1)] = len(classes)
    return labels


class PatchDataset(CroppedDataset):
    """The training patches of a split's images (`Split.annotations`), each (uint8 patch resized to `size`,
    label); a random BACKGROUND_KEPT of the background ones, drawn by `seed`."""

    def __init__(self, split, classes: list[str], size: int, seed: int):
        self.files, self.size = split.files, size
        self.annotations = split.annotations
        patches, labels, images = [], [], []
        for image, annotation in enumerate(split.annotations):
            boxes = patch_boxes(annotation.width, annotation.height)
            patches.append(boxes)
            labels.append(patch_labels(boxes, annotation, classes))
            images.append(np.full(len(boxes), image))
        patches, labels, images = np.concatenate(patches), np.concatenate(labels), np.concatenate(images)
        background = labels == len(classes)
        kept = (labels != UNUSED) & (~background | (uniforms(seed, 0, np.arange(len(labels)), 1)[:, 0] < BACKGROUND_KEPT))
        self.patches, self.labels, self.images = patches[kept], labels[kept], images[kept]
        self.counts = {"patches": len(labels), "objects": int((labels[kept] < len(classes)).sum()),
                       "background": int(background.sum()), "background_kept": int((kept & background).sum())}

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, keys: list):
        items = [key[1] if isinstance(key, tuple) else key for key in keys]
        return [(self.patch(item), int(self.labels[item])) for item in items]

    def patch(self, item: int) -> torch.Tensor:
        image = int(self.images[item])
        pixels = checked_size(read_image(self.files[image]), self.annotations[image], self.files[image])
        left, top, side = (int(v) for v in self.patches[item])
        return resized_crop(pixels, (top, left, side, side), False, self.size)

    def summary(self) -> str:
        counts = self.counts
        return (f"{len(self)} training patches of {len(self.files)} images: {counts['objects']} showing one object, "
                f"{counts['background_kept']} background (a random {BACKGROUND_KEPT:g} of {counts['background']}); "
                f"{counts['patches']} patches in all")


def checked_size(image: torch.Tensor, annotation, path) -> torch.Tensor:
    """`image`, refused in one sentence when it is not the size its annotation gives (the patches are laid out by it)."""
    if tuple(image.shape[-2:]) != (annotation.height, annotation.width):
        raise TrainError(f"{path} is {image.shape[-1]}x{image.shape[-2]} pixels, but its annotation says "
                         f"{annotation.width}x{annotation.height}: the patches and boxes are laid out by the annotation.")
    return image


class AllPatches:
    """The evaluation transform: every patch of an image (`patch_boxes`), each resized to `size`, stacked
    (n, 3, size, size); `loops.scores_of` averages their scores."""

    def __init__(self, size: int):
        self.size = size

    def many(self, images: list[torch.Tensor], indices, epoch: int = 0) -> list[torch.Tensor]:
        return [torch.stack([resized_crop(image, (top, left, side, side), False, self.size)
                             for left, top, side in patch_boxes(image.shape[-1], image.shape[-2]).tolist()])
                for image in images]
