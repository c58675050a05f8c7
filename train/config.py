"""What each `python -m train` command is told, as typed configs, each setting declared once (`settings.py`):
the flags (`flags.py`), the checks, the grid's keys and the experiment file's words all come from here. The
demo and the experiment grid make configs directly and call `run(config)`.

Each config is made of the groups its command has: what every command that reads images shares (`Device`,
`Sizes`), what training shares (`Training`), and which images (`Data`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from train.errors import TrainError
from train.settings import check_values, defaults, either, inherited, setting
from train.tasks import TASK

MODELS = ("alexnet", "caffenet", "resnet18", "resnet50", "tiny")  # models.MODELS builds each (a test keeps them equal)
HEADS = ("linear", "oquab")  # models.new_layers builds each
DETECTORS = ("faster-rcnn", "fast-rcnn")  # detection.build_detector builds each
INPUT_NORMS = ("torchvision", "caffe")  # loaders.INPUT_NORMS defines each (a test keeps them equal)
CAFFE_CROP = 227  # crop_size of Caffe's bvlc_reference_caffenet (its resize, 256, is --val-resize-size's default)


def at_least(low, what: str | None = None):
    return (lambda v: v >= low, what or f"{low} or more")


UNIT = (lambda v: 0 <= v < 1, "at least 0 and below 1")
FRACTION = (lambda v: 0 < v <= 1, "above 0 and at most 1")
POSITIVE = (lambda v: v > 0, "above 0")


@dataclass(kw_only=True)
class Data:
    """The images and their labels: an image table, or a label manifest with an image index."""

    table: Path | None = setting(None, "image table written by `curate images apply`", group="data")
    labels: Path | None = setting(None, "label manifest (with --images, instead of --table)", group="data")
    images: Path | None = setting(None, "image index (with --labels, instead of --table)", group="data")
    root: Path | None = setting(None, "folder the table's paths are relative to", group="data",
                                default_help="the table's own root")
    val_table: Path | None = setting(None, "image table to validate on", group="data",
                                     default_help="the table's val split")
    val_images: Path | None = setting(None, "image index to validate on, labelled by --labels", group="data")
    val_root: Path | None = setting(None, "root of the validation table's paths", group="data", default_help="its own root")
    store: Path | None = setting(None, "read the table's images from this packed store (`curate images pack`)", group="data")
    val_store: Path | None = setting(None, "read the validation table's images from this packed store", group="data")


SIZES = "input size and augmentation"


@dataclass(kw_only=True)
class Sizes:
    """Input sizes, augmentation and the input the network is fed: "rrc", random-resized crops for training,
    resize the short side and centre crop to evaluate; "caffe", Caffe's ImageNet recipe (resize to a square,
    random crop and mirror; the central crop to evaluate), whose crops are 227 px unless given (`implied_sizes`)
    and whose input is Caffe's unless given (`implied_settings`)."""

    train_crop_size: int = setting(224, "training crop size (227 with --augment caffe)", rule=at_least(1), role="run",
                                   group=SIZES)
    val_resize_size: int = setting(256, "short side before the centre crop; --augment caffe: both sides",
                                   rule=at_least(1), role="run", group=SIZES)
    val_crop_size: int = setting(224, "centre crop size (227 with --augment caffe)", rule=at_least(1), role="run",
                                 group=SIZES)
    min_scale: float = setting(0.08, "smallest crop area of the random-resized crop", rule=FRACTION, role="run", group=SIZES)
    augment: str = setting(
        "rrc", "rrc: torchvision's random-resized crop (--min-scale..1 of the area, aspect ratio 3/4..4/3) resized to "
        "--train-crop-size, and a random flip; to evaluate, the short side resized to --val-resize-size and the central "
        "--val-crop-size. caffe (pretrain, evaluate): Caffe's ImageNet recipe, as Huh et al. trained: the image resized "
        "to a --val-resize-size square (aspect not kept), a random --train-crop-size crop and a random mirror; to "
        "evaluate, the central --val-crop-size of that square; crop sizes not given are then 227",
        choices=("rrc", "caffe"), role="run", group=SIZES)
    input_norm: str | None = setting(
        None, "how pixels are fed to the network: torchvision, RGB scaled to 0..1, minus ImageNet's mean, over its "
        "std; caffe, as Caffe fed CaffeNet: BGR 0..255 minus ImageNet's mean pixel (B 104.0, G 116.7, R 122.7)",
        choices=INPUT_NORMS,
        role="run", group=SIZES, default_help="caffe with --augment caffe, else torchvision; finetune and evaluate: "
        "the input the checkpoint's network was pretrained on")


