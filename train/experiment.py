"""An experiment file (TOML): the pretraining variants of a grid, the tasks each is transferred to, and the
k-NN evaluations; read and checked whole, in one sentence per mistake, before anything runs.

    name = "demo"
    throughput = 2000                        # images/s a GPU trains at, for --dry-run's cost (optional)
    [data]                                   # the images: curate image indexes, or a synthetic world
    train_index = "train.parquet"            # (or: synthetic = "factors", train_per_class, val_per_class)
    val_index = "val.parquet"
    root = "imagenet/train"
    val_root = "imagenet/val"
    [options]                                # settings for every run (pretrain or finetune flags' fields)
    device = "cuda"
    [[pretrain]]                             # a variant; a list in images_per_class, budget or seeds makes one cell each
    name = "in1k"
    labels = "in1k"                          # a curate preset, identity, "coarsen lift=1", "random 250", or a .parquet
    images_per_class = [1000, 500]           # or budget = [500000], or neither: every image
    model = "caffenet"
    recipe = "caffe"                         # --augment
    iterations = 450000                      # SGD steps (the same for every data size), or epochs = 90
    seeds = [0]
    series = "more images per class"         # how the report groups it (optional)
    options = { lr = 0.01, batch_size = 256 }
    [[knn]]                                  # k-NN of every variant's features on these labels
    labels = "in1k"
    [[transfer]]                             # every variant is fine-tuned on this task, once per seed
    task = "voc07-det"
    data = "VOCdevkit"
    seeds = [0, 1, 2]
    images_per_s = 20                        # for the cost (optional)
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from train.config import FinetuneConfig, PretrainConfig
from train.errors import TrainError
from train.tasks import TASKS

TOP = {"name", "description", "throughput", "data", "options", "pretrain", "knn", "transfer", "nproc_per_node", "slurm"}
DATA = {"synthetic", "train_per_class", "val_per_class", "seed", "train_index", "val_index", "root", "val_root"}
PRETRAIN = {"name", "labels", "images_per_class", "budget", "model", "recipe", "epochs", "iterations", "seeds", "series",
            "options", "subset_seed"}
TRANSFER = {"task", "data", "seeds", "options", "images_per_s"}
KNN = {"labels", "k"}
WORLDS = ("factors",)
# Fields a grid sets itself for each run: not options.
GRID_SET = {"table", "labels", "images", "val_table", "val_images", "store", "val_store", "output_dir", "resume",
            "overwrite", "checkpoint", "task", "data", "seed", "epochs", "model", "augment", "quiet", "test_only"}
PRETRAIN_OPTIONS = {f.name for f in fields(PretrainConfig)} - GRID_SET
FINETUNE_OPTIONS = {f.name for f in fields(FinetuneConfig)} - GRID_SET | {"epochs"}


@dataclass(frozen=True)
class Variant:
    """One pretraining cell: a label set, the images (per class, a budget, or all), a recipe and a seed."""

    entry: str
    labels: str
    images_per_class: int | None
    budget: int | None
    model: str
    recipe: str
    epochs: int | None
    iterations: int | None
    seed: int
    series: str
    subset_seed: int
    options: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        size = (f"-{self.images_per_class}pc" if self.images_per_class else
                f"-{self.budget // 1000}k" if self.budget and self.budget % 1000 == 0 else f"-{self.budget}" if self.budget else "")
        return f"{self.entry}{size}-s{self.seed}"


@dataclass(frozen=True)
class Transfer:
    task: str
    data: str
    seeds: tuple[int, ...]
    options: dict
    images_per_s: float | None


@dataclass(frozen=True)
class Knn:
    labels: str
    k: int


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    source: Path
    data: dict
    options: dict
    variants: tuple[Variant, ...]
    knn: tuple[Knn, ...]
    transfers: tuple[Transfer, ...]
    throughput: float | None
    nproc_per_node: int
    slurm: dict


def read_experiment(path: Path) -> Experiment:
    """The experiment `path` holds, every part checked."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"{path} is not a file: give an experiment file (TOML; experiments/ has examples).")
    try:
        spec = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TrainError(f"{path} is not valid TOML: {error}.") from None
    where = str(path)
    known(spec, TOP, where)
    data = spec.get("data")
    if not isinstance(data, dict):
        raise TrainError(f"{path} has no [data] table: say where the images are (train_index, or synthetic = \"factors\").")
    known(data, DATA, f"{where} [data]")
    if "synthetic" in data and data["synthetic"] not in WORLDS:
        raise TrainError(f"{where} [data]: unknown synthetic world {data['synthetic']!r}: choose {', '.join(WORLDS)}.")
    if "synthetic" not in data and "train_index" not in data:
        raise TrainError(f"{where} [data] needs train_index (a curate image index), or synthetic = \"factors\".")
    options = spec.get("options", {})
    check_options(options, PRETRAIN_OPTIONS | FINETUNE_OPTIONS, f"{where} [options]")
    entries = spec.get("pretrain", [])
    if not entries:
        raise TrainError(f"{path} declares no [[pretrain]] variant: a grid needs at least one.")
    variants = tuple(v for entry in entries for v in expand(entry, where))
    names = [v.name for v in variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise TrainError(f"{where}: two [[pretrain]] cells are both named {twice[0]!r}: give each entry its own name.")
    transfers = tuple(transfer(t, where) for t in spec.get("transfer", []))
    knns = tuple(knn(k, where) for k in spec.get("knn", []))
    return Experiment(name=str(spec.get("name", path.stem)), description=str(spec.get("description", "")), source=path,
                      data=data, options=options, variants=variants, knn=knns, transfers=transfers,
                      throughput=spec.get("throughput"), nproc_per_node=int(spec.get("nproc_per_node", 1)),
                      slurm=spec.get("slurm", {}))


def known(table: dict, keys: set[str], where: str) -> None:
    for key in table:
        if key not in keys:
            raise TrainError(f"{where}: unknown key {key!r}{suggestion(key, keys)}; the keys are {', '.join(sorted(keys))}.")


def suggestion(word: str, choices) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_options(options: dict, valid: set[str], where: str) -> None:
    if not isinstance(options, dict):
        raise TrainError(f"{where}: options must be a table of settings, such as {{ lr = 0.1 }}.")
    for key in options:
        if key not in valid:
            raise TrainError(f"{where}: unknown option {key!r}{suggestion(key, valid)}; options are the fields of the "
                             "command's flags (python -m train pretrain --help / finetune --help), such as lr or batch_size.")


def as_list(value, where: str, what: str) -> list:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise TrainError(f"{where}: {what} must be a whole number or a list of them, not {value!r}.")
    return values


def expand(entry: dict, where: str) -> list[Variant]:
    """The cells of one [[pretrain]] entry: one per size (images per class or budget) and seed."""
    name = entry.get("name")
    where = f"{where} [[pretrain]] {name!r}" if name else f"{where} [[pretrain]]"
    known(entry, PRETRAIN, where)
    if not name or "labels" not in entry:
        raise TrainError(f"{where} needs a name and labels.")
    if "images_per_class" in entry and "budget" in entry:
        raise TrainError(f"{where}: give images_per_class or budget, not both.")
    if ("epochs" in entry) == ("iterations" in entry):
        raise TrainError(f"{where}: give epochs, or iterations (SGD steps, the same for every data size), one of them.")
    check_options(entry.get("options", {}), PRETRAIN_OPTIONS, where)
    per_class = as_list(entry["images_per_class"], where, "images_per_class") if "images_per_class" in entry else [None]
    budgets = as_list(entry["budget"], where, "budget") if "budget" in entry else [None]
    recipe = entry.get("recipe", "rrc")
    if recipe not in ("rrc", "caffe"):
        raise TrainError(f"{where}: unknown recipe {recipe!r}: choose rrc (torchvision's) or caffe (Caffe's, the paper's).")
    return [Variant(entry=str(name), labels=str(entry["labels"]), images_per_class=n, budget=b, model=str(entry.get("model", "resnet18")),
                    recipe=recipe, epochs=entry.get("epochs"), iterations=entry.get("iterations"), seed=seed,
                    series=str(entry.get("series", name)), subset_seed=int(entry.get("subset_seed", 0)),
                    options=dict(entry.get("options", {})))
            for n in per_class for b in budgets for seed in as_list(entry.get("seeds", [0]), where, "seeds")]


def transfer(entry: dict, where: str) -> Transfer:
    where = f"{where} [[transfer]] {entry.get('task', '')!r}"
    known(entry, TRANSFER, where)
    if entry.get("task") not in TASKS:
        raise TrainError(f"{where}: unknown task {entry.get('task')!r}{suggestion(str(entry.get('task')), TASKS)}; "
                         f"the tasks are {', '.join(TASKS)}.")
    if "data" not in entry:
        raise TrainError(f"{where} needs data: the task's folder (or \"synthetic\" for the synthetic world's task).")
    check_options(entry.get("options", {}), FINETUNE_OPTIONS, where)
    return Transfer(task=entry["task"], data=str(entry["data"]), seeds=tuple(as_list(entry.get("seeds", [0]), where, "seeds")),
                    options=dict(entry.get("options", {})), images_per_s=entry.get("images_per_s"))


def knn(entry: dict, where: str) -> Knn:
    known(entry, KNN, f"{where} [[knn]]")
    if "labels" not in entry:
        raise TrainError(f"{where} [[knn]] needs labels: the label set the features are scored on.")
    return Knn(labels=str(entry["labels"]), k=int(entry.get("k", 20)))
