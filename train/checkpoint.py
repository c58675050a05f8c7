"""The one owner of checkpoints: what a run saves, and what is checked when it is loaded again.

Every checkpoint carries the model, optimizer, scheduler, scaler, epoch, every rank's RNG state, the settings
and history of the run, and what it was trained on (a pretrain checkpoint: the image table's and the
manifest's content hashes and recipe; a fine-tune's: its task's samples), so `--resume` continues the same
run (`resumed_config`, `restore`) and a result always says what it was trained on. And its own digest,
checked on every load: a damaged checkpoint is refused, never trained on or evaluated.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn, uint8

from curate.fileio import atomic_path
from train.distributed import Dist
from train.errors import TrainError
from train.models import LAYERS, build_model, copy_layers
from train.rng import rng_state, set_rng_state
from train.schedule import continue_schedule
from train.settings import as_given, with_role


def save(path: Path, **state) -> None:
    """Write atomically (through curate's one helper): an interrupted save never leaves half a checkpoint.
    The state's digest goes with it (a `digest` given is replaced: the state may have changed)."""
    with atomic_path(Path(path)) as tmp:
        torch.save({**state, "digest": digest(state)}, tmp)


def digest(state: dict) -> str:
    """sha256 of everything a checkpoint holds but its digest, in the order it holds it: each tensor's dtype,
    shape and bytes, every other value's type and repr (a checkpoint is small next to the training it saves)."""
    sha = hashlib.sha256()

    def feed(value) -> None:
        if isinstance(value, Tensor):
            tensor = value.detach().cpu().contiguous()
            sha.update(f"tensor {tensor.dtype} {tuple(tensor.shape)}\n".encode())
            sha.update(tensor.view(-1).view(uint8).numpy())
        elif isinstance(value, (dict, list, tuple)):
            sha.update(f"{type(value).__name__} {len(value)}\n".encode())
            for item in value.items() if isinstance(value, dict) else value:
                feed(item)
        else:
            sha.update(f"{type(value).__name__} {value!r}\n".encode())

    feed({key: value for key, value in state.items() if key != "digest"})
    return "sha256:" + sha.hexdigest()


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
    # A checkpoint saved before checkpoints carried a digest loads unchecked, as it always did: weights a user
    # trained stay usable.
    if "digest" in checkpoint and checkpoint["digest"] != digest(checkpoint):
        raise TrainError(f"{path} is damaged: what it holds does not match its digest.")
    if kind is not None and checkpoint.get("kind") != kind:
        raise TrainError(f"{path} is a {checkpoint.get('kind')} checkpoint, not a {kind} checkpoint.")
    return checkpoint


def load_weights(model: nn.Module, state: dict, path: Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise TrainError(f"The weights in {path} do not fit this network: the checkpoint is from another model.") from None


# What a checkpoint saved before a setting existed was trained with: the only value there was then.
BEFORE_THE_SETTING = {"augment": "rrc", "input_norm": "torchvision", "bias_lr_scale": 1.0, "bias_weight_decay": None}


def recorded_config(saved: dict) -> dict:
    """The settings a checkpoint's run had, as it records them (`BEFORE_THE_SETTING` where it predates one)."""
    return {**BEFORE_THE_SETTING, **saved.get("config", {})}


def pretrained_input(saved: dict, path: Path, config, given: frozenset[str]) -> str:
    """The input (`input_norm`) the network of the pretrain checkpoint `saved` learnt on, which finetune and
    evaluate feed it; another one given is an error."""
    trained_on = recorded_config(saved)["input_norm"]
    if "input_norm" in given and config.input_norm != trained_on:
        raise TrainError(f"{as_given('input_norm', config.input_norm)} contradicts {path}, whose network was pretrained "
                         f"on {as_given('input_norm', trained_on)} input: leave it out (a network is fed the input it "
                         "learnt on).")
    return trained_on


def pretrained_model(path: Path) -> tuple[nn.Module, dict]:
    """The network of a pretrain checkpoint, weights loaded, on the CPU; and the checkpoint."""
    checkpoint = load(path, "pretrain")
    model = build_model(checkpoint["model_name"], checkpoint.get("num_outputs", checkpoint["num_labels"]))
    load_weights(model, checkpoint["model"], Path(path))
    return model, checkpoint


def copy_pretrained_layers(model: nn.Module, name: str, path: Path, count: int) -> dict:
    """Start `model`, a `name` network, from the first `count` layers of the pretrain checkpoint `path`
    (`models.copy_layers`); what it copied, for the run's record."""
    saved = load(path, "pretrain")
    if saved["model_name"] != name:
        raise TrainError(f"`copy_from` {path} holds a {saved['model_name']} network, not the {name} of `model`: layers "
                         "are copied between networks of one model.")
    copy_layers(model, name, saved["model"], count)
    return {"copied_from": str(path), "copied_layers": [layer for layer, _ in LAYERS[name][:count]],
            "copied_labels_hash": saved["data"]["labels_hash"]}


def check_same_data(checkpoint: dict, path: Path, data: dict[str, str]) -> None:
    """Refuse to resume a checkpoint on another manifest or another image table."""
    old = checkpoint["data"]
    if old["labels_hash"] != data["labels_hash"]:
        raise TrainError(
            f"{path} was trained on another label set ({old['labels_recipe']}, {old['labels_hash'][:19]}) than "
            f"{data['table']} ({data['labels_recipe']}, {data['labels_hash'][:19]}): start a new run instead of `resume`."
        )
    if old.get("hierarchy_hash") != data.get("hierarchy_hash"):
        raise TrainError(f"{path} was trained with another `hierarchy` ({old.get('hierarchy') or 'none'}) than this run's "
                         f"({data.get('hierarchy') or 'none'}): start a new run instead of `resume`.")
    if old["table_hash"] != data["table_hash"]:
        raise TrainError(
            f"{path} was trained on another image table ({old['table_hash'][:19]}) than {data['table']} "
            f"({data['table_hash'][:19]}): start a new run instead of `resume`."
        )


def every_rank_rng_state(run: Dist) -> list[dict]:
    """The RNG state of every rank, in rank order (a collective: every rank must call it)."""
    if not run.enabled:
        return [rng_state()]
    states = [None] * run.world_size
    dist.all_gather_object(states, rng_state())
    return states


# --- resuming: the same run, with the settings it was started with ---------------------------------------


def resumed_config(config, given: frozenset[str], saved: dict, path: Path):
    """`config` with the run settings of the checkpoint `saved` (those its declarations give the role "run");
    a setting given on the command line that contradicts the checkpoint is an error naming both. The length
    (`epochs`, or `iterations`) may change, to more than is done, in the unit the run has; the other settings
    (paths, workers, the device...) are the caller's."""
    recorded = recorded_config(saved)
    changes = {}
    for name in with_role(type(config), "run"):
        if name not in recorded:
            continue
        if name in given and getattr(config, name) != recorded[name]:
            raise TrainError(
                f"{as_given(name, getattr(config, name))} contradicts {path}, which was trained with "
                f"{as_given(name, recorded[name])}: a resumed run keeps the settings it started with "
                "(leave it out, or start a new run)."
            )
        changes[name] = recorded[name]
    length = {name: getattr(config, name) if name in given else recorded.get(name, getattr(config, name))
              for name in ("epochs", "iterations")}
    if bool(length["iterations"]) != bool(recorded.get("iterations")):
        unit = "`iterations`" if recorded.get("iterations") else "`epochs`"
        raise TrainError(f"{path} was trained for a length in {unit}: a resumed run keeps the unit of its length "
                         "(give that, or start a new run).")
    name = "iterations" if length["iterations"] else "epochs"
    done = trained(saved, by_steps=name == "iterations")
    if length[name] <= done and not getattr(config, "test_only", False):
        unit = "steps" if name == "iterations" else "epochs"
        raise TrainError(f"{path} has trained {done} {unit} already: `{name}` {length[name]} leaves nothing to train; "
                         f"give more than {done} to go on.")
    return replace(config, **changes, **length)


def trained(saved: dict, by_steps: bool) -> int:
    """How much of its length a checkpoint's run has trained: SGD steps, or epochs."""
    return saved["steps"] if by_steps else saved["epoch"] + 1


def check_world_size(saved: dict, path: Path, world_size: int) -> None:
    """A run resumes on as many processes as it was trained on: the batch it learns with is -b times that."""
    trained_on = len(saved["rng"])
    if trained_on != world_size:
        raise TrainError(
            f"{path} was trained on {trained_on} process{'es' * (trained_on != 1)} and this run has {world_size}: "
            f"resume it on {trained_on} (torchrun --nproc-per-node {trained_on}), since each process takes "
            "`batch_size` images a step."
        )


def restore(saved: dict, path: Path, model: nn.Module, optimizer, scaler, config, rank: int):
    """Everything a resumed run continues from, put back: the weights, the optimizer, the scaler and this
    rank's RNGs; returns the schedule (laid out again if `epochs` changed), the first epoch to train, the
    history so far, and a sentence on how the LR goes on when the length changed (else None)."""
    load_weights(model, saved["model"], path)
    optimizer.load_state_dict(saved["optimizer"])
    recorded = saved.get("config", {})
    before = recorded["iterations"] if config.iterations else recorded.get("epochs", config.epochs)
    scheduler, change = continue_schedule(optimizer, config, saved["lr_scheduler"], trained(saved, bool(config.iterations)),
                                          before)
    scaler.load_state_dict(saved["scaler"])
    set_rng_state(saved["rng"][rank])
    return scheduler, saved["epoch"] + 1, list(saved.get("history", [])), change