@dataclass(kw_only=True)
class Device:
    """Where and how images are read and run: batch size per process, loader workers, device, precision."""

    batch_size: int = setting(32, "images per process and step", flags=("-b", "--batch-size"), rule=at_least(1), role="run")
    workers: int = setting(4, "data-loading processes per process", flags=("-j", "--workers"), rule=at_least(0))
    device: str = setting("auto", "auto (CUDA when present), cpu or cuda", choices=("auto", "cpu", "cuda"))
    amp: bool = setting(False, "mixed precision: autocast to --amp-dtype", role="run")
    amp_dtype: str = setting("bfloat16", "the autocast type (float16 adds a GradScaler, CUDA only)",
                             choices=("bfloat16", "float16"), role="run")
    channels_last: bool = setting(False, "channels-last memory format", role="run")
    quiet: bool = setting(False, "no progress bar, epoch lines or summary on stderr", flags=("-q", "--quiet"))


OPTIMISATION = "optimisation"


@dataclass(kw_only=True)
class Training(Device, Sizes):
    """The network, the optimiser, the schedule, and the run's output folder and seed."""

    model: str = setting("resnet18", "network", choices=MODELS, role="run", group=OPTIMISATION)
    epochs: int = setting(90, "number of epochs", rule=at_least(1), role="length", group=OPTIMISATION)
    iterations: int | None = setting(
        None, "the run's length in SGD steps instead of --epochs (the last epoch stops at the step); the schedule "
        "then counts steps: --lr-step-size, --lr-warmup-epochs and the cosine's length", rule=at_least(1), role="length",
        group=OPTIMISATION, default_help="none: --epochs")
    lr: float = setting(0.1, "learning rate", rule=at_least(0), role="run", group=OPTIMISATION)
    momentum: float = setting(0.9, "SGD momentum", rule=UNIT, role="run", group=OPTIMISATION)
    wd: float = setting(1e-4, "weight decay", flags=("--wd", "--weight-decay"), rule=at_least(0), role="run",
                        group=OPTIMISATION)
    bias_lr_scale: float = setting(1.0, "biases learn at the LR times this (Caffe's prototxts: lr_mult 2)",
                                   rule=at_least(0), role="run", group=OPTIMISATION,
                                   default_help="1; 2 with --augment caffe")
    bias_weight_decay: float | None = setting(None, "weight decay of the biases (Caffe's prototxts: decay_mult 0)",
                                              rule=at_least(0), role="run", group=OPTIMISATION,
                                              default_help="--wd; 0 with --augment caffe")
    nesterov: bool = setting(False, "Nesterov momentum", role="run", group=OPTIMISATION)
    label_smoothing: float = setting(0.0, "label smoothing", rule=UNIT, role="run", group=OPTIMISATION)
    lr_scheduler: str = setting("step", "LR schedule", choices=("step", "cosine", "constant"), role="run",
                                group=OPTIMISATION)
    lr_step_size: int = setting(30, "step schedule: epochs between decays", rule=at_least(1), role="run", group=OPTIMISATION)
    lr_gamma: float = setting(0.1, "step schedule: decay factor", rule=POSITIVE, role="run", group=OPTIMISATION)
    lr_min: float = setting(0.0, "cosine schedule: final LR", rule=at_least(0), role="run", group=OPTIMISATION)
    lr_warmup_epochs: int = setting(0, "linear warm-up epochs", rule=at_least(0), role="run", group=OPTIMISATION)
    lr_warmup_decay: float = setting(0.01, "warm-up starts at LR times this", rule=FRACTION, role="run", group=OPTIMISATION)
    compile: bool = setting(False, "torch.compile the model")
    output_dir: Path | None = setting(
        None, "the run's folder: checkpoint.pt and metrics.jsonl",
        default_help="a new runs/<command>-<date>-<time>; with --resume, the checkpoint's folder")
    overwrite: bool = setting(False, "replace the run that --output-dir already holds")
    seed: int = setting(0, "random seed", rule=at_least(0), role="run")
    use_deterministic_algorithms: bool = setting(False, "bitwise-reproducible kernels (slower)", role="run")


