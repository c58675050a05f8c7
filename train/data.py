"""Training input: the image table a manifest produced, checked against the data root, as a torch dataset.

Decode once per sample with libjpeg-turbo (torchvision.io) into uint8, augment on uint8, collate uint8 and
convert to normalised float on the device: the workers move a quarter of the bytes the classic
PIL -> ToTensor -> Normalize pipeline moves. The dataset is keyed by image path; a label set only relabels
the same images, so every label set of one image index reads the same files (and shares the OS page cache).
Images are decoded afresh each epoch: there is no cache of decoded pixels.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision.transforms import v2

try:  # libjpeg-turbo through torchvision; deprecated in torchvision 0.29 in favour of torchcodec
    from torchvision.io import ImageReadMode, decode_image
except ImportError:  # pragma: no cover - a torchvision without image decoding: fall back to Pillow
    decode_image = None

from curate.errors import CurateError
from curate.images.index import ImageIndex
from curate.images.table import ImageTable
from curate.labels.manifest import read_labels
from train.errors import TrainError

warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision.io.image")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


# --- the image table -------------------------------------------------------------------------------------


def packed(values: list[str | None]) -> np.ndarray:
    """UTF-8 strings in one fixed-width numpy buffer (None as b"")."""
    return np.array([(v or "").encode() for v in values], dtype=np.bytes_)


def numbers(values: list[int | None]) -> np.ndarray:
    return np.array([-1 if v is None else v for v in values], dtype=np.int64)


@dataclass
class ImageRows:
    """The rows of one image table as numpy buffers, and what the table says about its labels.

    Numpy buffers, not Python lists: DataLoader workers fork from the main process, and touching millions
    of Python objects there (reference counts) would copy their pages into every worker."""

    root: Path
    paths: np.ndarray  # bytes, relative to root
    archives: np.ndarray  # bytes; b"" for a plain file
    offsets: np.ndarray  # int64; -1 for a plain file
    sizes: np.ndarray  # int64; -1 where unknown
    wnids: np.ndarray  # bytes
    splits: np.ndarray  # bytes
    labels: np.ndarray  # int64
    label_wnids: list[str]  # label id -> label wnid
    labels_hash: str
    labels_recipe: str
    content_hash: str
    source: str

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_classes(self) -> int:
        return len(self.label_wnids)

    def indices(self, split: str) -> list[int]:
        return np.flatnonzero(self.splits == split.encode()).tolist()

    def read(self, i: int) -> bytearray:
        """The encoded bytes of row `i`."""
        archive = self.archives[i].decode() or None
        return read_bytes(self.root, self.paths[i].decode(), archive, int(self.offsets[i]), int(self.sizes[i]))

    def wnid(self, i: int) -> str:
        return self.wnids[i].decode()

    def identity(self) -> dict[str, str]:
        """What a checkpoint records about the data it was trained on."""
        return {
            "labels_hash": self.labels_hash,
            "labels_recipe": self.labels_recipe,
            "table_hash": self.content_hash,
            "classes": str(self.num_classes),
            "table": self.source,
        }


def load_table(table: Path | None = None, labels: Path | None = None, index: Path | None = None,
               root: Path | None = None, check_files: bool = True, training: bool = True) -> ImageRows:
    """The image table `table`, or `labels` joined with the image index `index`; checked for use.

    A training table must give every label at least one image of the "train" split."""
    if table is not None:
        image_table = ImageTable.read(table)
        source = str(table)
    elif labels is not None and index is not None:
        image_table = ImageIndex.read(Path(index)).label(read_labels(Path(labels)))  # what `curate images apply` writes
        source = f"{labels} + {index}"
    else:
        raise TrainError("Give the image table with --table, or a label manifest and an image index with --labels and --images.")
    data, meta = image_table.rows, {**image_table.metadata, "content_hash": image_table.content_hash}
    root = Path(root) if root is not None else Path(meta.get("root") or ".")
    if not root.is_dir():
        raise TrainError(f"The data root {root} is not a folder: pass the folder the table's paths are relative to with --root.")
    if data.num_rows == 0:
        raise TrainError(f"{source} lists no images.")
    columns = data.to_pydict()
    classes = int(meta.get("label_count") or 0) or (pc.max(data["label"]).as_py() + 1)
    label_wnids: list[str | None] = [None] * classes  # labels a val table lacks stay None
    for label, label_wnid in zip(columns["label"], columns["label_wnid"]):
        if not 0 <= label < classes:
            raise TrainError(f"{source} has label {label}, outside 0..{classes - 1} for its {classes} classes.")
        if not label_wnid:
            raise TrainError(f"{source} has an empty label_wnid for label {label}.")
        if label_wnids[label] is None:
            label_wnids[label] = label_wnid
        elif label_wnids[label] != label_wnid:
            raise TrainError(f"{source} gives label {label} two wnids, {label_wnids[label]} and {label_wnid}.")
    counts = [0] * classes
    for label, split in zip(columns["label"], columns["split"]):
        counts[label] += split == "train"
    empty = [i for i, n in enumerate(counts) if n == 0]
    if training and empty:
        name = label_wnids[empty[0]] or "with no rows at all"
        raise TrainError(
            f"{len(empty)} of the {classes} labels of {source} {'has' if len(empty) == 1 else 'have'} no training "
            f"images (label {empty[0]}, {name}): "
            "a net cannot learn an empty label; drop it from the label set or add its images."
        )
    result = ImageRows(
        root, packed(columns["path"]), packed(columns["archive"]), numbers(columns["offset"]),
        numbers(columns["size"]), packed(columns["wnid"]), packed(columns["split"]), numbers(columns["label"]),
        label_wnids, meta.get("labels_hash", ""), meta.get("labels_recipe", ""), meta.get("content_hash", ""), source,
    )
    if check_files:
        check_images(result)
    return result


def load_tables(args, check_files: bool = True) -> tuple[ImageRows, ImageRows, list[int]]:
    """The training table, and the table and rows to validate on: --val-table (or --labels with --val-images)
    when given, else the training table's "val" split (possibly empty)."""
    table = load_table(args.table, args.labels, args.images, args.root, check_files)
    if args.val_table is None and args.val_images is None:
        return table, table, table.indices("val")
    labels = args.labels if args.val_images is not None else None
    val = load_table(args.val_table, labels, args.val_images, args.val_root, check_files, training=False)
    if val.labels_hash != table.labels_hash:
        raise TrainError(f"The validation table {val.source} carries another label set ({val.labels_recipe}) than "
                         f"{table.source} ({table.labels_recipe}): apply the same label manifest to both.")
    return table, val, list(range(len(val)))


