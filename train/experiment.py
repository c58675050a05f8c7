"""An experiment file (TOML): the pretraining variants of a grid, the tasks each is transferred to, and the
k-NN evaluations; read and checked whole, in one sentence per mistake, before anything runs.

    name = "demo"
    throughput = 2000                        # images/s a GPU trains at, for --dry-run's cost (optional)
    nproc_per_node = 1                       # processes per cell (torchrun), unless --nproc-per-node says
    [data]                                   # the images: curate image indexes, or a synthetic world
    train_index = "train.parquet"            # (or: synthetic = "factors", grouping, train_per_class, val_per_class, seed)
    val_index = "val.parquet"
    root = "imagenet/train"
    val_root = "imagenet/val"
    store = "train-jpeg256"                  # read the images from packed stores of the indexes (curate images pack)
    val_store = "val-jpeg256"
    [settings]                               # every run's settings, by their flags' names (where a command has them)
    device = "cuda"
    [[pretrain]]                             # a variant; a list in per_class, budget or seed makes one cell each
    name = "in1k"
    labels = "in1k"                          # as curate names a label set: a preset, identity, "coarsen --lift 1",
                                             # "sample --classes 250 --base ilsvrc2012", or a .parquet manifest
    per_class = ["all", 500]                 # or budget = [500000] (curate images subset's words), or neither: all
    subset_seed = 0                          # the seed of the subset's choice
    iterations = 450000                      # SGD steps (the same for every data size), or epochs = 90
    series = "images per class"              # the [[series]] (one figure) it is a point of, and its line there
    line = "ILSVRC-2012"
    paper = "Huh et al. 2016, Figure 1"      # where the paper has this variant, or reading = "why it is curate's"
    model = "caffenet"                       # ... and any other pretrain setting, by its flag's name:
    augment = "caffe"                        # python -m train pretrain --help
    lr = 0.01
    seed = [0]
    [[pretrain]]                             # Yosinski et al.'s transfer: a network started from the first n
    name = "AnB"                             # layers of another entry's cell (the one of the same seed), then
    labels = "random-half-b"                 # trained as any variant (experiments/yosinski2014.toml)
    copy_from = "random-half-a"
    copy_layers = [1, 2, 3, 4, 5, 6, 7]      # a cell each
    freeze_copied = true                     # or false (the copied layers train too), or [true, false]
    [[series]]                               # one comparison (one figure): what varies along it, and against what
    name = "images per class"
    x = "per_class"                          # per_class, budget, label_count, copy_layers, or variant (one point each)
    reference = "in1k"                       # the [[pretrain]] entry whose all-images cell is on every line
    pool = "..."                             # only where its cells train on different images: say how and why
    [[knn]]                                  # k-NN of the variants' features on these labels, one bank for all:
    labels = "in1k"
    bank_per_class = 100                     # the same seeded images of the train index, per class
    bank_seed = 0                            # (queries: every image of the val index)
    variants = ["in1k"]                      # only these entries' all-images cells (default: every cell)
    knn_k = 20
    [[transfer]]                             # every variant is fine-tuned on this task, once per seed
    task = "voc07-det"
    data = "VOCdevkit"                       # the task's folder ("synthetic": the synthetic world's task)
    seed = [0, 1, 2]
    images_per_s = 20                        # for the cost (optional)
    amp = true                               # ... and any other finetune setting (python -m train finetune --help)
    reading = "..."                          # where its recipe is curate's reading, not the paper's

A key is a setting's own name (its flag without the dashes), so the file and the command line say the same
thing the same way; the few keys that are the grid's own are listed in PRETRAIN_KEYS, TRANSFER_KEYS and
KNN_KEYS. Keys of older files that were renamed are in RENAMED, and name their new key when given.
"""

from __future__ import annotations

import re
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from train.config import EvaluateConfig, FinetuneConfig, GridConfig, PretrainConfig, check, implied_sizes, with_task_defaults
from train.errors import TrainError, sentence
from train.settings import KINDS, declared, of_kind, suggestion, typed
from train.world import DEFAULT_GROUPING, GROUPINGS