COPY = "layers copied from another network (Yosinski et al. 2014)"


@dataclass(kw_only=True)
class PretrainConfig(Training, Data):
    resume: Path | None = setting(None, "continue the run of this checkpoint (same model and manifest)", group="run")
    test_only: bool = setting(False, "only evaluate (with --resume: the checkpoint)", group="run")
    copy_from: Path | None = setting(None, "a pretrain checkpoint of the same --model whose first --copy-layers layers "
                                     "start this network (the rest, classifier included, freshly initialised)", group=COPY)
    copy_layers: int | None = setting(
        None, "how many layers --copy-from gives, by position: caffenet and alexnet conv1..conv5, fc6, fc7 (1..7); tiny "
        "its four conv blocks; resnet18/50 the stem, then layer1..layer4", rule=at_least(1), role="run", group=COPY)
    freeze_copied: bool = setting(False, "the copied layers learn nothing (their batch-norm statistics stay too); "
                                  "else they train with the rest", role="run", group=COPY)
    hierarchy: Path | None = setting(
        None, "a level manifest (`curate levels`) whose finest level is the table's label set: one linear head per "
        "level on the shared features, the loss the sum of the levels' cross-entropies; scored by top-1 at each level "
        "and the mistake severity (the mean height, in the level tree, of the lowest common ancestor of a wrong "
        "finest prediction and the truth: 1 = same label one level up, ..., the number of levels = none shared)",
        group="data")


TRANSFER = "transfer"


@dataclass(kw_only=True)
class FinetuneConfig(Training):
    checkpoint: Path | None = setting(None, "pretrain checkpoint (required unless --random-init or --resume)", group=TRANSFER)
    random_init: bool = setting(False, "the scratch baseline: an untrained --model, every layer trained at the full LR",
                                role="run", group=TRANSFER)
    resume: Path | None = setting(None, "continue the fine-tune of this checkpoint.pt, with its settings", group=TRANSFER)
    task: str = setting(help="transfer task (see the list below)", choices=tuple(TASK), role="run", group=TRANSFER)
    data: Path = setting(help="the task's data: " + "; ".join(f"{', '.join(t.name for t in TASK.values() if t.data == data)}: {data}"
                                                             for data in dict.fromkeys(t.data for t in TASK.values())),
                         group=TRANSFER)
    mode: str | None = setting(None, "linear: frozen features, train the new classifier; full: train all layers",
                               choices=("linear", "full"), role="run", group=TRANSFER,
                               default_help="linear; full for voc07-det, voc12-action and --random-init")
    head: str = setting(
        "linear", "the new layers: linear, a classifier in place of the network's last layer; oquab (voc07-cls, "
        "voc12-cls), Oquab et al. 2014's adaptation layers on the fc7 features, fc_a (2048 units, ReLU, dropout) and "
        "a classifier with a background class, trained on ~500 multi-scale square patches an image labelled by their "
        "overlap with the objects' boxes (resized to --train-crop-size), an image scored by the mean of its patches' "
        "softmax scores to the 5th power (patches resized to --val-crop-size)", choices=HEADS, role="run", group=TRANSFER)
    backbone_lr_scale: float = setting(0.1, "full mode: pretrained layers learn at LR times this", rule=at_least(0),
                                       role="run", group=TRANSFER)
    partition: int = setting(1, "sun397: official partition", rule=(lambda v: 1 <= v <= 10, "1 to 10 (SUN397 has ten "
                             "official partitions)"), role="run", group=TRANSFER)
    val_fraction: float = setting(0.1, "share of the training data held out to validate on each epoch; 0 trains on "
                                  "all of it", rule=UNIT, role="run", group=TRANSFER)
    test_every_epoch: bool = setting(False, "score the test set after every epoch, not only the last", group=TRANSFER)
    test_crops: str = setting(
        "center", "how val and test images are scored: center, resize the short side to --val-resize-size and take the "
        "central --val-crop-size crop; whole, the whole image resized to a --val-crop-size square; ten, the four corners "
        "and centre of the resized image and their mirrors, scores averaged", choices=("center", "whole", "ten"),
        role="run", group=TRANSFER)
    min_size: int = setting(600, "voc07-det: images resized to this shorter side (as Fast/Faster R-CNN)",
                            rule=at_least(32), role="run", group=TRANSFER)
    max_size: int = setting(1000, "voc07-det: and at most this longer side", rule=at_least(32), role="run", group=TRANSFER)
    detector: str = setting(
        "faster-rcnn", "voc07-det: faster-rcnn, torchvision's Faster R-CNN, whose region proposal network learns on the "
        "transferred features; fast-rcnn, Fast R-CNN on the selective-search proposals of --proposals, as Huh et al. "
        "detected", choices=DETECTORS, role="run", group=TRANSFER)
    proposals: Path | None = setting(
        None, "--detector fast-rcnn: a folder holding Fast R-CNN's voc_2007_trainval.mat and voc_2007_test.mat, or a "
        "Parquet file of `python -m train proposals`", group=TRANSFER)
    # shorter than pretraining, at a lower learning rate that decays once, without weight decay; a task may
    # have its own (`tasks.TASKS`)
    epochs: int = inherited(Training, "epochs", 30)
    lr: float = inherited(Training, "lr", 0.01)
    lr_step_size: int = inherited(Training, "lr_step_size", 20)
    wd: float = inherited(Training, "wd", 0.0)


