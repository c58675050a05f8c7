"""A raw store read in batches: rows taken from the memory-mapped pixel array, moved to the device, cropped
and flipped there in one call per batch (`crops.batch_resized_crop`).

No decoding and no per-image Python on the host: a batch is one `np.take` from the mapped file (its pages
shared by every process on the machine that maps it) into one of two buffers reused all epoch (pinned where
the device is CUDA, so the copy to it runs asynchronously), and one roi_align on the device. Each sample's
crop is the one the per-image path would give it (`crops.crop_boxes` of seed, epoch and the table row), so
the two paths train alike; so does `--augment caffe` (`crops.caffe_crops`: the square stored images resized
to the resize size, then cropped).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from train.data.crops import batch_resized_crop, caffe_crops, crop_boxes, square_resize
from train.data.loaders import ShardSampler
from train.errors import TrainError


class RawBatches:
    """(images, targets) batches of the rows `indices` of a raw-store table: float 0..255 images of
    (B, 3, crop, crop) and int64 targets, both on `device`. Training batches are shuffled per epoch
    (DistributedSampler: each rank its share) and randomly cropped; evaluation batches are resized and
    centre-cropped, in order, each rank its shard."""

    def __init__(self, table, indices, targets, *, batch_size: int, train: bool, device: torch.device,
                 crop_size: int, min_scale: float = 0.08, resize_size: int | None = None, augment: str = "rrc", seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        archives = set(table.archives[np.asarray(indices, dtype=np.int64)].tolist()) if len(indices) else set()
        if len(archives) > 1:
            raise TrainError(f"{table.source} points into {len(archives)} pixel arrays: a raw store has one.")
        self.size = table.store_size
        array = table.root / archives.pop().decode() if archives else None
        self.pixels = np.load(array, mmap_mode="r") if array else None
        self.rows = np.asarray(indices, dtype=np.int64)
        offsets = table.offsets[self.rows] - (self.pixels.offset if self.pixels is not None else 0)
        self.slots = offsets // (self.size * self.size * 3)
        if len(self.slots) and (self.slots.min() < 0 or self.slots.max() >= len(self.pixels)):
            raise TrainError(f"{table.source} points past the end of the pixel array {array}: it was not made from "
                             "this store's index; make it again from the store's index.")
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.int64))
        self.batch_size, self.train, self.device, self.seed = batch_size, train, device, seed
        self.crop_size, self.scale, self.resize_size, self.augment = crop_size, (min_scale, 1.0), resize_size, augment
        self.sampler = (DistributedSampler(range(len(self.rows)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
                        if train else ShardSampler(len(self.rows), rank, world_size))
        self.drop_last = train and len(self.sampler) > batch_size

    def __len__(self) -> int:
        full, rest = divmod(len(self.sampler), self.batch_size)
        return full + (bool(rest) and not self.drop_last)

    def read(self, positions: np.ndarray, buffer: torch.Tensor, copied) -> torch.Tensor:
        """The uint8 pixels (B, S, S, 3) of some positions, copied from the mapped file into `buffer` once the
        copy `copied` out of it (CUDA's, of the batch before last) has completed."""
        if copied is not None:
            copied.synchronize()
        pixels = buffer[: len(positions)]
        np.take(self.pixels, self.slots[positions], axis=0, out=pixels.numpy(), mode="clip")  # slots checked in __init__
        return pixels

    def pixel_batches(self):
        """(uint8 pixels (B, S, S, 3), positions) of each batch of the epoch, the pixels in one of two buffers
        that take turns: the next batch is read in a thread while this one is used. A buffer is read into
        again once the batch after its own has been asked for, and on CUDA once the copy from it is done."""
        positions = np.fromiter(iter(self.sampler), dtype=np.int64, count=len(self.sampler))
        batches = [positions[i : i + self.batch_size] for i in range(0, len(positions), self.batch_size)][: len(self)]
        cuda = self.device.type == "cuda"
        shape = (min(self.batch_size, len(positions)), self.size, self.size, 3)
        buffers = [torch.empty(shape, dtype=torch.uint8, pin_memory=cuda) for _ in range(2 if len(batches) > 1 else len(batches))]
        copied = [None, None]
        with ThreadPoolExecutor(max_workers=1) as reader:
            pending = reader.submit(self.read, batches[0], buffers[0], None) if batches else None
            for number, batch in enumerate(batches):
                pixels = pending.result()
                if number + 1 < len(batches):
                    turn = (number + 1) % 2
                    pending = reader.submit(self.read, batches[number + 1], buffers[turn], copied[turn])
                yield pixels, batch
                if cuda:
                    copied[number % 2] = torch.cuda.Event()
                    copied[number % 2].record()

    def __iter__(self):
        epoch = getattr(self.sampler, "epoch", 0)
        for pixels, batch in self.pixel_batches():
            images = pixels.to(self.device, non_blocking=True).permute(0, 3, 1, 2)
            yield self.transform(images, self.rows[batch], epoch), self.targets[batch].to(self.device, non_blocking=True)

    def transform(self, images: torch.Tensor, rows: np.ndarray, epoch: int) -> torch.Tensor:
        if self.augment == "caffe":
            return caffe_crops(square_resize(images, self.resize_size), self.crop_size, rows, epoch, self.seed, self.train)
        if self.train:
            boxes, flips = crop_boxes(self.seed, epoch, rows, self.size, self.size, self.scale)
            return batch_resized_crop(images, boxes, flips, self.crop_size)
        resized = F.interpolate(images.float(), size=(self.resize_size,) * 2, mode="bilinear", antialias=True, align_corners=False)
        start = int(round((self.resize_size - self.crop_size) / 2.0))  # as torchvision's CenterCrop rounds
        return resized[..., start : start + self.crop_size, start : start + self.crop_size]
