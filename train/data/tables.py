"""The image table training reads, as numpy buffers, checked against the data root before any work.

The table is keyed by image path; a label set only relabels the same images, so every label set of one
image index reads the same files (and shares the OS page cache). What curate's ImageTable guarantees (each
label one wnid, every label with training images or none of them) is not checked again here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import CurateError
from curate.images.index import ImageIndex
from curate.images.rows import read_image_bytes
from curate.images.store import ImageStore
from curate.images.table import ImageTable
from curate.labels.manifest import read_labels
from train.config import Data
from train.data.loaders import ImageDataset, eval_transform, make_loader, train_transform
from train.data.stores import RawBatches
from train.errors import TrainError


def buffer(column: pa.ChunkedArray, null) -> np.ndarray:
    """One column as one numpy buffer: text as fixed-width UTF-8 bytes, numbers as int64; nulls as `null`."""
    if pa.types.is_string(column.type):
        return pc.cast(column.fill_null(""), pa.binary()).to_numpy().astype(np.bytes_)
    return column.fill_null(null).to_numpy().astype(np.int64)


@dataclass
class TrainingTable:
    """An image table as training reads it: its rows as numpy buffers, and what it says about its labels.

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
    label_wnids: list[str | None]  # label id -> label wnid (None: a label without rows, in a table to validate on)
    labels_hash: str
    labels_recipe: str
    content_hash: str
    source: str
    store_format: str = ""  # "jpeg" or "raw" for the rows of a packed store; "" for the original images
    store_size: int = 0

    @classmethod
    def of(cls, table: ImageTable, root: Path, source: str) -> TrainingTable:
        rows, meta = table.rows, table.metadata
        label_count = int(meta.get("label_count") or 0) or (pc.max(rows["label"]).as_py() + 1)
        label_wnids: list[str | None] = [None] * label_count
        pairs = rows.group_by("label").aggregate([("label_wnid", "min")])
        for label, label_wnid in zip(pairs["label"].to_pylist(), pairs["label_wnid_min"].to_pylist()):
            label_wnids[label] = label_wnid
        columns = {name: buffer(rows[name], -1) for name in ("path", "archive", "offset", "size", "wnid", "split", "label")}
        return cls(root, columns["path"], columns["archive"], columns["offset"], columns["size"], columns["wnid"],
                   columns["split"], columns["label"], label_wnids, meta.get("labels_hash", ""),
                   meta.get("labels_recipe", ""), table.content_hash, source, meta.get("store_format", ""),
                   int(meta.get("store_size", 0)))

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_labels(self) -> int:
        return len(self.label_wnids)

    def indices(self, split: str) -> list[int]:
        return np.flatnonzero(self.splits == split.encode()).tolist()

    def read(self, i: int) -> bytearray:
        """The encoded bytes of row `i` (a file, a tar member, a store's or a Parquet shard's row), writable, as
        `torch.frombuffer` wants it."""
        offset, size = int(self.offsets[i]), int(self.sizes[i])
        return bytearray(read_image_bytes(self.root, self.paths[i].decode(), self.archives[i].decode() or None,
                                          offset if offset >= 0 else None, size if size >= 0 else None))

    def wnid(self, i: int) -> str:
        return self.wnids[i].decode()

    def identity(self) -> dict:
        """What a checkpoint records about the data it was trained on (numbers as numbers)."""
        return {
            "labels_hash": self.labels_hash,
            "labels_recipe": self.labels_recipe,
            "table_hash": self.content_hash,
            "label_count": self.num_labels,
            "table": self.source,
        }

    def check_files(self) -> None:
        """Fail when paths (or archives) of the table do not exist under the root: say how many and show one.

        One directory listing per folder, not one stat per image: 1.28 M ImageNet paths live in 1000 folders."""
        missing = []
        listings: dict[str, set[str] | None] = {}

        def present(relative: str) -> bool:
            folder, _, name = relative.rpartition("/")
            if folder not in listings:
                try:
                    listings[folder] = {e.name for e in os.scandir(self.root / folder) if not e.is_dir()}
                except OSError:  # no such folder, or not a folder
                    listings[folder] = None
            return listings[folder] is not None and name in listings[folder]

        for path, archive in zip(self.paths.tolist(), self.archives.tolist()):
            where = (archive or path).decode()
            if not present(where):
                missing.append(where)
        if missing:
            raise TrainError(
                f"{len(missing)} of the {len(self)} images of {self.source} are missing under {self.root} "
                f"(for example {missing[0]}): pass the right folder with `root`."
            )


