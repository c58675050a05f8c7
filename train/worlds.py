"""Where a grid's images come from: curate image indexes (ImageNet), or the demo's synthetic world drawn into
the grid's folder. Either way each variant's image tables are made with curate's library (subset, label)
and written once under the grid's tables/, named by what they are made of.

The synthetic world ("factors"): images composed of two visual factors, a shape (circle, triangle, square,
cross) and a texture (solid, stripes, checks, dots), colour and position random. The twelve pretraining
classes are real ILSVRC wnids, so curate's recipes group them as WordNet does: three toy dogs, three domestic
cats, three finches, three trucks (coarsen lift=1). Each fine class is one shape-texture combination, and each
coarse label merges three combinations that share neither shape nor texture (label g holds (g, g+1),
(g+1, g+3) and (g+3, g+2), mod 4): no one factor tells the coarse labels apart, and both tell the fine ones
apart, so whether coarse training learns what separates fine classes is for the experiment to show, not the
world. The transfer task classifies the four combinations no pretraining class has, (s, s): known factors,
new combinations.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from curate.errors import CurateError
from curate.images.index import ImageIndex
from curate.images.table import ImageTable
from curate.labels.classlists import ClassList, builtin_list
from curate.labels.manifest import labels_hash, read_labels, write_labels
from curate.labels.presets import PRESETS
from curate.labels import recipes
from curate.wordnet.hierarchy import DEFAULT_TREE_RULE
from train.errors import TrainError

SHAPES = ("circle", "triangle", "square", "cross")
TEXTURES = ("solid", "stripes", "checks", "dots")
# WordNet's coarse groups of the twelve classes (coarsen lift=1 finds them), in the order g = 0..3.
GROUPS = (("n02085620", "n02085782", "n02085936"),  # Chihuahua, Japanese spaniel, Maltese dog: toy dog
          ("n02123045", "n02123159", "n02123394"),  # tabby, tiger cat, Persian cat: domestic cat
          ("n01530575", "n01531178", "n01532829"),  # brambling, goldfinch, house finch: finch
          ("n03417042", "n03796401", "n04467665"))  # garbage truck, moving van, trailer truck: truck
FACTOR_CLASSES = {wnid: (SHAPES[s % 4], TEXTURES[t % 4])
                  for g, group in enumerate(GROUPS)
                  for wnid, (s, t) in zip(group, ((g, g + 1), (g + 1, g + 3), (g + 3, g + 2)))}
NEW_COMBINATIONS = {wnid: (SHAPES[s], TEXTURES[s]) for s, wnid in  # orange, lemon, banana, Granny Smith
                    enumerate(("n07747607", "n07749582", "n07753592", "n07742313"))}
LABEL_RECIPES = "a curate preset (in1k, coarse-127, down-up-918, ...), identity, 'coarsen lift=N' / 'depth=N' / 'classes=N', 'random N' or a .parquet manifest"


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
    train_images: int


def digest(value) -> str:
    """A hash of a JSON-able value, the same for the same value on any machine."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class Source:
    """The images of an experiment's [data], for the grid in `out`."""

    def __init__(self, experiment, out: Path):
        self.spec, self.out = experiment.data, Path(out)
        self.synthetic = "synthetic" in self.spec
        self._labels, self._tables = {}, {}
        if self.synthetic:
            self.folder = self.out / "data"
            self.train_index, self.val_index = self.folder / "images-train.parquet", self.folder / "images-val.parquet"
            self.root = self.val_root = None
        else:
            # paths as a command line gives them: from the folder the grid runs in
            self.train_index = Path(self.spec["train_index"])
            self.val_index = Path(self.spec["val_index"]) if "val_index" in self.spec else None
            self.root = Path(self.spec["root"]) if "root" in self.spec else None
            self.val_root = Path(self.spec["val_root"]) if "val_root" in self.spec else None
        for spec in {v.labels for v in experiment.variants} | {k.labels for k in experiment.knn}:
            self.label_set(spec)  # every label set checked before anything runs

    @functools.cached_property
    def hierarchy(self):
        from curate.wordnet.snapshot import load_hierarchy

        return load_hierarchy()

    def available(self) -> bool:
        return self.train_index.is_file()

    def world(self) -> dict:
        return {"world": self.spec["synthetic"], "train_per_class": int(self.spec.get("train_per_class", 60)),
                "val_per_class": int(self.spec.get("val_per_class", 20)), "seed": int(self.spec.get("seed", 0))}

    def prepare(self) -> None:
        """Draw the synthetic world once (into a folder renamed into place when whole); check real indexes."""
        if not self.synthetic:
            if not self.available():
                raise TrainError(f"The image index {self.train_index} does not exist: make it with curate images index.")
            return
        if (self.folder / "world.json").is_file() and json.loads((self.folder / "world.json").read_text()) == self.world():
            return
        from train.synthetic import make_images

        world, partial = self.world(), self.out / "data.partial"
        shutil.rmtree(partial, ignore_errors=True)
        make_images(partial / "imagenet", FACTOR_CLASSES, {"train": world["train_per_class"], "val": world["val_per_class"]}, world["seed"])
        # few training images: a linear probe on them shows how far the features carry a new combination
        make_images(partial / "transfer", NEW_COMBINATIONS, {"train": 5, "val": 40}, world["seed"] + 1)
        shutil.rmtree(self.folder, ignore_errors=True)
        partial.rename(self.folder)  # the indexes record the images' final root
        for split in ("train", "val"):
            ImageIndex.build(self.folder / "imagenet" / split, split=split).write(self.folder / f"images-{split}.parquet")
        (self.folder / "world.json").write_text(json.dumps(world, sort_keys=True) + "\n")

    def base(self) -> ClassList:
        return ClassList("factors-12", tuple(sorted(FACTOR_CLASSES))) if self.synthetic else builtin_list("ilsvrc2012")

    def label_set(self, spec: str):
        """The label set `spec` names, made from WordNet by curate's recipes (or read from a manifest)."""
        if spec not in self._labels:
            self._labels[spec] = self.make_labels(spec)
        return self._labels[spec]

    def make_labels(self, spec: str):
        words = spec.split()
        try:
            if spec.endswith(".parquet"):
                return read_labels(Path(spec))
            if spec == "identity":
                return recipes.identity(self.hierarchy, self.base())
            match = re.fullmatch(r"coarsen (depth|lift|classes)=(\d+)", spec)
            if match:
                return recipes.coarsen(self.hierarchy.tree(DEFAULT_TREE_RULE), self.base(), **{match[1]: int(match[2])})
            if len(words) == 2 and words[0] == "random" and words[1].isdigit():
                return recipes.sample(self.hierarchy, self.base(), int(words[1]), seed=0)
        except CurateError as error:
            raise TrainError(f"The label set {spec!r}: {error}") from None
        presets = {p.name: p for p in PRESETS}
        if spec in presets:
            if self.synthetic:
                raise TrainError(f"The label set {spec!r} is a preset of ILSVRC classes; the synthetic world takes identity, "
                                 "'coarsen lift=N' / 'depth=N' / 'classes=N' or 'random N'.")
            return presets[spec].build(self.hierarchy)
        raise TrainError(f"Unknown label set {spec!r}: give {LABEL_RECIPES}.")

    def manifest(self, spec: str) -> Path:
        """The label set `spec` as a manifest file in the grid's labels/ (what evaluate --knn-labels reads)."""
        labels = self.label_set(spec)
        path = self.out / "labels" / f"{labels_hash(labels).split(':')[-1][:16]}.parquet"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_labels(labels, path)
        return path

    def tables(self, variant) -> Tables:
        """The train and val tables of `variant`, made the first time they are asked for."""
        key = (variant.labels, variant.images_per_class, variant.budget, variant.subset_seed)
        if key not in self._tables:
            self._tables[key] = self.make_tables(variant)
        return self._tables[key]

    @functools.cached_property
    def train_images(self) -> ImageIndex:
        """The train index, read once for every variant (ImageNet's is 1.28 M rows)."""
        return ImageIndex.read(self.train_index)

    @functools.cached_property
    def val_images(self) -> ImageIndex | None:
        return ImageIndex.read(self.val_index) if self.val_index is not None else None

    def make_tables(self, variant) -> Tables:
        labels = self.label_set(variant.labels)
        train_index = self.train_images
        subset = {"per_class": variant.images_per_class} if variant.images_per_class else {"budget": variant.budget} if variant.budget else {}
        name = digest({"labels": labels_hash(labels), "index": train_index.content_hash, **subset, "seed": variant.subset_seed})[:16]
        train_path, val_path = self.out / "tables" / f"{name}-train.parquet", self.out / "tables" / f"{name}-val.parquet"
        if not train_path.is_file():
            train_path.parent.mkdir(parents=True, exist_ok=True)
            chosen = train_index.subset(**subset, labels=labels if variant.budget else None, seed=variant.subset_seed,
                                        allow_short=True) if subset else train_index
            chosen.label(labels).write(train_path)
            if self.val_images is not None:
                self.val_images.label(labels, allow_missing=True).write(val_path)
        train = ImageTable.read(train_path)
        val = ImageTable.read(val_path) if val_path.is_file() else None
        return Tables(train=train_path, val=val_path if val else None, root=self.root, val_root=self.val_root,
                      labels_hash=labels_hash(labels), train_hash=train.content_hash, val_hash=val.content_hash if val else "",
                      label_count=labels.label_count, train_images=len(train))

    def task_folder(self, transfer) -> Path:
        if transfer.data == "synthetic":
            if not self.synthetic:
                raise TrainError("A transfer's data = \"synthetic\" needs the synthetic world in [data].")
            return self.folder / "transfer"
        return Path(transfer.data)

