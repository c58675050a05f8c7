"""The one owner of checkpoints: what a run saves, and what is checked when it is loaded again.

A pretrain checkpoint carries the model, optimizer, scheduler, scaler, epoch, every rank's RNG state, the
history of metrics, and what it was trained on (the image table's and the manifest's content hashes and
recipe), so `--resume` continues the same run and a result always says what it was trained on.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from curate.fileio import atomic_path
from train.config import flag
from train.distributed import Dist
from train.errors import TrainError
from train.models import build_model
from train.rng import rng_state


def save(path: Path, **state) -> None:
    """Write atomically (through curate's one helper): an interrupted save never leaves half a checkpoint."""
    with atomic_path(Path(path)) as tmp:
        torch.save(state, tmp)


def config_record(config) -> dict:
    """A config as plain values a checkpoint can hold (weights_only loading accepts no Path)."""
    return {key: str(value) if isinstance(value, Path) else value for key, value in vars(config).items()}


def load(path: Path, kind: str = "pretrain") -> dict:
    """A checkpoint written by this module, loaded on the CPU with weights_only=True."""
    path = Path(path)
    if path.is_dir():
        raise TrainError(f"The checkpoint {path} is a folder, not a checkpoint file.")
    if not path.is_file():
        raise TrainError(f"The checkpoint {path} does not exist.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types for a foreign or damaged file
        raise TrainError(f"{path} is not a checkpoint this module can read (foreign or damaged file).") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "model_name" not in checkpoint:
        raise TrainError(f"{path} is a torch file but not a `python -m train` checkpoint.")
    if kind is not None and checkpoint.get("kind") != kind:
        raise TrainError(f"{path} is a {checkpoint.get('kind')} checkpoint, not a {kind} checkpoint.")
    return checkpoint


def load_weights(model: nn.Module, state: dict, path: Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise TrainError(f"The weights in {path} do not fit this network: the checkpoint is from another model.") from None


def pretrained_model(path: Path) -> tuple[nn.Module, dict]:
    """The network of a pretrain checkpoint, weights loaded, on the CPU; and the checkpoint."""
    checkpoint = load(path, "pretrain")
    model = build_model(checkpoint["model_name"], checkpoint["num_labels"])
    load_weights(model, checkpoint["model"], Path(path))
    return model, checkpoint


def check_same_data(checkpoint: dict, path: Path, data: dict[str, str]) -> None:
    """Refuse to resume a checkpoint on another manifest or another image table."""
    old = checkpoint["data"]
    if old["labels_hash"] != data["labels_hash"]:
        raise TrainError(
            f"{path} was trained on another label set ({old['labels_recipe']}, {old['labels_hash'][:19]}) than "
            f"{data['table']} ({data['labels_recipe']}, {data['labels_hash'][:19]}): start a new run instead of --resume."
        )
    if old["table_hash"] != data["table_hash"]:
        raise TrainError(
            f"{path} was trained on another image table ({old['table_hash'][:19]}) than {data['table']} "
            f"({data['table_hash'][:19]}): start a new run instead of --resume."
        )


def every_rank_rng_state(run: Dist) -> list[dict]:
    """The RNG state of every rank, in rank order (a collective: every rank must call it)."""
    if not run.enabled:
        return [rng_state()]
    states = [None] * run.world_size
    dist.all_gather_object(states, rng_state())
    return states


# --- resuming: the same run, with the settings it was started with ---------------------------------------

# What makes a run the run it is; a resumed run takes them from its checkpoint. (Others may change on
# resume: --epochs, to lengthen the run; the data paths, whose content hashes are checked; workers, device,
# compile, quiet, output folder.)
RUN_SETTINGS = (
    "model", "batch_size", "lr", "momentum", "wd", "nesterov", "label_smoothing", "lr_scheduler", "lr_step_size",
    "lr_gamma", "lr_min", "lr_warmup_epochs", "lr_warmup_decay", "amp", "amp_dtype", "channels_last",
    "augment", "train_crop_size", "val_resize_size", "val_crop_size", "min_scale", "seed", "use_deterministic_algorithms",
)


def setting(name: str, value) -> str:
    """A setting as a command line gives it: '--lr 0.1', '--amp', 'no --amp'."""
    if isinstance(value, bool):
        return flag(name) if value else f"no {flag(name)}"
    return f"{flag(name)} {value}"


# A fine-tune's too: what it transfers to, and how.
FINETUNE_SETTINGS = RUN_SETTINGS + ("task", "mode", "random_init", "backbone_lr_scale", "partition", "val_fraction",
                                    "test_crops", "min_size", "max_size")


def resumed_config(config, given: frozenset[str], saved: dict, path: Path, settings: tuple[str, ...] = RUN_SETTINGS):
    """`config` with the run settings of the checkpoint `saved`; a setting given on the command line that
    contradicts the checkpoint is an error naming both. --epochs may change, to more than the epochs done."""
    recorded = {"augment": "rrc", **saved.get("config", {})}  # checkpoints older than --augment were all rrc
    changes = {}
    for name in settings:
        if name not in recorded:
            continue
        if name in given and getattr(config, name) != recorded[name]:
            raise TrainError(
                f"{setting(name, getattr(config, name))} contradicts {path}, which was trained with "
                f"{setting(name, recorded[name])}: a resumed run keeps the settings it started with "
                "(leave the flag out, or start a new run)."
            )
        changes[name] = recorded[name]
    done = saved["epoch"] + 1
    epochs = config.epochs if "epochs" in given else recorded.get("epochs", config.epochs)
    if epochs <= done and not getattr(config, "test_only", False):
        raise TrainError(f"{path} has trained {done} epochs already: --epochs {epochs} leaves nothing to train; "
                         f"give more than {done} to go on.")
    return replace(config, **changes, epochs=epochs)


def check_world_size(saved: dict, path: Path, world_size: int) -> None:
    """A run resumes on as many processes as it was trained on: the batch it learns with is -b times that."""
    trained_on = len(saved["rng"])
    if trained_on != world_size:
        raise TrainError(
            f"{path} was trained on {trained_on} process{'es' * (trained_on != 1)} and this run has {world_size}: "
            f"resume it on {trained_on} (torchrun --nproc-per-node {trained_on}), since each process takes -b images a step."
        )