@dataclass(kw_only=True)
class ProposalsConfig:
    data: Path = setting(help="the folder holding VOCdevkit/VOC2007 (or that folder): its trainval and test images",
                         group="")
    output: Path = setting(help="the Parquet file of proposals; the images it holds already are not computed again",
                           flags=("-o", "--output"), group="")
    workers: int | None = setting(None, "processes computing proposals", flags=("-j", "--workers"), rule=at_least(1),
                                  default_help="every core", group="")
    quiet: bool = setting(False, "no progress on stderr", flags=("-q", "--quiet"), group="")


@dataclass(kw_only=True)
class EvaluateConfig(Device, Sizes, Data):
    checkpoint: Path = setting(help="pretrain checkpoint", group="run")
    knn_labels: Path | None = setting(None, "label manifest to score k-NN top-1 against (same images)", group="k-NN")
    knn_only: bool = setting(False, "score only k-NN (with --knn-labels): the tables may then hold any images and labels, "
                             "e.g. one bank and query set for networks trained on different label sets", group="k-NN")
    knn_k: int = setting(20, "neighbours", rule=at_least(1), role="run", group="k-NN")
    knn_temperature: float = setting(0.07, "vote weight exp(sim/T)", rule=POSITIVE, role="run", group="k-NN")
    batch_size: int = inherited(Device, "batch_size", 64)


@dataclass(kw_only=True)
class DemoConfig:
    output_dir: Path = setting(Path("runs/demo"), "the grids' folder: one grid a grouping of the world", group="")
    experiment: Path | None = setting(None, "another experiment file to run as the demo (its [data] names a grouping)",
                                      default_help="experiments/demo.toml", group="")
    quiet: bool = setting(False, "no progress or table on stderr", flags=("-q", "--quiet"), group="")


@dataclass(kw_only=True)
class GridConfig:
    file: Path = setting(help="the experiment file (TOML)", positional=True, group="")
    output_dir: Path | None = setting(None, "the grid's folder, shared by every machine that runs it",
                                      default_help="runs/grid-NAME", group="")
    dry_run: bool = setting(False, "print the plan: every cell, what is done, what is left and its cost in images and "
                            "GPU-hours; run nothing", group="")
    launcher: str = setting("here", "here: one cell after another on this machine; slurm: each cell a Slurm job through "
                            "submitit (its [slurm] table: partition, gpus_per_node, timeout_min, ...); submitit-local: the "
                            "same on this machine", choices=("here", "submitit-local", "slurm"), group="")
    nproc_per_node: int | None = setting(None, "run each cell under torchrun with N processes", rule=at_least(1),
                                         default_help="the file's nproc_per_node, else 1", group="")
    quiet: bool = setting(False, "no progress on stderr", flags=("-q", "--quiet"), group="")


