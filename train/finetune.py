"""`python -m train finetune`: transfer a pretrained network to a task (`tasks/`).

--mode linear: the pretrained features stay frozen (batch-norm statistics included) and only the new layers
learn: a linear classifier (the linear-classifier regime), or with --head oquab Oquab et al. 2014's adaptation
layers, trained on multi-scale patches labelled by the objects' boxes and scoring an image by its patches
(`data/patches.py`). --mode full: every layer learns, the pretrained ones at
--backbone-lr-scale times the LR of the new layers; with --random-init (the scratch baseline) all at the
full LR. Biases learn as --bias-lr-scale and --bias-weight-decay say (`optimizer.py`). Detection (voc07-det)
builds a Faster R-CNN on the network (`detection.py`), always in full mode. The network is fed the input it
was pretrained on (`input_norm`, from its checkpoint).

Read top to bottom: set up (`runs.Run`: settings, the task's defaults, resume), data, model, optimiser, the
loop (train, validate, checkpoint, log), the test once at the end (or every epoch with --test-every-epoch),
results.json.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from train import checkpoint, distributed
from train.config import FinetuneConfig, with_task_defaults
from train.data.loaders import FileDataset, eval_transform, make_loader, train_transform
from train.data.patches import AllPatches, PatchDataset
from train.detection import DetectionDataset, build_detector, collate, detect, detection_step, score_detections
from train.errors import TrainError
from train.loops import classification_step, evaluate
from train.metrics import multilabel_loss
from train.models import ScoreLayer, backbone, build_model, check_input_size, feature_dim, new_layers, set_classifier
from train.optimizer import sgd
from train.proposals import fingerprint, read_proposals
from train.runs import Run, write_json
from train.settings import defining, words_of
from train.tasks import TASK, Samples, hold_out


class LinearProbe(nn.Module):
    """Frozen features (kept in eval mode, so batch-norm statistics stay) and new layers on them: a linear
    classifier (`standardised`), or Oquab et al.'s adaptation layers."""

    def __init__(self, features: nn.Module, head: nn.Module):
        super().__init__()
        self.features = features
        self.head = head
        self.features.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.features.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            features = self.features(x)
        return self.head(features.float())


def starting_network(config: FinetuneConfig, given: frozenset[str], saved: dict | None) -> tuple[nn.Module, str, dict]:
    """The network to transfer: the pretrain checkpoint's (its weights), an untrained --model (the
    baseline), or for a resumed run an untrained one of its model (the checkpoint's weights come later).
    Also its model name and what it was pretrained on, with the input it learnt on (`input_norm`)."""
    if saved is not None:
        started_from = saved["pretrained"].get("checkpoint")
        if config.checkpoint is not None and str(config.checkpoint) != started_from:
            raise TrainError(f"`checkpoint` {config.checkpoint} contradicts {config.resume}, which fine-tunes "
                             f"{started_from or 'a random init'}: leave `checkpoint` out, or start a new run.")
        return build_model(saved["model_name"], 1), saved["model_name"], {"input_norm": config.input_norm, **saved["pretrained"]}
    if config.random_init:
        return build_model(config.model, 1), config.model, {"labels_recipe": "none (random init)",
                                                            "input_norm": config.input_norm or "torchvision"}
    if config.checkpoint is None:
        raise TrainError("finetune needs `checkpoint` (a pretrain checkpoint), or `random_init` with a `model` for the "
                         "baseline.")
    model, pretrained = checkpoint.pretrained_model(config.checkpoint)
    if "model" in given and config.model != pretrained["model_name"]:
        raise TrainError(f"`model` {config.model} contradicts {config.checkpoint}, which holds a {pretrained['model_name']} "
                         "network: leave `model` out (the network comes from the checkpoint).")
    return model, pretrained["model_name"], {**pretrained["data"], "checkpoint": str(config.checkpoint),
                                             "input_norm": checkpoint.pretrained_input(pretrained, config.checkpoint, config, given)}


def task_model(task: Samples, network: nn.Module, name: str, config: FinetuneConfig, pretrained: bool) -> nn.Module:
    """The network made into the model of the task: a detector, a linear probe, or the network with a new
    classifier."""
    if task.task.kind == "detection":
        return build_detector(network, name, len(task.classes), config.min_size, config.max_size, pretrained,
                              config.input_norm, config.detector)
    check_input_size(network, name, min(config.train_crop_size, config.val_crop_size))
    head = new_layers(config.head, feature_dim(network, name), len(task.classes))
    if config.mode == "linear":
        return LinearProbe(backbone(network, name), standardised(head) if config.head == "linear" else head)
    set_classifier(network, name, head)
    return network


