"""What each `python -m train` command is told, as typed configs. The flags build them (`flags.py`); the demo
and the experiment grid make them directly and call `run(config)`. Their defaults are the flags' defaults.

Each config is made of the groups its command has: what every command that reads images shares
(`Device`, `Sizes`), what training shares (`Training`), and which images (`Data`).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path


@dataclass(kw_only=True)
class Data:
    """The images and their labels: an image table, or a label manifest with an image index."""

    table: Path | None = None
    labels: Path | None = None
    images: Path | None = None
    root: Path | None = None
    val_table: Path | None = None
    val_images: Path | None = None
    val_root: Path | None = None
    store: Path | None = None  # a packed store (curate images pack) to read the images from
    val_store: Path | None = None


@dataclass(kw_only=True)
class Sizes:
    """Input sizes and augmentation: "rrc", random-resized crops for training, resize the short side and
    centre crop to evaluate; "caffe", Caffe's ImageNet recipe (resize to a square, random crop and mirror;
    the central crop to evaluate), whose crops are 227 px unless given (`implied_sizes`)."""

    train_crop_size: int = 224
    val_resize_size: int = 256
    val_crop_size: int = 224
    min_scale: float = 0.08
    augment: str = "rrc"


@dataclass(kw_only=True)
class Device:
    """Where and how images are read and run: batch size per process, loader workers, device, precision."""

    batch_size: int = 32
    workers: int = 4
    device: str = "auto"
    amp: bool = False
    channels_last: bool = False
    quiet: bool = False


@dataclass(kw_only=True)
class Training(Device, Sizes):
    """The network, the optimiser, the schedule, and the run's output folder and seed."""

    model: str = "resnet18"
    epochs: int = 90
    lr: float = 0.1
    momentum: float = 0.9
    wd: float = 1e-4
    nesterov: bool = False
    label_smoothing: float = 0.0
    lr_scheduler: str = "step"
    lr_step_size: int = 30
    lr_gamma: float = 0.1
    lr_min: float = 0.0
    lr_warmup_epochs: int = 0
    lr_warmup_decay: float = 0.01
    amp_dtype: str = "bfloat16"
    compile: bool = False
    output_dir: Path | None = None  # None: runs/<command>-<date and time>, or a resumed checkpoint's folder
    overwrite: bool = False  # replace a run the output folder already holds
    seed: int = 0
    use_deterministic_algorithms: bool = False


@dataclass(kw_only=True)
class PretrainConfig(Training, Data):
    resume: Path | None = None
    test_only: bool = False


@dataclass(kw_only=True)
class FinetuneConfig(Training):
    checkpoint: Path | None = None
    random_init: bool = False
    resume: Path | None = None
    mode: str | None = None  # None: the task's (linear; full for voc07-det, voc12-action and --random-init)
    backbone_lr_scale: float = 0.1
    partition: int = 1
    val_fraction: float = 0.1  # of the training data, held out to validate on each epoch
    test_every_epoch: bool = False  # else the test set is scored once, after the last epoch
    test_crops: str = "center"  # how val and test images are cropped to score them (`loaders.EvalTransform`)
    min_size: int = 600  # detection: the shorter side images are resized to
    max_size: int = 1000  # detection: the longer side at most
    task: str
    data: Path
    # shorter than pretraining, at a lower learning rate that decays once, without weight decay; a task
    # may have its own (`tasks.SETTINGS`)
    epochs: int = 30
    lr: float = 0.01
    lr_step_size: int = 20
    wd: float = 0.0


@dataclass(kw_only=True)
class EvaluateConfig(Device, Sizes, Data):
    checkpoint: Path | None = None  # the flag is required; the demo scores an untrained network without one
    knn_labels: Path | None = None
    knn_k: int = 20
    knn_temperature: float = 0.07
    batch_size: int = 64


@dataclass(kw_only=True)
class DemoConfig:
    output_dir: Path = Path("runs/demo")
    experiment: Path | None = None  # None: experiments/demo.toml
    quiet: bool = False


@dataclass(kw_only=True)
class GridConfig:
    file: Path
    output_dir: Path | None = None  # None: runs/grid-<the experiment's name>
    dry_run: bool = False
    launcher: str = "here"  # here (one cell after another), submitit-local, slurm
    nproc_per_node: int | None = None  # None: the experiment file's (1 unless it says)
    quiet: bool = False


@dataclass(kw_only=True)
class ReportConfig:
    folder: Path
    quiet: bool = False


COMMANDS = {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "evaluate": EvaluateConfig, "demo": DemoConfig,
            "grid": GridConfig, "report": ReportConfig}


def defaults(config: type) -> dict:
    """Field name -> default, for the fields of `config` that have one."""
    return {f.name: f.default for f in fields(config) if f.default is not MISSING}


# --- checks: every option, before any work ---------------------------------------------------------------