@dataclass(kw_only=True)
class ReportConfig:
    folder: Path = setting(help="a grid's output folder (holding results.parquet)", positional=True, group="")
    quiet: bool = setting(False, "no table on stderr", flags=("-q", "--quiet"), group="")


# --- checks: every setting, before any work ----------------------------------------------------------------

EXCLUSIVE = [  # groups of settings at most one of which may be given
    (("table", "labels"), "Give the images either as `table`, or as `labels` with `images`, not both."),
    (("table", "images"), "Give the images either as `table`, or as `labels` with `images`, not both."),
    (("val_table", "val_images"), "Give the validation images either as `val_table` or as `val_images`, not both."),
    (("root", "store"), "Give either `root` (where the table's images are) or `store` (a store of them), not both."),
    (("checkpoint", "random_init"), "Give either `checkpoint` (transfer a pretrained network) or `random_init` (the "
                                    "untrained baseline), not both."),
]


def check(config) -> None:
    """Raise TrainError, in one sentence, for the first setting of `config` that no run can use."""
    check_values(config)
    values = vars(config)
    if values.get("lr_warmup_epochs"):
        length, unit = length_of(config)
        if config.lr_warmup_epochs >= length:
            raise TrainError(f"`lr_warmup_epochs` {config.lr_warmup_epochs} leaves no {unit} after the warm-up of a "
                             f"{length}-{unit} run: give fewer warm-up {unit}s.")
    if values.get("min_size", 0) > values.get("max_size", 1 << 30):
        raise TrainError(f"`min_size` {config.min_size} is larger than `max_size` {config.max_size}.")
    if values.get("val_resize_size", 1) < values.get("val_crop_size", 0):
        raise TrainError(f"`val_crop_size` {config.val_crop_size} is larger than the `val_resize_size` "
                         f"{config.val_resize_size} it is cropped from.")
    if values.get("augment") == "caffe" and config.val_resize_size < config.train_crop_size:
        raise TrainError(f"`train_crop_size` {config.train_crop_size} is larger than the `val_resize_size` "
                         f"{config.val_resize_size} square that `augment` caffe crops it from.")
    if values.get("augment") == "caffe" and isinstance(config, FinetuneConfig):
        raise TrainError("finetune crops as `augment` rrc does (`augment` caffe is for pretrain and evaluate): "
                         "leave it out.")
    if values.get("amp_dtype", "bfloat16") != "bfloat16" and not values.get("amp"):
        raise TrainError(f"`amp_dtype` {config.amp_dtype} is the type `amp` autocasts to, and `amp` is not given: give "
                         "`amp` too, or leave `amp_dtype` out.")
    if values.get("copy_layers") is not None and values.get("copy_from") is None:
        raise TrainError("`copy_layers` says how many layers `copy_from` gives: give `copy_from` too (a pretrain "
                         "checkpoint).")
    if values.get("copy_from") is not None and values.get("copy_layers") is None:
        raise TrainError("`copy_from` needs `copy_layers`: how many of its layers to copy.")
    if values.get("freeze_copied") and values.get("copy_layers") is None:
        raise TrainError("`freeze_copied` freezes the layers `copy_layers` copies: give `copy_layers` and `copy_from` "
                         "too.")
    for names, sentence in EXCLUSIVE:
        if all(values.get(name) for name in names):
            raise TrainError(sentence)


def length_of(config) -> tuple[int, str]:
    """A training run's length and its unit, which the schedule counts in too: (iterations, "step") or
    (epochs, "epoch")."""
    return (config.iterations, "step") if config.iterations else (config.epochs, "epoch")


def explicit(config, given: frozenset[str] | None) -> frozenset[str]:
    """The fields the caller set: `given` by the flags, or for a config made in Python, the fields whose
    values differ from their defaults."""
    if given is not None:
        return given
    default = defaults(type(config))
    return frozenset(name for name, value in vars(config).items() if name not in default or default[name] != value)


