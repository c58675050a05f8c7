"""Random-resized crops: a function of (seed, epoch, sample) alone, following RandomResizedCrop's rules, the
same through the CUDA kernel (roi_align, run here on CPU tensors) as through the CPU one, and the same
batches under any number of loader workers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from train.data.crops import RATIO, batch_resized_crop, crop_boxes, roi_crops


def test_a_sample_s_crop_depends_on_seed_epoch_and_sample_alone():
    boxes, flips = crop_boxes(7, 3, np.arange(50), 120, 90, (0.08, 1.0))
    again, again_flips = crop_boxes(7, 3, np.array([41, 5, 17]), 120, 90, (0.08, 1.0))  # another batch, another order
    assert (again == boxes[[41, 5, 17]]).all() and (again_flips == flips[[41, 5, 17]]).all()
    for other in (crop_boxes(7, 4, np.arange(50), 120, 90, (0.08, 1.0)), crop_boxes(8, 3, np.arange(50), 120, 90, (0.08, 1.0))):
        assert (other[0] != boxes).any(axis=1).mean() > 0.9  # another epoch or seed: other crops
    assert 15 < flips.sum() < 35


def test_crops_follow_random_resized_crop_rules():
    heights, widths = 120, 90
    boxes, _ = crop_boxes(0, 0, np.arange(2000), heights, widths, (0.25, 1.0))
    top, left, h, w = boxes.T
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= heights).all() and (left + w <= widths).all()
    area = h * w / (heights * widths)
    assert area.min() >= 0.24 and area.max() <= 1.0
    aspect = w / h
    assert aspect.min() >= RATIO[0] - 0.05 and aspect.max() <= RATIO[1] + 0.05
    # the same distribution as torchvision's own (large crops of the wrong aspect do not fit and are drawn again)
    from torchvision.transforms import RandomResizedCrop

    torch.manual_seed(0)
    theirs = np.array([RandomResizedCrop.get_params(torch.zeros(3, heights, widths), [0.25, 1.0], list(RATIO))
                       for _ in range(2000)])
    their_area = theirs[:, 2] * theirs[:, 3] / (heights * widths)
    assert abs(np.median(area) - np.median(their_area)) < 0.03
    assert abs(np.mean(aspect > 1) - np.mean(theirs[:, 3] > theirs[:, 2])) < 0.05


def test_an_image_too_narrow_for_any_try_gets_the_central_crop():
    (box,), _ = crop_boxes(1, 0, [0], 10, 200, (0.9, 1.0))
    assert box.tolist() == [0, 93, 10, 13]  # torchvision's fallback: full height, width = round(10 * 4/3)


def smooth_images(count: int, size: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    planes = [torch.stack([128 + 100 * torch.sin(xx / 9 + k), 128 + 100 * torch.cos(yy / 7 - k), (xx + yy) * 2]) for k in range(count)]
    return torch.stack(planes).clamp(0, 255).to(torch.uint8)


@pytest.mark.parametrize("size", [24, 64, 112])
def test_the_cuda_kernel_crops_as_the_cpu_one_does(size):
    images = smooth_images(8, 64)
    boxes, flips = crop_boxes(0, 3, np.arange(8), 64, 64, (0.35, 1.0))
    on_cpu = batch_resized_crop(images, boxes, flips, size).float()  # image by image
    by_roi_align = roi_crops(images, boxes, flips, size)  # the one call CUDA makes
    assert on_cpu.shape == by_roi_align.shape == (8, 3, size, size)
    assert (on_cpu - by_roi_align).abs().mean() < 1.0  # 0..255: the two interpolations differ by little


def test_a_loader_gives_the_same_batches_under_any_number_of_workers(data):
    from train.data.loaders import ImageDataset, make_loader, set_epoch, train_transform
    from train.data.tables import load_table

    table = load_table(data["coarse"]["train_table"])
    dataset = ImageDataset(table, table.indices("train"), train_transform(24, 0.35, seed=1))
    batches = {}
    for workers in (0, 2):
        loader = make_loader(dataset, 32, workers, train=True, seed=1)
        set_epoch(loader, 2)
        batches[workers] = [images for images, _ in loader]
    assert all(torch.equal(a, b) for a, b in zip(batches[0], batches[2])) and len(batches[0]) == len(batches[2])
    assert math.isclose(float(batches[0][0].float().std()), float(batches[2][0].float().std()))