def check_images(table: ImageRows) -> None:
    """Fail when paths (or archives) of the table do not exist under the root: say how many and show one.

    One directory listing per folder, not one stat per image: 1.28 M ImageNet paths live in 1000 folders."""
    missing = []
    listings: dict[str, set[str] | None] = {}

    def present(relative: str) -> bool:
        folder, _, name = relative.rpartition("/")
        if folder not in listings:
            try:
                listings[folder] = {e.name for e in os.scandir(table.root / folder) if not e.is_dir()}
            except OSError:  # no such folder, or not a folder
                listings[folder] = None
        return listings[folder] is not None and name in listings[folder]

    for path, archive in zip(table.paths.tolist(), table.archives.tolist()):
        where = (archive or path).decode()
        if not present(where):
            missing.append(where)
    if missing:
        raise TrainError(
            f"{len(missing)} of the {len(table)} images of {table.source} are missing under {table.root} "
            f"(for example {missing[0]}): pass the right folder with --root."
        )


# --- reading and decoding --------------------------------------------------------------------------------


def read_bytes(root: Path, path: str, archive: str | None, offset: int | None, size: int | None) -> bytearray:
    """The encoded image: a file under the root, or `size` bytes at `offset` of a tar archive under it."""
    if archive is None:
        with open(root / path, "rb") as f:
            return bytearray(f.read())
    with open(root / archive, "rb") as f:
        f.seek(offset)
        data = bytearray(size)
        f.readinto(data)
        return data