TOP = {"name", "description", "throughput", "nproc_per_node", "data", "settings", "pretrain", "series", "knn", "transfer",
       "slurm"}
DATA = {"synthetic", "grouping", "train_per_class", "val_per_class", "seed", "train_index", "val_index", "root", "val_root",
        "store", "val_store"}
WORLDS = ("factors",)
# Settings the grid gives each run itself: where its images, checkpoint and folder are, and its quietness.
GRID_OWN = {"table", "labels", "images", "root", "val_table", "val_images", "val_root", "store", "val_store", "output_dir",
            "resume", "overwrite", "checkpoint", "test_only", "quiet", "copy_from", "hierarchy"}
MARKS = {"paper", "reading"}  # where the paper has a cell, or why it is curate's reading of it
PRETRAIN_KEYS = {"name", "labels", "per_class", "budget", "subset_seed", "series", "line", "copy_from"} | MARKS
TRANSFER_KEYS = {"images_per_s"} | MARKS
KNN_KEYS = {"labels", "bank_per_class", "bank_seed", "variants"}
SERIES_KEYS = {"name", "x", "reference", "pool"}
AXES = ("per_class", "budget", "label_count", "copy_layers", "variant")  # what a series varies: the x of its figure
LISTS = {"per_class", "budget", "seed", "copy_layers", "freeze_copied"}  # keys whose list makes one cell per value
RENAMED = {"recipe": "augment", "seeds": "seed", "images_per_class": "per_class", "k": "knn_k",
           "options": "the settings themselves (lr = 0.01), in the entry or in [settings]"}


def settings_of(config: type) -> set[str]:
    """The settings of `config` an experiment file may give (the grid gives the others itself)."""
    return {d.name for d in declared(config)} - GRID_OWN


# [settings]: what every run takes where its command has the setting; a cell's own (its seed, its task) stay in its entry
SHARED = (settings_of(PretrainConfig) | settings_of(FinetuneConfig) | settings_of(EvaluateConfig)) - {"seed", "task", "data",
                                                                                                  "copy_layers", "freeze_copied"}


@dataclass(frozen=True)
class Variant:
    """One pretraining cell: a label set, the images (per class, a budget, or all), and its settings."""

    entry: str
    labels: str
    per_class: int | None
    budget: int | None
    subset_seed: int
    series: str
    line: str  # its line in the series' figure
    mark: str  # "paper" or "curate's reading"
    why: str  # where the paper has it, or why it is curate's reading
    settings: dict  # its pretrain settings: the file's [settings], then the entry's own, its seed one of the list
    copy_from: str | None = None  # the entry whose cell of the same seed gives its first `copy_layers` layers

    @property
    def seed(self) -> int:
        return self.settings.get("seed", 0)

    @property
    def source(self) -> str | None:
        """The name of the cell it copies layers from."""
        return f"{self.copy_from}-s{self.seed}" if self.copy_from else None

    @property
    def all_images(self) -> bool:
        return self.per_class is None and self.budget is None

    @property
    def name(self) -> str:
        size = (f"-{self.per_class}pc" if self.per_class else
                f"-{self.budget // 1000}k" if self.budget and self.budget % 1000 == 0 else f"-{self.budget}" if self.budget else "")
        copied = (f"-copy{self.settings['copy_layers']}" + "-frozen" * self.settings["freeze_copied"]) if self.copy_from else ""
        return f"{self.entry}{size}{copied}-s{self.seed}"


@dataclass(frozen=True)
class Transfer:
    task: str
    data: str
    seeds: tuple[int, ...]
    settings: dict  # its finetune settings, the seed aside
    images_per_s: float | None
    mark: str = "paper"
    why: str = ""


@dataclass(frozen=True)
class Knn:
    """k-NN scores on `labels`, one protocol for every variant it scores: the bank is `bank_per_class` seeded
    images of each class of the train index, the queries the whole val index (both labelled by `labels`)."""

    labels: str
    settings: dict  # its evaluate settings (knn_k, knn_temperature, the sizes...)
    bank_per_class: int = 100
    bank_seed: int = 0
    variants: tuple[str, ...] | None = None  # the entries whose all-images cells it scores (None: every cell)

    def scores(self, variant: Variant) -> bool:
        return self.variants is None or (variant.entry in self.variants and variant.all_images)


