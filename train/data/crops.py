"""Random-resized crops and flips, drawn as a pure function of (seed, epoch, sample), made per image on the
CPU or for a whole batch at once on the device.

The crop of a sample depends on nothing else: not on the worker that loads it, the batch it lands in, the
number of processes, or an RNG's state. So a run is reproducible under any -j and world size, and a
resumed run draws exactly the crops the uninterrupted one would have. The boxes follow torchvision's
RandomResizedCrop (ten tries of a random area and aspect ratio, then a central crop).

    boxes, flips = crop_boxes(seed, epoch, samples, heights, widths, scale=(0.08, 1.0))
    one image:  resized_crop(image, box, flip, size)           (CPU workers; torchvision's resize)
    a batch:    batch_resized_crop(images, boxes, flips, size)  (roi_align: one call on CPU or CUDA)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision.ops import roi_align
from torchvision.transforms import v2

RATIO = (3 / 4, 4 / 3)
TRIES = 10
MASK = (1 << 64) - 1
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer, on uint64 arrays (wrapping arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniforms(seed: int, epoch: int, samples: np.ndarray, draws: int) -> np.ndarray:
    """(len(samples), draws) numbers in [0, 1), a fixed function of (seed, epoch, sample, draw)."""
    with np.errstate(over="ignore"):
        key = mix(np.uint64(seed & MASK) * GOLDEN + mix(np.uint64(epoch & MASK) + GOLDEN))
        counters = np.asarray(samples, dtype=np.uint64)[:, None] * np.uint64(draws) + np.arange(draws, dtype=np.uint64)
        bits = mix(counters * GOLDEN + key) >> np.uint64(11)
    return bits.astype(np.float64) * 2.0**-53


def crop_boxes(seed: int, epoch: int, samples, heights, widths, scale: tuple[float, float] = (0.08, 1.0),
               ratio: tuple[float, float] = RATIO) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: a box (top, left, height, width) in its image of `heights` x `widths` pixels, as
    RandomResizedCrop chooses one, and whether to flip the crop; int64 (n, 4) and bool (n,)."""
    samples = np.asarray(samples, dtype=np.int64)
    heights, widths = np.broadcast_to(heights, samples.shape).astype(np.int64), np.broadcast_to(widths, samples.shape).astype(np.int64)
    u = uniforms(seed, epoch, samples, 4 * TRIES + 1).reshape(len(samples), -1)
    area = (heights * widths)[:, None] * (scale[0] + (scale[1] - scale[0]) * u[:, 0:TRIES])
    aspect = np.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, TRIES : 2 * TRIES])
    w = np.rint(np.sqrt(area * aspect)).astype(np.int64)
    h = np.rint(np.sqrt(area / aspect)).astype(np.int64)
    fits = (w > 0) & (h > 0) & (w <= widths[:, None]) & (h <= heights[:, None])
    first = np.argmax(fits, axis=1)
    rows = np.arange(len(samples))
    h, w = h[rows, first], w[rows, first]
    top = (u[rows, 2 * TRIES + first] * (heights - h + 1)).astype(np.int64)
    left = (u[rows, 3 * TRIES + first] * (widths - w + 1)).astype(np.int64)
    # no try fitted: the central crop of the nearest allowed aspect ratio
    missed = ~fits.any(axis=1)
    if missed.any():
        in_ratio = widths / heights
        cw = np.where(in_ratio < ratio[0], widths, np.where(in_ratio > ratio[1], np.rint(heights * ratio[1]), widths)).astype(np.int64)
        ch = np.where(in_ratio < ratio[0], np.rint(widths / ratio[0]), heights).astype(np.int64)
        h, w = np.where(missed, ch, h), np.where(missed, cw, w)
        top, left = np.where(missed, (heights - h) // 2, top), np.where(missed, (widths - w) // 2, left)
    return np.stack([top, left, h, w], axis=1), u[:, -1] < 0.5


def resized_crop(image: torch.Tensor, box, flip: bool, size: int) -> torch.Tensor:
    """The crop `box` of one (C, H, W) image, resized to size x size (antialiased) and flipped if asked."""
    top, left, height, width = (int(v) for v in box)
    crop = v2.functional.resized_crop(image, top, left, height, width, [size, size], antialias=True)
    return v2.functional.horizontal_flip(crop) if flip else crop


def batch_resized_crop(images: torch.Tensor, boxes, flips, size: int) -> torch.Tensor:
    """The crops `boxes` of a batch (B, C, H, W) of images, each resized to size x size and flipped where
    `flips` says, in one roi_align call on the images' device. Float out (0..255 for uint8 in): bilinear
    where a crop is enlarged, the average of each output pixel's area where it is shrunk."""
    boxes = torch.as_tensor(np.asarray(boxes), dtype=torch.float32, device=images.device)
    top, left, height, width = boxes.unbind(1)
    rois = torch.stack([torch.arange(len(boxes), device=images.device, dtype=torch.float32),
                        left, top, left + width, top + height], dim=1)
    crops = roi_align(images.float(), rois, output_size=(size, size), spatial_scale=1.0, sampling_ratio=0, aligned=True)
    flips = torch.as_tensor(np.asarray(flips), device=images.device)
    return torch.where(flips.view(-1, 1, 1, 1), crops.flip(-1), crops)


class SeededResizedCrop:
    """The train transform of the per-image path: sample `index` of epoch `epoch` gets the crop
    `crop_boxes(seed, epoch, [index], ...)` gives it."""

    def __init__(self, size: int, min_scale: float, seed: int):
        self.size, self.scale, self.seed, self.epoch = size, (min_scale, 1.0), seed, 0

    def __call__(self, image: torch.Tensor, index: int) -> torch.Tensor:
        boxes, flips = crop_boxes(self.seed, self.epoch, [index], image.shape[-2], image.shape[-1], self.scale)
        return resized_crop(image, boxes[0], bool(flips[0]), self.size)