def load_table(table_path: Path | None = None, labels_path: Path | None = None, index_path: Path | None = None,
               root: Path | None = None, check_files: bool = True, store_path: Path | None = None) -> TrainingTable:
    """The image table at `table_path`, or the manifest at `labels_path` applied to the image index at
    `index_path`, for training. With `store_path`, the table's images are read from that packed store instead
    (matched by path)."""
    if table_path is not None:
        table = ImageTable.read(table_path)
        source = str(table_path)
    elif labels_path is not None and index_path is not None:
        table = ImageIndex.read(Path(index_path)).label(read_labels(Path(labels_path)))  # what `curate images apply` writes
        source = f"{labels_path} + {index_path}"
    else:
        raise TrainError("Give the image table with `table`, or a label manifest and an image index with `labels` and `images`.")
    if store_path is not None:
        table, root = from_store(table, source, Path(store_path)), None
    elif "store_format" in table.metadata and root is None:  # a table made on a store's own index: check the store too
        try:
            ImageStore.open(Path(table.root))
        except CurateError as error:
            raise TrainError(f"{source}: {error}") from None
    root = Path(root) if root is not None else Path(table.root)
    if not root.is_dir():
        raise TrainError(f"The data root {root} is not a folder: pass the folder the table's paths are relative to with `root`.")
    if not len(table):
        raise TrainError(f"{source} lists no images.")
    result = TrainingTable.of(table, root, source)
    if check_files:
        result.check_files()
    return result


def from_store(table: ImageTable, source: str, store_path: Path) -> ImageTable:
    """The table with its images read from a packed store: each row pointed into the store by its path. The
    store must have been packed from the index the table was made from (or one it was subset from)."""
    try:
        store = ImageStore.open(store_path)
    except CurateError as error:
        raise TrainError(f"`store`: {error}") from None
    origin = table.metadata.get("origin_hash") or table.metadata.get("images_hash", "")
    if origin != store.origin_hash:
        raise TrainError(f"{source} was made from another image index ({origin[:19]}…) than the store {store_path} was "
                         f"packed from ({store.origin_hash[:19]}…): pack the table's index, or make the table from the "
                         "store's source index.")
    located = store.rows_for(table.rows["path"])
    rows = table.rows
    for name in ("size", "archive", "offset"):
        rows = rows.set_column(rows.schema.get_field_index(name), name, located[name])
    metadata = {**table.metadata, "root": str(store.folder.resolve()),
                **{key: store.index.metadata[key] for key in ("store_format", "store_size", "store_resize")}}
    return ImageTable(rows, metadata)


def load_tables(data: Data, check_files: bool = True) -> tuple[TrainingTable, TrainingTable, list[int]]:
    """The training table, and the table and rows to validate on: --val-table (or --labels with --val-images)
    when given, else the training table's "val" split (possibly empty). --store / --val-store: read their
    images from packed stores."""
    table = load_table(data.table, data.labels, data.images, data.root, check_files, store_path=data.store)
    if data.val_table is None and data.val_images is None:
        return table, table, table.indices("val")
    labels = data.labels if data.val_images is not None else None
    val = load_table(data.val_table, labels, data.val_images, data.val_root, check_files, store_path=data.val_store)
    if val.labels_hash != table.labels_hash:
        raise TrainError(f"The validation table {val.source} carries another label set ({val.labels_recipe}) than "
                         f"{table.source} ({table.labels_recipe}): apply the same label manifest to both.")
    return table, val, list(range(len(val)))


def knn_targets(table: TrainingTable, indices: list[int], labels_path: Path) -> tuple[list[int], list[int], list[str]]:
    """Relabel rows of a table with another label manifest (by wnid): kept positions, targets, label wnids."""
    try:
        other = read_labels(Path(labels_path))
    except CurateError as error:
        raise TrainError(f"`knn_labels`: {error}") from None
    label_of = other.label_index
    wnid_to_label = {row.wnid: label_of[row.label_wnid] for row in other.kept}
    kept = [pos for pos, i in enumerate(indices) if table.wnid(i) in wnid_to_label]
    if not kept:
        raise TrainError(f"`knn_labels` {labels_path} labels none of the images of {table.source}.")
    return kept, [wnid_to_label[table.wnid(indices[pos])] for pos in kept], other.label_wnids


def image_loader(table: TrainingTable, rows: list[int], config, run, *, train: bool, targets=None):
    """Batches of the rows `rows` of `table` for a run (`config`: its sizes, augmentation, batch size and workers):
    a raw store in batches cropped on the device; anything else one image at a time in worker processes."""
    targets = table.labels[np.asarray(rows, dtype=np.int64)] if targets is None else targets
    if table.store_format == "raw":
        return RawBatches(table, rows, targets, batch_size=config.batch_size, train=train, device=run.device,
                          crop_size=config.train_crop_size if train else config.val_crop_size, min_scale=config.min_scale,
                          resize_size=config.val_resize_size, augment=config.augment, seed=getattr(config, "seed", 0),
                          rank=run.rank, world_size=run.world_size)
    transform = (train_transform(config.train_crop_size, config.min_scale, getattr(config, "seed", 0), config.augment,
                                 config.val_resize_size) if train
                 else eval_transform(config.val_resize_size, config.val_crop_size, config.augment))
    dataset = ImageDataset(table, rows, transform, targets)
    return make_loader(dataset, config.batch_size, config.workers, train, run.rank, run.world_size, getattr(config, "seed", 0))