@dataclass(frozen=True)
class Series:
    """One comparison of the file (one figure): its variants differ along `x`; `reference` (an entry) trains
    the 1000 classes on all images and is a point on each of its lines; `pool` says how its variants' images
    differ, where they do."""

    name: str
    x: str
    reference: str | None = None
    pool: str | None = None


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    source: Path
    data: dict
    variants: tuple[Variant, ...]
    series: tuple[Series, ...]
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
        spec = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # TOML is UTF-8; some editors begin it with a BOM
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TrainError(f"{path} is not valid TOML: {error}.") from None
    where = str(path)
    known(spec, TOP, where)
    data = table_of(spec, "data", where, required=True)
    known(data, DATA, f"{where} [data]")
    data = {key: word(data, key, f"{where} [data]", **kind) for key, kind in DATA_KINDS.items() if key in data}
    if "synthetic" in data and data["synthetic"] not in WORLDS:
        raise TrainError(f"{where} [data]: unknown synthetic world {data['synthetic']!r}: choose {', '.join(WORLDS)}.")
    if data.get("grouping", DEFAULT_GROUPING) not in GROUPINGS:
        raise TrainError(f"{where} [data]: unknown grouping {data['grouping']!r}: choose {', '.join(GROUPINGS)}.")
    if "grouping" in data and "synthetic" not in data:
        raise TrainError(f"{where} [data]: grouping is the synthetic world's; ImageNet's classes group as WordNet groups "
                         "them: leave it out, or draw the world with synthetic = \"factors\".")
    if "synthetic" not in data and "train_index" not in data:
        raise TrainError(f"{where} [data] needs train_index (a curate image index), or synthetic = \"factors\".")
    shared = table_of(spec, "settings", where)
    known(shared, SHARED, f"{where} [settings]")
    shared = {key: typed_once(key, value, f"{where} [settings]") for key, value in shared.items()}
    entries = entries_of(spec, "pretrain", where)
    if not entries:
        raise TrainError(f"{path} declares no [[pretrain]] variant: a grid needs at least one.")
    variants = tuple(v for entry in entries for v in expand(entry, shared, where))
    names = [v.name for v in variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise TrainError(f"{where}: two [[pretrain]] cells are both named {twice[0]!r}: give each entry its own name.")
    check_sources(variants, where)
    series = all_series(entries_of(spec, "series", where), variants, where)
    transfers = tuple(transfer(entry, shared, where) for entry in entries_of(spec, "transfer", where))
    knns = tuple(knn(entry, shared, {v.entry for v in variants}, where) for entry in entries_of(spec, "knn", where))
    return Experiment(name=folder_name(word(spec, "name", where, kind=str, default=path.stem), "name", where),
                      description=word(spec, "description", where, kind=str, default=""), source=path, data=data,
                      variants=variants, series=series, knn=knns, transfers=transfers,
                      throughput=word(spec, "throughput", where, kind=float, default=None, low=0, strict=True),
                      nproc_per_node=processes(spec, path),
                      slurm=table_of(spec, "slurm", where))


def processes(spec: dict, path: Path) -> int:
    """The file's nproc_per_node, checked as --nproc-per-node is."""
    with located(str(path)):
        value = typed(GridConfig, "nproc_per_node", spec.get("nproc_per_node", 1))
        check(GridConfig(file=path, nproc_per_node=value))
    return value


# --- the grid's own words ---------------------------------------------------------------------------------

DATA_KINDS = {"synthetic": {"kind": str}, "grouping": {"kind": str}, "train_per_class": {"kind": int, "low": 1},
              "val_per_class": {"kind": int, "low": 1},
              "seed": {"kind": int}, "train_index": {"kind": str}, "val_index": {"kind": str}, "root": {"kind": str},
              "val_root": {"kind": str}, "store": {"kind": str}, "val_store": {"kind": str}}


def word(table: dict, key: str, where: str, *, kind: type, default=None, low: float = 0, strict: bool = False):
    """The value of one of the grid's own keys, checked: a string, or a number of at least `low` (above it, if
    `strict`); `default` where the key is absent."""
    if key not in table:
        return default
    value = table[key]
    if not of_kind(value, kind):
        raise TrainError(f"{where}: {key} must be {KINDS[kind]}, not {value!r}.")
    if kind is not str and (value <= low if strict else value < low):
        raise TrainError(f"{where}: {key} must be {'above' if strict else 'at least'} {low:g}, not {value!r}.")
    return value


FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=+-]*")