def standardised(head: ScoreLayer) -> nn.Module:
    """A linear probe's classifier after a batch norm without affine parameters, as in MAE's linear probing (He
    et al. 2022): still a linear map at test time, but one whose learning rate does not depend on the scale of
    the features, which differs wildly between networks (and untrained ones). Oquab et al.'s layers take fc7
    as it is."""
    return nn.Sequential(nn.BatchNorm1d(head.in_features, affine=False), head)


def loaders(task: Samples, splits: dict, config: FinetuneConfig, run: distributed.Dist, proposals: dict | None) -> dict:
    """A loader for each split: detection images whole (flipped in training; for Fast R-CNN with their
    `proposals`), classification images cropped (training: random-resized crops; else resized and
    centre-cropped), or with `head` oquab, training patches and, to score, every patch of one image a batch."""
    result = {}
    for name, split in splits.items():
        train, batch_size, collate_fn = name == "train", config.batch_size, None
        if task.task.kind == "detection":
            dataset, collate_fn = DetectionDataset(split, task.classes, train, config.seed, proposals), collate
        elif config.head == "oquab" and train:
            dataset = PatchDataset(split, task.classes, config.train_crop_size, config.seed)
        elif config.head == "oquab":
            dataset, batch_size = FileDataset(split.files, split.targets, AllPatches(config.val_crop_size)), 1
        else:
            transform = (train_transform(config.train_crop_size, config.min_scale, config.seed) if train
                         else eval_transform(config.val_resize_size, config.val_crop_size, crops=config.test_crops))
            dataset = FileDataset(split.files, split.targets, transform, split.regions)
        result[name] = make_loader(dataset, batch_size, config.workers, train, run.rank, run.world_size, config.seed,
                                   collate_fn)
    return result


def scorer(task: Samples, model: nn.Module, splits: dict, loaders: dict, run: distributed.Dist, amp_dtype, input_norm: str):
    """score(split name) -> the task's metrics on that split (its images fed as `input_norm` says): top-1, or
    AP per class and their mean."""

    def score(name: str) -> dict:
        kind, rule = task.task.kind, task.task.rule
        if kind == "detection":
            found = detect(model, loaders[name], run.device, amp_dtype, input_norm)
            return score_detections(found, splits[name], task.classes, rule)
        metrics = evaluate(model, loaders[name], run.device, amp_dtype, False, rule if kind == "map" else None,
                           input_norm=input_norm)
        return {**metrics, "ap": dict(zip(task.classes, metrics["ap"]))} if "ap" in metrics else metrics

    return score


def run(config: FinetuneConfig, given: frozenset[str] | None = None) -> dict | None:
    """Fine-tune; return the test metrics (also in OUTPUT_DIR/results.json, checkpoint.pt and
    metrics.jsonl) on rank 0."""
    run = Run.start("finetune", config, given, settle=with_task_defaults)
    config, device = run.config, run.dist.device

    # Data: the task's training split less a held-out validation share, and its test split.
    task = TASK[config.task].load(config.data, config)
    task.check_files()
    task_hash = task.fingerprint()  # hashes every sample: once, not at every checkpoint
    if run.saved is not None and run.saved["task_hash"] != task_hash:
        raise TrainError(f"{config.resume} was fine-tuned on other {task.task.name} data than {config.data} holds "
                         "(its images or their labels differ): start a new run instead of `resume`.")
    proposals, proposals_hash = None, None
    if task.task.kind == "detection" and config.detector == "fast-rcnn":
        proposals = read_proposals(config.proposals, {"training": task.train, "test": task.test})
        proposals_hash = fingerprint(proposals)
        if run.saved is not None and run.saved.get("proposals_hash") != proposals_hash:
            raise TrainError(f"{config.resume} was fine-tuned on other proposals than {config.proposals} holds: give "
                             "those `proposals`, or start a new run instead of `resume`.")
    train_split, val_split = hold_out(task.train, config.val_fraction)
    if len(train_split) < 2:  # batch norm cannot train on a batch of one
        why = (f"`val_fraction` {config.val_fraction} leaves {len(train_split)} of its {len(task.train)} training samples"
               if len(task.train) > 1 else f"it has {len(task.train)} training sample")
        raise TrainError(f"{config.data} cannot train {task.task.name}: {why}, and a training batch needs 2"
                         + (": give a smaller `val_fraction`." if len(task.train) > 1 else "."))
    splits = {"train": train_split, **({"val": val_split} if len(val_split) else {}), "test": task.test}

    # Model: the pretrained network made into the task's model, fed the input it was pretrained on.
    network, name, pretrained_on = starting_network(config, run.given, run.saved)
    run.config = config = replace(config, model=name, input_norm=pretrained_on["input_norm"])
    pretrained = {id(p) for p in network.parameters()} if not config.random_init else set()
    raw_model = task_model(task, network, name, config, pretrained=not config.random_init)
    eval_model, model = run.wrap(raw_model)
    optimizer = sgd(raw_model, config, pretrained, config.backbone_lr_scale)
    if task.task.kind == "detection":
        step = detection_step(model, device, run.amp_dtype, config.input_norm)
    else:
        single_label = task.task.kind == "top1" or config.head == "oquab"  # a patch shows one class, or background
        criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing) if single_label else multilabel_loss
        step = classification_step(model, criterion, device, run.amp_dtype, input_norm=config.input_norm)
    batches = loaders(task, splits, config, run.dist, proposals)
    if config.head == "oquab":
        task.notes["patches"] = batches["train"].dataset.summary()
    score = scorer(task, eval_model, splits, batches, run.dist, run.amp_dtype, config.input_norm)
    run.say(f"{task.task.name} ({config.mode}): {len(train_split)} training, {len(val_split)} validation and "
            f"{len(task.test)} test samples, {len(task.classes)} classes, from {pretrained_on.get('checkpoint', 'random init')}; "
            f"the run goes to {run.folder}")

    def scores(epoch: int) -> dict:
        """val after every epoch; test after the last (every epoch with --test-every-epoch)."""
        record = {}
        for split in ["val"] * ("val" in splits) + ["test"] * (config.test_every_epoch or epoch == config.epochs - 1):
            record.update({f"{split}_{k}": v for k, v in score(split).items()})
        return record

    started = time.perf_counter()
    history = run.fit(model, raw_model, optimizer, step, batches["train"], scores,
                      state={"model_name": name, "classes": list(task.classes), "task_hash": task_hash,
                             "pretrained": pretrained_on, "proposals_hash": proposals_hash})
    detector = {"detector": config.detector, "proposals": str(config.proposals) if proposals else None,
                "proposals_hash": proposals_hash} if task.task.kind == "detection" else {}
    result = results(task, task_hash, config, name, pretrained_on, history, run.folder, (time.perf_counter() - started) / 60,
                     held_out=len(val_split), detector=detector)
    if run.dist.is_main:
        write_json(run.folder / "results.json", result)
    return run.finish(result)


