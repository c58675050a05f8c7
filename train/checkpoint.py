"""The one owner of checkpoints: what a run saves, and what is checked when it is loaded again.

A pretrain checkpoint carries the model, optimizer, scheduler, scaler, epoch, every rank's RNG state, the
history of metrics, and what it was trained on (the image table's and the manifest's content hashes and
recipe), so `--resume` continues the same run and a result always says what it was trained on.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from curate.fileio import atomic_path
from train.distributed import Dist
from train.errors import TrainError
from train.models import build_model
from train.rng import rng_state


def save(path: Path, **state) -> None:
    """Write atomically (through curate's one helper): an interrupted save never leaves half a checkpoint."""
    with atomic_path(Path(path)) as tmp:
        torch.save(state, tmp)


def load(path: Path, kind: str = "pretrain") -> dict:
    """A checkpoint written by this module, loaded on the CPU with weights_only=True."""
    path = Path(path)
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


def check_same_run(checkpoint: dict, path: Path, model_name: str, data: dict[str, str]) -> None:
    """Refuse to resume a checkpoint of another model or of another manifest."""
    if checkpoint["model_name"] != model_name:
        raise TrainError(f"{path} holds a {checkpoint['model_name']} model, not --model {model_name}: "
                         "resume with the model it was trained with.")
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
