"""Random-resized crops and flips, drawn as a pure function of (seed, epoch, sample), made per image on the
CPU or for a whole batch at once on the device.

The crop of a sample depends on nothing else: not on the worker that loads it, the batch it lands in, the
number of processes, or an RNG's state. So a run is reproducible under any -j and world size, and a
resumed run draws exactly the crops the uninterrupted one would have. The boxes follow torchvision's
RandomResizedCrop (ten tries of a random area and aspect ratio, then a central crop).

    boxes, flips = crop_boxes(seed, epoch, samples, heights, widths, scale=(0.08, 1.0))
    one image:  resized_crop(image, box, flip, size)           (torch's antialiased bilinear resize)
    a batch:    batch_resized_crop(images, boxes, flips, size)  (on the images' device)

Caffe's ImageNet recipe (`--augment caffe`) is drawn the same way: the image resized to a square (256 x 256,
the aspect ratio not kept), a crop (227 px) at a uniform offset and a mirror, or for evaluation the central
crop; one function crops a batch of squares for both paths.

    offsets, flips = caffe_offsets(seed, epoch, samples, resize=256, crop=227)
    crops = caffe_crops(square_resize(images, 256), 227, samples, epoch, seed, train=True)

A batch is cropped by one roi_align call on CUDA (`roi_crops`), and image by image on a CPU, where torch's
uint8 resize (on a channels-last copy of the crop) is far faster than torchvision's roi_align kernel: 60
against 250 us an image at 64 px, 190-560 against 3,400 at 224 px, a fraction of the 1.0-1.4 ms that decoding
the JPEG costs (bench_store.py --profile); F.interpolate over a batch needs crops of one size. Both take the
same boxes and give the same crops but for interpolation, and the tests run both.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from curate.seeded import uniforms

RATIO = (3 / 4, 4 / 3)
TRIES = 10
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
    """The crop `box` of one (C, H, W) image, resized to size x size (bilinear, antialiased; the dtype kept)
    and flipped if asked."""
    top, left, height, width = (int(v) for v in box)
    crop = image[None, :, top : top + height, left : left + width]
    if crop.dtype == torch.uint8:  # torch's uint8 kernel is 2-3x faster on a contiguous channels-last input, same pixels
        crop = crop.contiguous(memory_format=torch.channels_last)
    crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    return crop.flip(-1) if flip else crop


def batch_resized_crop(images: torch.Tensor, boxes, flips, size: int) -> torch.Tensor:
    """The crops `boxes` of a batch (B, C, H, W) of images, each resized to size x size and flipped where
    `flips` says: one roi_align call on CUDA, image by image on a CPU (see the module's docstring)."""
    if images.device.type == "cuda":
        return roi_crops(images, boxes, flips, size)
    return torch.stack([resized_crop(image, box, bool(flip), size) for image, box, flip in zip(images, boxes, flips)])


def roi_crops(images: torch.Tensor, boxes, flips, size: int) -> torch.Tensor:
    """`batch_resized_crop` as one roi_align call: float out (0..255 for uint8 in); bilinear where a crop is
    enlarged, the average of each output pixel's area where it is shrunk."""
    boxes = torch.as_tensor(np.asarray(boxes), dtype=torch.float32, device=images.device)
    top, left, height, width = boxes.unbind(1)
    rois = torch.stack([torch.arange(len(boxes), device=images.device, dtype=torch.float32),
                        left, top, left + width, top + height], dim=1)
    crops = roi_align(images.float(), rois, output_size=(size, size), spatial_scale=1.0, sampling_ratio=0, aligned=True)
    flips = torch.as_tensor(np.asarray(flips), device=images.device)
    return torch.where(flips.view(-1, 1, 1, 1), crops.flip(-1), crops)


def caffe_offsets(seed: int, epoch: int, samples, resize: int, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: the (top, left) of its crop x crop window in the resize x resize image, each uniform over
    0..resize - crop (Caffe's `Rand(height - crop_size + 1)`), and whether to mirror it; int64 (n, 2), bool (n,)."""
    u = uniforms(seed, epoch, np.asarray(samples, dtype=np.int64), 3)
    return (u[:, :2] * (resize - crop + 1)).astype(np.int64), u[:, 2] < 0.5


def square_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """A batch (B, C, H, W) resized to size x size, the aspect ratio not kept (as Caffe's `convert_imageset
    --resize_height --resize_width`), bilinear and antialiased; unchanged if it is that size already. uint8
    stays uint8 on the CPU; elsewhere it is resized as float."""
    if tuple(images.shape[-2:]) == (size, size):
        return images
    source = images if images.device.type == "cpu" else images.float()
    return F.interpolate(source, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def caffe_crops(squares: torch.Tensor, crop: int, samples, epoch: int, seed: int, train: bool) -> torch.Tensor:
    """Caffe's crops of a batch of square images (B, C, R, R), on their device: for training each sample's
    window and mirror from `caffe_offsets`; for evaluation the central window, at (R - crop) // 2 as Caffe
    rounds, unmirrored."""
    if train:
        offsets, flips = caffe_offsets(seed, epoch, samples, squares.shape[-1], crop)
    else:
        offsets, flips = np.full((len(squares), 2), (squares.shape[-1] - crop) // 2), np.zeros(len(squares), dtype=bool)
    crops = torch.stack([square[:, top : top + crop, left : left + crop]
                         for square, (top, left) in zip(squares, offsets.tolist())])
    flips = torch.as_tensor(flips, device=squares.device)
    return torch.where(flips.view(-1, 1, 1, 1), crops.flip(-1), crops)


class CaffeCrop:
    """Caffe's augmentation on the per-image path: each image resized to resize x resize, then `caffe_crops`
    (for training, sample `index` of epoch `epoch` gets the window `caffe_offsets(seed, epoch, [index], ...)`
    gives it)."""

    def __init__(self, resize: int, crop: int, seed: int = 0, train: bool = True):
        self.resize, self.crop, self.seed, self.train = resize, crop, seed, train

    def many(self, images: list[torch.Tensor], indices, epoch: int = 0) -> list[torch.Tensor]:
        squares = torch.stack([square_resize(image[None], self.resize)[0] for image in images])
        return list(caffe_crops(squares, self.crop, indices, epoch, self.seed, self.train))


class SeededResizedCrop:
    """The train transform of the per-image path: sample `index` of epoch `epoch` gets the crop
    `crop_boxes(seed, epoch, [index], ...)` gives it."""

    def __init__(self, size: int, min_scale: float, seed: int):
        self.size, self.scale, self.seed = size, (min_scale, 1.0), seed

    def many(self, images: list[torch.Tensor], indices, epoch: int) -> list[torch.Tensor]:
        """The crops of several samples, their boxes drawn in one call (one box alone costs as much as 64)."""
        heights, widths = [image.shape[-2] for image in images], [image.shape[-1] for image in images]
        boxes, flips = crop_boxes(self.seed, epoch, indices, heights, widths, self.scale)
        return [resized_crop(image, box, bool(flip), self.size) for image, box, flip in zip(images, boxes, flips)]