def implied_sizes(config, given: frozenset[str]):
    """`config` with the crop sizes its augmentation implies where the caller set none (`given`, as from
    `explicit`): --augment caffe crops 227 px unless --train-crop-size or --val-crop-size says otherwise."""
    if getattr(config, "augment", "rrc") != "caffe":
        return config
    return replace(config, **{name: CAFFE_CROP for name in ("train_crop_size", "val_crop_size") if name not in given})


# What --augment caffe implies besides its crop sizes: Caffe's input, and its per-parameter multipliers
# (models/bvlc_reference_caffenet/train_val.prototxt: biases lr_mult 2, decay_mult 0).
CAFFE_IMPLIES = {"input_norm": "caffe", "bias_lr_scale": 2.0, "bias_weight_decay": 0.0}


def implied_settings(config, given: frozenset[str]):
    """`config` with what its augmentation implies where the caller set none (`given`): the crop sizes
    (`implied_sizes`), and with --augment caffe Caffe's input and bias multipliers (`CAFFE_IMPLIES`); the
    input is torchvision's otherwise."""
    config = implied_sizes(config, given)
    implied = CAFFE_IMPLIES if config.augment == "caffe" else {"input_norm": "torchvision"}
    return replace(config, **{name: value for name, value in implied.items() if name not in given})


def with_task_defaults(config: FinetuneConfig, given: frozenset[str]) -> FinetuneConfig:
    """A fine-tune's `config` with its task's own defaults (`tasks.TASKS`) where the caller gave no value
    (`given`), and the mode decided; a combination no run can use is an error."""
    task = TASK[config.task] if config.task in TASK else None
    config = replace(config, **{k: v for k, v in (task.defaults_for(config) if task else {}).items() if k not in given})
    if config.mode is None:
        config = replace(config, mode="full" if config.random_init else "linear")
    if config.random_init and "backbone_lr_scale" in given:
        raise TrainError("`random_init` trains every layer at the full LR (there are no pretrained layers): "
                         "leave `backbone_lr_scale` out.")
    if config.mode == "linear" and "backbone_lr_scale" in given:
        default = "" if "mode" in given else f" (the default for {config.task})"
        raise TrainError(f"`backbone_lr_scale` is the LR of the pretrained layers in `mode` full, and `mode` is "
                         f"linear{default}, which freezes them: give `mode` full, or leave `backbone_lr_scale` out.")
    if "partition" in given and config.task != "sun397":
        raise TrainError(f"`partition` picks one of SUN397's ten official splits: it applies to `task` sun397 only, not "
                         f"{config.task}.")
    if task is not None and config.head not in task.heads:
        raise TrainError(f"`head` {config.head} trains on patches labelled by the objects' boxes, which only "
                         f"{either(t.name for t in TASK.values() if config.head in t.heads)} have: leave `head` out for "
                         f"{task.name}.")
    if config.head == "oquab" and config.test_crops != "center":
        raise TrainError("`test_crops` does not apply to `head` oquab, which scores every patch of an image: leave it out.")
    if task is not None and task.kind == "detection":
        if config.mode != "full":
            raise TrainError(f"{task.name} trains the whole detector: `mode` linear is for the classification tasks.")
        if config.test_crops != "center":
            raise TrainError(f"`test_crops` does not apply to {task.name}, which detects on whole images.")
        if config.compile:
            raise TrainError(f"`compile` does not apply to {task.name}, whose images come in many sizes.")
        if config.detector == "fast-rcnn" and config.proposals is None:
            raise TrainError("`detector` fast-rcnn detects in given proposals: give `proposals` (Fast R-CNN's "
                             "selective_search_data folder, or a file of `python -m train proposals`).")
        if config.detector != "fast-rcnn" and config.proposals is not None:
            raise TrainError(f"`detector` {config.detector} proposes its own regions: `proposals` are for `detector` "
                             "fast-rcnn.")
    elif given & {"detector", "proposals"}:
        raise TrainError(f"`{min(given & {'detector', 'proposals'})}` applies to detection (voc07-det) only.")
    return config
