"""What each `python -m train` command is told, as typed configs. The flags build them (`flags.py`); the demo
and the experiment grid make them directly and call `run(config)`. Their defaults are the flags' defaults.

Each config is made of the groups its command has: what every command that reads images shares
(`Device`, `Sizes`), what training shares (`Training`), and which images (`Data`).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
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


@dataclass(kw_only=True)
class Sizes:
    """Input sizes and augmentation: random-resized crops for training, resize and centre crop to evaluate."""

    train_crop_size: int = 224
    val_resize_size: int = 256
    val_crop_size: int = 224
    min_scale: float = 0.08


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
    output_dir: Path | None = None
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
    mode: str = "linear"
    backbone_lr_scale: float = 0.1
    partition: int = 1
    task: str
    data: Path
    # shorter than pretraining, at a lower learning rate, without weight decay
    epochs: int = 30
    lr: float = 0.01
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
    output_dir: Path = Path("demo-output")
    epochs: int = 12
    seed: int = 0
    quiet: bool = False


COMMANDS = {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "evaluate": EvaluateConfig, "demo": DemoConfig}


def defaults(config: type) -> dict:
    """Field name -> default, for the fields of `config` that have one."""
    return {f.name: f.default for f in fields(config) if f.default is not MISSING}
