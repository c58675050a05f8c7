"""Reading images one at a time for training: bytes from a file, a tar member or a store, decoding, the
augmentations on uint8, the datasets, the samplers, the loaders, and the move to the device.

Decode with libjpeg-turbo (TorchCodec; torchvision.io where TorchCodec is missing) into uint8, augment on
uint8, collate uint8 and convert to normalised float on the device: the workers move a quarter of the bytes
the classic PIL -> ToTensor -> Normalize pipeline moves. The original JPEGs are decoded afresh each epoch;
a packed store (`curate images pack`) is the way to decode once (`stores.py` reads raw stores in batches).
"""

from __future__ import annotations

import functools
import io
import os
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision.transforms import v2

try:  # TorchCodec: libjpeg-turbo on the CPU (nvJPEG on CUDA), the decoder torchvision 0.29 deprecates its own for
    from torchcodec.decoders import decode_image as codec_decode
except ImportError:  # e.g. a GPU machine without the wheel: torchvision's decoder, the same libjpeg-turbo
    codec_decode = None
try:
    from torchvision.io import ImageReadMode, decode_image as vision_decode
except ImportError:  # pragma: no cover - a torchvision without image decoding: fall back to Pillow
    vision_decode = None

from train.data.crops import CaffeCrop, SeededResizedCrop
from train.errors import TrainError

warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision.io.image")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

def decode(data: bytearray) -> torch.Tensor:
    """uint8 RGB tensor (3, H, W) from JPEG/PNG bytes."""
    if codec_decode is not None:
        return codec_decode(torch.frombuffer(data, dtype=torch.uint8), mode="RGB")
    if vision_decode is not None:
        return vision_decode(torch.frombuffer(data, dtype=torch.uint8), mode=ImageReadMode.RGB)
    from PIL import Image

    return v2.functional.pil_to_tensor(Image.open(io.BytesIO(data)).convert("RGB"))


def raw_pixels(data: bytearray, size: int) -> torch.Tensor:
    """uint8 RGB tensor (3, size, size) from a raw store's bytes of one image."""
    return torch.frombuffer(data, dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1)


def train_transform(crop_size: int, min_scale: float = 0.08, seed: int = 0, augment: str = "rrc",
                    resize_size: int = 256) -> SeededResizedCrop | CaffeCrop:
    """The training augmentation, on uint8 tensors, each sample's a fixed function of (seed, epoch, sample):
    "rrc", the standard ImageNet random-resized crop and horizontal flip; "caffe", Caffe's resize to
    resize_size x resize_size, random crop and mirror."""
    if augment == "caffe":
        return CaffeCrop(resize_size, crop_size, seed, train=True)
    return SeededResizedCrop(crop_size, min_scale, seed)


class EvalTransform:
    """The same crops for every sample and epoch: "center", resize the short side and centre crop; "whole",
    the whole image resized to crop_size x crop_size; "ten", the corners and centre of the resized image and
    of its mirror, stacked (10, 3, crop, crop): `loops.scores_of` averages their scores."""

    def __init__(self, resize_size: int, crop_size: int, crops: str = "center"):
        self.transform = {"center": v2.Compose([v2.Resize(resize_size, antialias=True), v2.CenterCrop(crop_size)]),
                          "whole": v2.Resize((crop_size, crop_size), antialias=True),
                          "ten": v2.Compose([v2.Resize(resize_size, antialias=True), v2.TenCrop(crop_size), torch.stack])}[crops]

    def many(self, images: list[torch.Tensor], indices, epoch: int = 0) -> list[torch.Tensor]:
        return [self.transform(image) for image in images]


def eval_transform(resize_size: int, crop_size: int, augment: str = "rrc", crops: str = "center") -> EvalTransform | CaffeCrop:
    """"rrc": resize the short side, centre crop (or `crops`: EvalTransform); "caffe": resize to resize_size x
    resize_size, centre crop."""
    if augment == "caffe":
        return CaffeCrop(resize_size, crop_size, train=False)
    return EvalTransform(resize_size, crop_size, crops)