def decode(data: bytearray) -> torch.Tensor:
    """uint8 RGB tensor (3, H, W) from JPEG/PNG bytes."""
    if decode_image is None:
        from PIL import Image

        return v2.functional.pil_to_tensor(Image.open(io.BytesIO(data)).convert("RGB"))
    return decode_image(torch.frombuffer(data, dtype=torch.uint8), mode=ImageReadMode.RGB)


def train_transform(crop_size: int, min_scale: float = 0.08) -> v2.Transform:
    """The standard ImageNet augmentation, on uint8 tensors: random-resized crop and horizontal flip."""
    return v2.Compose([v2.RandomResizedCrop(crop_size, scale=(min_scale, 1.0), antialias=True), v2.RandomHorizontalFlip()])


def eval_transform(resize_size: int, crop_size: int) -> v2.Transform:
    """Resize the short side, centre crop."""
    return v2.Compose([v2.Resize(resize_size, antialias=True), v2.CenterCrop(crop_size)])


class ImageDataset(Dataset):
    """(uint8 image, target) for the rows `indices` of an image table; targets default to its labels."""

    def __init__(self, table: ImageRows, indices: list[int], transform, targets: list[int] | None = None):
        self.table = table
        self.indices = np.asarray(indices, dtype=np.int64)
        self.transform = transform
        self.targets = table.labels[self.indices] if targets is None else np.asarray(targets, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int):
        row = int(self.indices[item])
        try:
            image = decode(self.table.read(row))
        except (RuntimeError, OSError, ValueError) as error:
            raise TrainError(f"{self.table.paths[row].decode()} under {self.table.root} cannot be read as an image "
                             f"({str(error).splitlines()[0] if str(error) else type(error).__name__}).") from None
        return self.transform(image), int(self.targets[item])


class FileDataset(Dataset):
    """(uint8 image, target) from a list of file paths: the transfer tasks' datasets."""

    def __init__(self, files: list[Path], targets: list, transform):
        self.files, self.targets, self.transform = files, targets, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: int):
        with open(self.files[item], "rb") as f:
            image = decode(bytearray(f.read()))
        target = self.targets[item]
        return self.transform(image), torch.as_tensor(target) if isinstance(target, list) else target


class ShardSampler(Sampler):
    """Every `world_size`-th index from `rank`, in order, without padding: exact evaluation under DDP."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.indices = list(range(rank, length, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def make_loader(dataset: Dataset, batch_size: int, workers: int, train: bool, rank: int = 0, world_size: int = 1,
                seed: int = 0) -> DataLoader:
    """A DistributedSampler (shuffled, seeded, per-epoch) for training, a shard sampler for evaluation.

    Workers are not persistent: each epoch seeds them afresh from the main process's RNG, whose state the
    checkpoint carries, so a resumed run draws the same augmentations as an uninterrupted one."""
    if train:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=False)
    else:
        sampler = ShardSampler(len(dataset), rank, world_size)
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, pin_memory=torch.cuda.is_available(),
        drop_last=train and len(sampler) > batch_size,
    )


@functools.cache
def normalisation(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std in 0..255 units, made once per device (a fresh host-to-device copy per batch would make
    the host wait for the GPU)."""
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * 255
    return mean, std


def to_device(images: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> normalised float32 on `device`."""
    mean, std = normalisation(device)
    images = images.to(device, non_blocking=True).float().sub_(mean).div_(std)  # in place: one float copy
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def knn_targets(table: ImageRows, indices: list[int], labels_path: Path) -> tuple[list[int], list[int], list[str]]:
    """Relabel rows of a table with another label manifest (by wnid): kept positions, targets, label wnids."""
    try:
        other = read_labels(Path(labels_path))
    except CurateError as error:
        raise TrainError(f"--knn-labels: {error}") from None
    label_of = other.label_index
    wnid_to_label = {row.wnid: label_of[row.label_wnid] for row in other.kept}
    kept = [pos for pos, i in enumerate(indices) if table.wnid(i) in wnid_to_label]
    if not kept:
        raise TrainError(f"--knn-labels {labels_path} labels none of the images of {table.source}.")
    return kept, [wnid_to_label[table.wnid(indices[pos])] for pos in kept], other.label_wnids