def results(task: Samples, task_hash: str, config: FinetuneConfig, name: str, pretrained_on: dict, history: list[dict],
            output: Path, minutes: float, held_out: int, detector: dict) -> dict:
    """What results.json says: the task and how it was scored, what it trained on (`held_out` of the training
    samples kept back to validate on), the settings, the pretrained network, for detection the `detector`
    (and its proposals), the final metrics (per-class APs included)."""
    final = history[-1] if history else {}
    return json_safe({"task": task.task.name, "evaluation": task.task.evaluation, "mode": config.mode, "model": name, "classes": len(task.classes),
            "train_samples": len(task.train) - held_out, "held_out_samples": held_out,
            "held_out": held_out_how(held_out, len(task.train), config.val_fraction),
            "pretrained": pretrained_on.get("checkpoint", "random init"),
            "pretrain_labels_recipe": pretrained_on.get("labels_recipe", ""),
            "pretrain_labels_hash": pretrained_on.get("labels_hash", ""), "task_hash": task_hash, **task.notes, **detector,
            "settings": settings(config, task),
            "output_dir": str(output), "minutes": minutes,
            **{k: v for k, v in final.items() if k.startswith(("test_", "val_"))}})


def held_out_how(held_out: int, samples: int, fraction: float) -> str:
    """How results.json says what part of the training split was held out to validate on."""
    if not held_out:
        return f"none: all {samples} training samples trained on (--val-fraction 0)"
    return (f"{held_out} of the {samples} training samples (--val-fraction {fraction}), chosen by a fixed hash of their "
            "positions (the same for every seed), validated on after each epoch and not trained on")


CROP_SIZES = ("train_crop_size", "val_resize_size", "val_crop_size", "min_scale", "test_crops")
PATCHES_SKIP = ("val_resize_size", "min_scale", "test_crops", "min_size", "max_size")  # patches are resized whole


def settings(config: FinetuneConfig, task: Samples) -> dict:
    """The settings that made the run (`settings.defining`), as flags; only the image sizes the task's kind
    (and head) reads."""
    skip = (CROP_SIZES if task.task.kind == "detection" else PATCHES_SKIP + ("detector",) if config.head == "oquab"
            else ("min_size", "max_size", "detector"))
    words = words_of(FinetuneConfig)
    return {words[k]: v for k, v in defining(config).items() if k not in skip}


def json_safe(value):
    """`value` with NaN (an AP the devkit leaves undefined) as None, which JSON can hold."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return None if isinstance(value, float) and value != value else value