def set_epoch(loader, epoch: int) -> None:
    """Tell a loader which epoch comes next: its order, and (through the sampler's keys) its crops."""
    if hasattr(loader.sampler, "set_epoch"):  # a plain DataLoader's sampler (the benchmarks' baseline) has none
        loader.sampler.set_epoch(epoch)


class CroppedDataset(Dataset):
    """Samples fetched a batch at a time by keys (epoch, item) from `EpochKeys`: the epoch travels with the
    key, so workers that persist across epochs still crop each sample as that epoch draws it. Subclasses
    say how to read an item's image, its target, and the id its crop is drawn from."""

    transform = None

    def __getitem__(self, key):
        return self.__getitems__([key])[0]

    def __getitems__(self, keys: list):
        epochs, items = zip(*(key if isinstance(key, tuple) else (0, key) for key in keys))
        images = [self.image(item) for item in items]
        crops = self.transform.many(images, [self.sample_id(item) for item in items], epochs[0])
        return [(crop, self.target(item)) for crop, item in zip(crops, items)]


class ImageDataset(CroppedDataset):
    """(uint8 image, target) for the rows `indices` of an image table (`tables.TrainingTable`); targets default
    to its labels; crops are drawn by table row."""

    def __init__(self, table, indices: list[int], transform, targets: list[int] | None = None):
        self.table = table
        self.indices = np.asarray(indices, dtype=np.int64)
        self.transform = transform
        self.targets = table.labels[self.indices] if targets is None else np.asarray(targets, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def sample_id(self, item: int) -> int:
        return int(self.indices[item])

    def target(self, item: int) -> int:
        return int(self.targets[item])

    def image(self, item: int) -> torch.Tensor:
        row = int(self.indices[item])
        try:
            data = self.table.read(row)
            return raw_pixels(data, self.table.store_size) if self.table.store_format == "raw" else decode(data)
        except (RuntimeError, OSError, ValueError) as error:
            raise TrainError(f"{self.table.paths[row].decode()} under {self.table.root} cannot be read as an image "
                             f"({first_line(error)}).") from None


class FileDataset(CroppedDataset):
    """(uint8 image, target) from a list of file paths: the transfer tasks' datasets. With `regions`, each
    sample is that region of its image (a VOC box: xmin, ymin, xmax, ymax, 1-based inclusive pixels)."""

    def __init__(self, files: list[Path], targets: list, transform, regions: list | None = None):
        self.files, self.targets, self.transform, self.regions = files, targets, transform, regions

    def __len__(self) -> int:
        return len(self.files)

    def sample_id(self, item: int) -> int:
        return item

    def target(self, item: int):
        target = self.targets[item]
        return torch.as_tensor(target) if isinstance(target, list) else target

    def image(self, item: int) -> torch.Tensor:
        image = read_image(self.files[item])
        if self.regions is None:
            return image
        xmin, ymin, xmax, ymax = (int(v) for v in self.regions[item])
        return image[:, ymin - 1 : ymax, xmin - 1 : xmax]


def read_image(path: Path) -> torch.Tensor:
    """The uint8 RGB tensor of an image file; one sentence when it cannot be read as an image."""
    try:
        return decode(bytearray(Path(path).read_bytes()))
    except (RuntimeError, OSError, ValueError) as error:
        raise TrainError(f"{path} cannot be read as an image ({first_line(error)}).") from None


def first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class ShardSampler(Sampler):
    """Every `world_size`-th index from `rank`, in order, without padding: exact evaluation under DDP."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.indices = list(range(rank, length, world_size))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class EpochKeys(Sampler):
    """A sampler's indices as keys (epoch, index): the key a sample's crop is drawn from."""

    def __init__(self, sampler):
        self.sampler, self.epoch = sampler, 0

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
        self.epoch = epoch

    def __iter__(self):
        return ((self.epoch, index) for index in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


def make_loader(dataset: Dataset, batch_size: int, workers: int, train: bool, rank: int = 0, world_size: int = 1,
                seed: int = 0, collate_fn=None) -> DataLoader:
    """A DistributedSampler (shuffled, seeded, per-epoch) for training, a shard sampler for evaluation.

    Workers persist across epochs: nothing they draw depends on their own RNG (crops are a function of the
    keys the sampler sends), so they need not be started afresh each epoch, and a resumed run draws the
    same crops as an uninterrupted one under any number of workers."""
    if train:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=False)
    else:
        sampler = ShardSampler(len(dataset), rank, world_size)
    return DataLoader(
        dataset, batch_size=batch_size, sampler=EpochKeys(sampler), num_workers=workers,
        pin_memory=torch.cuda.is_available(), drop_last=train and len(sampler) > batch_size,
        persistent_workers=workers > 0, collate_fn=collate_fn, worker_init_fn=quiet_worker,
    )


def quiet_worker(worker_id: int) -> None:
    """A loader worker leaves interrupts to the process it works for, which reports them once: it ignores Ctrl-C
    (the terminal sends it to every process of the group) and ends quietly on SIGTERM (a worker ended by the signal,
    or by the exception its parent's handler raises, makes that parent report a dead worker, with a traceback, in
    place of its own "Terminated.")."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))


@dataclass(frozen=True)
class InputNorm:
    """How uint8 RGB pixels are fed to a network: in which channel order, minus which mean, over which std (per
    channel of that order, in 0..255 units)."""

    order: tuple[int, int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


INPUT_NORMS = {
    # torchvision's ImageNet recipe: RGB scaled to 0..1, minus the mean, over the std
    "torchvision": InputNorm((0, 1, 2), tuple(255 * m for m in MEAN), tuple(255 * s for s in STD)),
    # Caffe's: BGR 0..255 minus the mean pixel of ilsvrc_2012_mean.npy (caffe/examples/00-classification.ipynb
    # prints it: B 104.0069879317889, G 116.66876761696767, R 122.6789143406786), no scaling
    "caffe": InputNorm((2, 1, 0), (104.0069879317889, 116.66876761696767, 122.6789143406786), (1.0, 1.0, 1.0)),
}


@functools.cache
def normalisation(device: torch.device, input_norm: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of `input_norm` in 0..255 units, made once per device (a fresh host-to-device copy per batch
    would make the host wait for the GPU)."""
    norm = INPUT_NORMS[input_norm]
    return (torch.tensor(norm.mean, device=device).view(1, 3, 1, 1), torch.tensor(norm.std, device=device).view(1, 3, 1, 1))


def to_device(images: torch.Tensor, device: torch.device, channels_last: bool = False,
              input_norm: str = "torchvision") -> torch.Tensor:
    """uint8 (or float 0..255) RGB (N, 3, H, W) -> float32 on `device`, normalised as `input_norm` says
    (`INPUT_NORMS`)."""
    mean, std = normalisation(device, input_norm)
    images = images.to(device, non_blocking=True)
    if INPUT_NORMS[input_norm].order != (0, 1, 2):
        images = images[:, list(INPUT_NORMS[input_norm].order)]
    images = float_batch(images).sub_(mean).div_(std)  # in place: one float copy
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


class ReusedBuffer:
    """A tensor made once and handed out again for every request of its shape (made anew for another shape):
    whoever asks overwrites what the previous request put there."""

    def __init__(self, dtype: torch.dtype):
        self.dtype, self.tensor = dtype, None

    def of_shape(self, shape: torch.Size) -> torch.Tensor:
        if self.tensor is None or self.tensor.shape != shape:
            self.tensor = torch.empty(shape, dtype=self.dtype)
        return self.tensor


FLOAT_BATCH = ReusedBuffer(torch.float32)


def float_batch(images: torch.Tensor) -> torch.Tensor:
    """`images` as float32. A uint8 batch on the CPU is copied into the buffer the previous batch of its shape
    was copied into (the network has used that batch by then): a fresh 38.5 MB tensor per batch of 64 at
    224 px costs four times the copy in page faults. On CUDA the caching allocator reuses memory already."""
    if images.device.type != "cpu" or images.dtype != torch.uint8:
        return images.float()
    return FLOAT_BATCH.of_shape(images.shape).copy_(images)