def folder_name(value: str, key: str, where: str) -> str:
    """A name that becomes part of a folder's name (the grid's, a cell's): letters, digits and . _ = + -, so
    it can never point outside the grid's folder (`../x`) nor into another."""
    if not FOLDER_NAME.fullmatch(value):
        raise TrainError(f"{where}: {key} {value!r} names folders, so it takes only letters, digits, '.', '_', '=', '+' "
                         "and '-', and starts with a letter or digit.")
    return value


def table_of(spec: dict, key: str, where: str, required: bool = False) -> dict:
    value = spec.get(key, None if required else {})
    if not isinstance(value, dict):
        if value is None:
            raise TrainError(f"{where} has no [{key}] table: say where the images are (train_index, or synthetic = "
                             "\"factors\").")
        raise TrainError(f"{where}: {key} must be a table ([{key}]), not {value!r}.")
    return value


def entries_of(spec: dict, key: str, where: str) -> list[dict]:
    entries = spec.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TrainError(f"{where}: {key} must be a list of tables ([[{key}]]), not {entries!r}.")
    return entries


def known(table: dict, keys: set[str], where: str) -> None:
    for key in table:
        if key in RENAMED and key not in keys:
            raise TrainError(f"{where}: {key!r} is now {RENAMED[key]}.")
        if key not in keys:
            raise TrainError(f"{where}: unknown key {key!r}{suggestion(key, keys)}; the keys are the settings of the "
                             "command's flags (python -m train pretrain --help / finetune --help), by their names, and "
                             f"{', '.join(sorted(keys - settings_of(PretrainConfig) - settings_of(FinetuneConfig)))}.")


def whole_numbers(value, where: str, key: str, low: int, all_word: bool = False) -> list[int | None]:
    """A whole number, or a list of them (one cell each), each at least `low`; with `all_word`, "all" too
    (None: all the images)."""
    values = value if isinstance(value, list) else [value]
    if not values or not all((isinstance(v, int) and not isinstance(v, bool) and v >= low) or (all_word and v == "all")
                             for v in values):
        also = ' or "all"' if all_word else ""
        raise TrainError(f"{where}: {key} must be a whole number of at least {low}{also}, or a list of them, not {value!r}.")
    return [None if v == "all" else v for v in values]


def mark_of(entry: dict, where: str) -> tuple[str, str]:
    """("paper", where the paper has it) or ("curate's reading", why): from the entry's paper or reading key."""
    given = [key for key in ("paper", "reading") if key in entry]
    if len(given) > 1:
        raise TrainError(f"{where}: give paper (where the paper has it) or reading (why it is curate's), not both.")
    if not given:
        return "", ""
    text = word(entry, given[0], where, kind=str)
    return ("paper" if given[0] == "paper" else "curate's reading"), text


# --- the settings ------------------------------------------------------------------------------------------


KEYS = {d.name: d.name for config in (PretrainConfig, FinetuneConfig, EvaluateConfig, GridConfig) for d in declared(config)}


def worded(error: Exception) -> str:
    """An error's sentence in an experiment file's words: each setting by its key."""
    return sentence(error, KEYS)


@contextmanager
def located(where: str):
    """A mistake found inside, as one sentence saying where in the file it is, in the file's words."""
    try:
        yield
    except TrainError as error:
        raise TrainError(f"{where}: {worded(error)}") from None


def typed_once(key: str, value, where: str):
    """A value of [settings], as the commands that have the setting `key` hold it."""
    config = next(c for c in (PretrainConfig, FinetuneConfig, EvaluateConfig) if key in settings_of(c))
    with located(where):
        return typed(config, key, value)


