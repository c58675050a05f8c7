"""The images of a grid: curate image indexes (ImageNet), or the demo's synthetic world drawn into the grid's
folder (`world.py`). Either way each variant's image tables are made with curate's library (subset, label)
and written once under the grid's tables/, named by what they are made of.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from curate.images.index import ImageIndex
from curate.images.table import ImageTable
from curate.labels.classlists import ClassList, builtin_list
from curate.labels.manifest import labels_hash, write_labels
from curate.labels.presets import PRESETS, labels_named
from train.errors import TrainError
from train.world import CLASSES, DEFAULT_GROUPING, draw_world

@dataclass(frozen=True)
class Tables:
    """The image tables one variant trains and validates on, and what they hold."""

    train: Path
    val: Path | None
    root: Path | None
    val_root: Path | None
    labels_hash: str
    train_hash: str
    val_hash: str
    label_count: int
    class_count: int
    train_images: int
    val_images: int


def digest(value) -> str:
    """A hash of a JSON-able value, the same for the same value on any machine."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class GridImages:
    """The images of an experiment's [data] (`data`), for the grid in `out`; every label set the experiment
    names is made (and so checked) when this is made."""

    def __init__(self, data: dict, out: Path, label_sets: set[str]):
        self.spec, self.out = data, Path(out)
        self.synthetic = "synthetic" in data
        self._labels, self._tables = {}, {}
        if self.synthetic:
            self.folder = self.out / "data"
            self.train_index, self.val_index = self.folder / "images-train.parquet", self.folder / "images-val.parquet"
            self.root = self.val_root = None
            self.store = self.val_store = None
        else:  # paths as a command line gives them: from the folder the grid runs in
            self.train_index = Path(data["train_index"])
            self.val_index = Path(data["val_index"]) if "val_index" in data else None
            self.root = Path(data["root"]) if "root" in data else None
            self.val_root = Path(data["val_root"]) if "val_root" in data else None
            self.store = Path(data["store"]) if "store" in data else None  # packed stores of the indexes
            self.val_store = Path(data["val_store"]) if "val_store" in data else None
        for spec in sorted(label_sets):
            self.label_set(spec)

    @functools.cached_property
    def hierarchy(self):
        from curate.wordnet.snapshot import load_hierarchy

        return load_hierarchy()

    def available(self) -> bool:
        return self.train_index.is_file()

    def world(self) -> dict:
        return {"world": self.spec["synthetic"], "grouping": self.spec.get("grouping", DEFAULT_GROUPING),
                "train_per_class": self.spec.get("train_per_class", 60), "val_per_class": self.spec.get("val_per_class", 20),
                "seed": self.spec.get("seed", 0)}

    def prepare(self) -> None:
        """Draw the synthetic world once, and index it; check that real indexes are there."""
        if not self.synthetic:
            if not self.available():
                raise TrainError(f"The image index {self.train_index} does not exist: make it with curate images index.")
            return
        if (self.folder / "world.json").is_file() and json.loads((self.folder / "world.json").read_text()) == self.world():
            return
        world = self.world()
        draw_world(self.folder, world["train_per_class"], world["val_per_class"], world["seed"], world["grouping"])
        for split in ("train", "val"):  # after the rename: the indexes record the images' final root
            ImageIndex.build(self.folder / "imagenet" / split, split=split).write(self.folder / f"images-{split}.parquet")
        (self.folder / "world.json").write_text(json.dumps(world, sort_keys=True) + "\n")

    def base(self) -> ClassList:
        return ClassList("factors-12", CLASSES) if self.synthetic else builtin_list("ilsvrc2012")

    def label_set(self, spec: str):
        """The label set `spec` names, as curate names label sets (`labels_named`): made from WordNet once."""
        if spec not in self._labels:
            if self.synthetic and spec in {preset.name for preset in PRESETS}:
                raise TrainError(f"The label set {spec!r} is a preset of ILSVRC classes; the synthetic world takes "
                                 "identity or a recipe of its classes (e.g. 'coarsen --lift 1').")
            self._labels[spec] = labels_named(spec, self.hierarchy, self.base())
        return self._labels[spec]

    def manifest(self, spec: str) -> Path:
        """The label set `spec` as a manifest file in the grid's labels/ (what evaluate's `knn_labels` reads)."""
        labels = self.label_set(spec)
        path = self.out / "labels" / f"{labels_hash(labels).split(':')[-1][:16]}.parquet"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_labels(labels, path)
        return path

    @functools.cached_property
    def train_images(self) -> ImageIndex:
        """The train index, read once for every variant (ImageNet's is 1.28 M rows)."""
        return ImageIndex.read(self.train_index)

    @functools.cached_property
    def val_images(self) -> ImageIndex | None:
        return ImageIndex.read(self.val_index) if self.val_index is not None else None

    def tables(self, variant) -> Tables:
        """The train and val tables of `variant`, made the first time they are asked for."""
        key = (variant.labels, variant.per_class, variant.budget, variant.subset_seed)
        if key not in self._tables:
            self._tables[key] = self.make_tables(variant)
        return self._tables[key]

    def make_tables(self, variant) -> Tables:
        labels = self.label_set(variant.labels)
        train_index = self.train_images
        subset = {"per_class": variant.per_class} if variant.per_class else {"budget": variant.budget} if variant.budget else {}
        name = digest({"labels": labels_hash(labels), "index": train_index.content_hash, **subset, "seed": variant.subset_seed})[:16]
        train_path, val_path = self.out / "tables" / f"{name}-train.parquet", self.out / "tables" / f"{name}-val.parquet"
        if not train_path.is_file():
            train_path.parent.mkdir(parents=True, exist_ok=True)
            chosen = train_index.subset(**subset, labels=labels if variant.budget else None, seed=variant.subset_seed,
                                        allow_short=True) if subset else train_index
            chosen.label(labels).write(train_path)
            if self.val_images is not None:
                self.val_images.label(labels, allow_missing=True).write(val_path)
        return self.described(labels, train_path, val_path)

    def knn_tables(self, knn) -> Tables:
        """The k-NN bank and queries of a [[knn]] entry, the same for every variant it scores: `bank_per_class`
        seeded images of each class of the train index (all of a smaller class), and every image of the val
        index, both labelled by its label set."""
        key = ("knn", knn.labels, knn.bank_per_class, knn.bank_seed)
        if key not in self._tables:
            labels = self.label_set(knn.labels)
            if self.val_images is None:
                raise TrainError("k-NN scores queries from the val index: give val_index in [data].")
            name = digest({"knn": labels_hash(labels), "index": self.train_images.content_hash,
                           "val": self.val_images.content_hash, "per_class": knn.bank_per_class, "seed": knn.bank_seed})[:16]
            bank, queries = self.out / "tables" / f"{name}-bank.parquet", self.out / "tables" / f"{name}-queries.parquet"
            if not bank.is_file():
                bank.parent.mkdir(parents=True, exist_ok=True)
                largest = max(self.train_images.class_counts().values())
                chosen = (self.train_images.subset(per_class=knn.bank_per_class, seed=knn.bank_seed, allow_short=True)
                          if knn.bank_per_class < largest else self.train_images)  # every image of every class
                chosen.label(labels, allow_missing=True).write(bank)
                self.val_images.label(labels, allow_missing=True).write(queries)
            self._tables[key] = self.described(labels, bank, queries)
        return self._tables[key]

    def described(self, labels, train_path: Path, val_path: Path) -> Tables:
        train = ImageTable.read(train_path)
        val = ImageTable.read(val_path) if val_path.is_file() else None
        return Tables(train=train_path, val=val_path if val else None, root=self.root, val_root=self.val_root,
                      labels_hash=labels_hash(labels), train_hash=train.content_hash, val_hash=val.content_hash if val else "",
                      label_count=labels.label_count, class_count=len(labels.kept), train_images=len(train),
                      val_images=len(val) if val else 0)

    def task_folder(self, data: str) -> Path:
        """A transfer's data folder: the synthetic world's task for "synthetic", else the folder it names."""
        if data == "synthetic":
            if not self.synthetic:
                raise TrainError("A transfer's data = \"synthetic\" needs the synthetic world in [data].")
            return self.folder / "transfer"
        return Path(data)