FLAGS = {"batch_size": "-b/--batch-size", "workers": "-j/--workers", "wd": "--wd"}
RULES = {  # field -> (the test a value must pass, what the sentence asks for)
    "batch_size": (lambda v: v >= 1, "1 or more"),
    "workers": (lambda v: v >= 0, "0 or more"),
    "epochs": (lambda v: v >= 1, "1 or more"),
    "lr": (lambda v: v >= 0, "0 or more"),
    "momentum": (lambda v: 0 <= v < 1, "at least 0 and below 1"),
    "wd": (lambda v: v >= 0, "0 or more"),
    "label_smoothing": (lambda v: 0 <= v < 1, "at least 0 and below 1"),
    "lr_step_size": (lambda v: v >= 1, "1 or more"),
    "lr_gamma": (lambda v: v > 0, "above 0"),
    "lr_min": (lambda v: v >= 0, "0 or more"),
    "lr_warmup_epochs": (lambda v: v >= 0, "0 or more"),
    "lr_warmup_decay": (lambda v: 0 < v <= 1, "above 0 and at most 1"),
    "train_crop_size": (lambda v: v >= 1, "1 or more"),
    "val_resize_size": (lambda v: v >= 1, "1 or more"),
    "val_crop_size": (lambda v: v >= 1, "1 or more"),
    "min_scale": (lambda v: 0 < v <= 1, "above 0 and at most 1"),
    "augment": (lambda v: v in ("rrc", "caffe"), "rrc or caffe"),
    "backbone_lr_scale": (lambda v: v >= 0, "0 or more"),
    "partition": (lambda v: 1 <= v <= 10, "1 to 10 (SUN397 has ten official partitions)"),
    "val_fraction": (lambda v: 0 <= v < 1, "at least 0 and below 1"),
    "test_crops": (lambda v: v in ("center", "whole", "ten"), "center, whole or ten"),
    "min_size": (lambda v: v >= 32, "32 or more"),
    "max_size": (lambda v: v >= 32, "32 or more"),
    "knn_k": (lambda v: v >= 1, "1 or more"),
    "knn_temperature": (lambda v: v > 0, "above 0"),
    "device": (lambda v: v in ("auto", "cpu", "cuda"), "auto, cpu or cuda"),
    "launcher": (lambda v: v in ("here", "submitit-local", "slurm"), "here, submitit-local or slurm"),
    "nproc_per_node": (lambda v: v is None or v >= 1, "1 or more"),
}
EXCLUSIVE = [  # groups of fields at most one of which may be given
    (("table", "labels"), "Give the images either as --table, or as --labels with --images, not both."),
    (("table", "images"), "Give the images either as --table, or as --labels with --images, not both."),
    (("val_table", "val_images"), "Give the validation images either as --val-table or as --val-images, not both."),
    (("root", "store"), "Give either --root (where the table's images are) or --store (a store of them), not both."),
    (("checkpoint", "random_init"), "Give either --checkpoint (transfer a pretrained network) or --random-init (the untrained baseline), not both."),
]


def flag(name: str) -> str:
    """The flag that sets a config field, as sentences name it."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def check(config) -> None:
    """Raise TrainError, in one sentence, for the first option of `config` that no run can use."""
    from train.errors import TrainError

    values = vars(config)
    for name, (test, wanted) in RULES.items():
        if name in values and not test(values[name]):
            raise TrainError(f"{flag(name)} must be {wanted}, not {values[name]!r}.")
    if values.get("lr_warmup_epochs") and values["lr_warmup_epochs"] >= values["epochs"]:
        raise TrainError(f"--lr-warmup-epochs {config.lr_warmup_epochs} leaves no epoch after the warm-up of a "
                         f"{config.epochs}-epoch run: give fewer warm-up epochs.")
    if values.get("min_size", 0) > values.get("max_size", 1 << 30):
        raise TrainError(f"--min-size {config.min_size} is larger than --max-size {config.max_size}.")
    if values.get("val_resize_size", 1) < values.get("val_crop_size", 0):
        raise TrainError(f"--val-crop-size {config.val_crop_size} is larger than the --val-resize-size "
                         f"{config.val_resize_size} it is cropped from.")
    if values.get("augment") == "caffe" and config.val_resize_size < config.train_crop_size:
        raise TrainError(f"--train-crop-size {config.train_crop_size} is larger than the --val-resize-size "
                         f"{config.val_resize_size} square that --augment caffe crops it from.")
    if values.get("augment") == "caffe" and isinstance(config, FinetuneConfig):
        raise TrainError("finetune crops as --augment rrc does (--augment caffe is for pretrain and evaluate): "
                         "leave the flag out.")
    for names, sentence in EXCLUSIVE:
        if all(values.get(name) for name in names):
            raise TrainError(sentence)


def explicit(config, given: frozenset[str] | None) -> frozenset[str]:
    """The fields the caller set: `given` by the flags, or for a config made in Python, the fields whose
    values differ from their defaults."""
    if given is not None:
        return given
    default = defaults(type(config))
    return frozenset(name for name, value in vars(config).items() if name not in default or default[name] != value)


CAFFE_CROP = 227  # crop_size of Caffe's bvlc_reference_caffenet (its resize, 256, is --val-resize-size's default)


def implied_sizes(config, given: frozenset[str]):
    """`config` with the crop sizes its augmentation implies where the caller set none (`given`, as from
    `explicit`): --augment caffe crops 227 px unless --train-crop-size or --val-crop-size says otherwise."""
    if getattr(config, "augment", "rrc") != "caffe":
        return config
    return replace(config, **{name: CAFFE_CROP for name in ("train_crop_size", "val_crop_size") if name not in given})