def settings_for(config: type, shared: dict, own: dict, where: str) -> dict:
    """The settings a run of `config` takes: those of [settings] it has (typed already), then the entry's own."""
    chosen = {key: value for key, value in shared.items() if key in settings_of(config)}
    with located(where):
        chosen.update({key: typed(config, key, value) for key, value in own.items()
                       if key in settings_of(config) and key not in LISTS})
    return chosen


def checked(make, where: str) -> None:
    """Check the config `make()` makes as its command would, before anything runs."""
    with located(where):
        check(make())


def expand(entry: dict, shared: dict, where: str) -> list[Variant]:
    """The cells of one [[pretrain]] entry: one per size (images per class or budget) and seed."""
    name = entry.get("name")
    where = f"{where} [[pretrain]] {name!r}" if name else f"{where} [[pretrain]]"
    known(entry, PRETRAIN_KEYS | settings_of(PretrainConfig), where)
    if not isinstance(name, str) or not isinstance(entry.get("labels"), str):
        raise TrainError(f"{where} needs a name and labels (strings).")
    folder_name(name, "name", where)
    if "per_class" in entry and "budget" in entry:
        raise TrainError(f"{where}: give per_class or budget, not both.")
    length = [key for key in ("epochs", "iterations") if key in entry or key in shared]
    if len(length) != 1:
        raise TrainError(f"{where}: give epochs, or iterations (SGD steps, the same for every data size), one of them.")
    settings = settings_for(PretrainConfig, shared, entry, where)
    per_class = whole_numbers(entry["per_class"], where, "per_class", 1, all_word=True) if "per_class" in entry else [None]
    budgets = whole_numbers(entry["budget"], where, "budget", 1) if "budget" in entry else [None]
    seeds = whole_numbers(entry.get("seed", 0), where, "seed", 0)
    copies = copied_layers(entry, where)
    checked(lambda: implied_sizes(PretrainConfig(**settings), frozenset(settings)), where)
    mark, why = mark_of(entry, where)
    series = word(entry, "series", where, kind=str, default=name)
    return [Variant(entry=name, labels=entry["labels"], per_class=n, budget=b,
                    subset_seed=word(entry, "subset_seed", where, kind=int, default=0),
                    series=series, line=word(entry, "line", where, kind=str, default=series), mark=mark, why=why,
                    settings={**settings, **copy, "seed": seed}, copy_from=entry.get("copy_from"))
            for n in per_class for b in budgets for copy in copies for seed in seeds]


def copied_layers(entry: dict, where: str) -> list[dict]:
    """The copies of an entry that starts from another's layers (`copy_from`): one settings dict per number of
    layers and freezing; [{}] for an entry that copies nothing."""
    given = [key for key in ("copy_from", "copy_layers") if key in entry]
    if "freeze_copied" in entry and not given:
        raise TrainError(f"{where}: freeze_copied freezes the layers copy_layers copies from copy_from: give both.")
    if not given:
        return [{}]
    if len(given) == 1:
        raise TrainError(f"{where}: give copy_from (the entry whose layers start this one) and copy_layers (how many), "
                         "both.")
    word(entry, "copy_from", where, kind=str)
    counts = whole_numbers(entry["copy_layers"], where, "copy_layers", 1)
    frozen = entry.get("freeze_copied", False)
    frozen = frozen if isinstance(frozen, list) else [frozen]
    if not frozen or not all(isinstance(f, bool) for f in frozen):
        raise TrainError(f"{where}: freeze_copied must be true or false, or a list of them, not "
                         f"{entry['freeze_copied']!r}.")
    return [{"copy_layers": n, "freeze_copied": f} for n in counts for f in frozen]


def check_sources(variants: tuple[Variant, ...], where: str) -> None:
    """Every copy starts from a cell of the file: its copy_from entry's, of the same seed, on all its images,
    which copies nothing itself."""
    cells = {v.name: v for v in variants}
    entries = sorted({v.entry for v in variants})
    for variant in variants:
        if variant.copy_from is None:
            continue
        here = f"{where} [[pretrain]] {variant.entry!r}"
        if variant.copy_from not in entries:
            raise TrainError(f"{here}: copy_from names {variant.copy_from!r}, which no [[pretrain]] entry is"
                             f"{suggestion(variant.copy_from, entries)}.")
        source = cells.get(variant.source)
        if source is None or source.copy_from is not None:
            raise TrainError(f"{here}: copy_from {variant.copy_from!r} has no cell of seed {variant.seed} on all its "
                             "images that copies nothing itself: give it that seed, or this entry its seeds.")


def transfer(entry: dict, shared: dict, where: str) -> Transfer:
    where = f"{where} [[transfer]] {entry.get('task', '')!r}"
    known(entry, TRANSFER_KEYS | settings_of(FinetuneConfig), where)
    if "task" not in entry or "data" not in entry:
        raise TrainError(f"{where} needs task and data: the task, and its folder (or \"synthetic\" for the synthetic "
                         "world's task).")
    settings = settings_for(FinetuneConfig, shared, entry, where)
    seeds = tuple(whole_numbers(entry.get("seed", 0), where, "seed", 0))
    checked(lambda: with_task_defaults(FinetuneConfig(**settings), frozenset(settings)), where)
    mark, why = mark_of(entry, where)
    return Transfer(task=settings.pop("task"), data=str(settings.pop("data")), seeds=seeds, settings=settings,
                    images_per_s=word(entry, "images_per_s", where, kind=float, default=None, low=0, strict=True),
                    mark=mark, why=why)


def knn(entry: dict, shared: dict, entries: set[str], where: str) -> Knn:
    where = f"{where} [[knn]] {entry.get('labels', '')!r}"
    known(entry, KNN_KEYS | {"knn_k", "knn_temperature"}, where)
    if not isinstance(entry.get("labels"), str):
        raise TrainError(f"{where} needs labels: the label set the features are scored on.")
    settings = settings_for(EvaluateConfig, shared, entry, where)
    checked(lambda: EvaluateConfig(checkpoint=Path("checkpoint.pt"), **settings), where)
    variants = entry.get("variants")
    if variants is not None:
        if not isinstance(variants, list) or not variants or not all(isinstance(v, str) for v in variants):
            raise TrainError(f"{where}: variants must be a list of [[pretrain]] names, not {variants!r}.")
        unknown = [v for v in variants if v not in entries]
        if unknown:
            raise TrainError(f"{where}: variants names {unknown[0]!r}, which no [[pretrain]] entry is"
                             f"{suggestion(unknown[0], entries)}.")
    return Knn(labels=entry["labels"], settings=settings,
               bank_per_class=word(entry, "bank_per_class", where, kind=int, default=100, low=1),
               bank_seed=word(entry, "bank_seed", where, kind=int, default=0),
               variants=tuple(variants) if variants is not None else None)


def all_series(entries: list[dict], variants: tuple[Variant, ...], where: str) -> tuple[Series, ...]:
    """The file's [[series]], each named by some variant; a file without them has one per `series` its
    variants name, along their images per class or budget where they give them."""
    if not entries:
        return tuple(Series(name, "per_class" if any(v.per_class for v in own) else "budget" if any(v.budget for v in own)
                            else "variant")
                     for name in dict.fromkeys(v.series for v in variants)
                     for own in [[v for v in variants if v.series == name]])
    series = []
    for entry in entries:
        here = f"{where} [[series]] {entry.get('name', '')!r}"
        known(entry, SERIES_KEYS, here)
        if not isinstance(entry.get("name"), str) or entry.get("x") not in AXES:
            raise TrainError(f"{here} needs a name and x, what varies along it: {', '.join(AXES)}.")
        reference = word(entry, "reference", here, kind=str)
        if reference is not None and not any(v.entry == reference and v.all_images for v in variants):
            raise TrainError(f"{here}: reference {reference!r} is no [[pretrain]] entry with a cell on all its images.")
        series.append(Series(entry["name"], entry["x"], reference, word(entry, "pool", here, kind=str)))
    names = [s.name for s in series]
    for variant in variants:
        if variant.series not in names:
            raise TrainError(f"{where} [[pretrain]] {variant.entry!r}: series {variant.series!r} is none of the file's "
                             f"[[series]] ({', '.join(names)}).")
    return tuple(series)
