"""`python -m train finetune`: transfer a pretrained network to a task (`tasks/`).

--mode linear: the pretrained features stay frozen (batch-norm statistics included) and only a new linear
classifier learns: the linear-classifier regime. --mode full: every layer learns, the pretrained ones at
--backbone-lr-scale times the LR of the new layers; with --random-init (the scratch baseline) all at the
full LR. Detection (voc07-det) builds a Faster R-CNN on the network (`detection.py`), always in full mode.

Read top to bottom: settings, data, model, optimiser, resume, loop (train, validate, checkpoint, log),
test once at the end (or every epoch with --test-every-epoch), results.json.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from curate.fileio import atomic_path
from train import checkpoint, distributed
from train.config import FinetuneConfig, check, explicit, flag
from train.data.loaders import FileDataset, eval_transform, make_loader, set_epoch, train_transform
from train.detection import DetectionDataset, build_detector, collate, detect, detection_step, score_detections
from train.distributed import print0
from train.errors import TrainError
from train.loops import AMP_DTYPES, classification_step, evaluate, train_one_epoch
from train.metrics import multilabel_loss
from train.models import ScoreLayer, backbone, build_model, check_input_size, check_model, feature_dim, set_classifier
from train.output import check_folder, default_folder, make_folder, progress_bar, refuse_to_replace, write_log
from train.rng import seed_everything, set_rng_state
from train.schedule import continue_schedule, make_scheduler
from train.tasks import SETTINGS, Task, hold_out, load_task


class LinearProbe(nn.Module):
    """Frozen features (kept in eval mode, so batch-norm statistics stay) and a new linear classifier.

    The features are standardised by a batch norm without affine parameters before the classifier, as in
    MAE's linear probing (He et al. 2022): still a linear map at test time, but one whose learning rate does
    not depend on the scale of the features, which differs wildly between networks (and untrained ones)."""

    def __init__(self, features: nn.Module, head: nn.Linear):
        super().__init__()
        self.features = features
        self.head = nn.Sequential(nn.BatchNorm1d(head.in_features, affine=False), head)
        self.features.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.features.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            features = self.features(x)
        return self.head(features.float())


def settled(config: FinetuneConfig, given: frozenset[str]) -> FinetuneConfig:
    """`config` with the task's own defaults (`tasks.SETTINGS`) where the caller gave no value, and the
    mode decided; a combination no run can use is an error."""
    config = replace(config, **{k: v for k, v in SETTINGS.get(config.task, {}).items() if k not in given})
    if config.mode is None:
        config = replace(config, mode="full" if config.random_init else "linear")
    if config.random_init and "backbone_lr_scale" in given:
        raise TrainError("--random-init trains every layer at the full LR (there are no pretrained layers): "
                         "leave --backbone-lr-scale out.")
    if config.task == "voc07-det" and config.mode != "full":
        raise TrainError("voc07-det trains the whole detector: --mode linear is for the classification tasks.")
    if config.task == "voc07-det" and config.test_crops != "center":
        raise TrainError("--test-crops does not apply to voc07-det, which detects on whole images.")
    if config.task == "voc07-det" and config.compile:
        raise TrainError("--compile does not apply to voc07-det, whose images come in many sizes.")
    return config


def starting_network(config: FinetuneConfig, given: frozenset[str], saved: dict | None) -> tuple[nn.Module, str, dict]:
    """The network to transfer: the pretrain checkpoint's (its weights), an untrained --model (the
    baseline), or for a resumed run an untrained one of its model (the checkpoint's weights come later).
    Also its model name and what it was pretrained on."""
    if saved is not None:
        started_from = saved["pretrained"].get("checkpoint")
        if config.checkpoint is not None and str(config.checkpoint) != started_from:
            raise TrainError(f"--checkpoint {config.checkpoint} contradicts {config.resume}, which fine-tunes "
                             f"{started_from or 'a random init'}: leave --checkpoint out, or start a new run.")
        return build_model(saved["model_name"], 1), saved["model_name"], saved["pretrained"]
    if config.random_init:
        name = check_model(config.model)
        return build_model(name, 1), name, {"labels_recipe": "none (random init)"}
    if config.checkpoint is None:
        raise TrainError("finetune needs --checkpoint (a pretrain checkpoint), "
                         "or --random-init --model NAME for the baseline.")
    model, pretrained = checkpoint.pretrained_model(config.checkpoint)
    if "model" in given and config.model != pretrained["model_name"]:
        raise TrainError(f"--model {config.model} contradicts {config.checkpoint}, which holds a {pretrained['model_name']} "
                         "network: leave --model out (the network comes from the checkpoint).")
    return model, pretrained["model_name"], {**pretrained["data"], "checkpoint": str(config.checkpoint)}


def task_model(task: Task, network: nn.Module, name: str, config: FinetuneConfig, pretrained: bool) -> nn.Module:
    """The network made into the model of the task: a detector, a linear probe, or the network with a new
    classifier."""
    if task.kind == "detection":
        return build_detector(network, name, len(task.classes), config.min_size, config.max_size, pretrained)
    check_input_size(network, name, min(config.train_crop_size, config.val_crop_size))
    head = ScoreLayer(feature_dim(network, name), len(task.classes))
    if config.mode == "linear":
        return LinearProbe(backbone(network, name), head)
    set_classifier(network, name, head)
    return network


def parameter_groups(model: nn.Module, pretrained: set[int], config: FinetuneConfig) -> list[dict]:
    """The trainable parameters: those that came pretrained at --lr times --backbone-lr-scale (1 with
    --random-init), the new ones at --lr."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    scale = 1.0 if config.random_init else config.backbone_lr_scale
    old = [p for p in trainable if id(p) in pretrained]
    groups = [{"params": [p for p in trainable if id(p) not in pretrained]}]
    return ([{"params": old, "lr": config.lr * scale}] if old else []) + groups


def loaders(task: Task, splits: dict, config: FinetuneConfig, run: distributed.Dist) -> dict:
    """A loader for each split: detection images whole (flipped in training), classification images
    cropped (training: random-resized crops; else resized and centre-cropped)."""
    result = {}
    for name, split in splits.items():
        train = name == "train"
        if task.kind == "detection":
            dataset, collate_fn = DetectionDataset(split, task.classes, train, config.seed), collate
        else:
            transform = (train_transform(config.train_crop_size, config.min_scale, config.seed) if train
                         else eval_transform(config.val_resize_size, config.val_crop_size, crops=config.test_crops))
            dataset, collate_fn = FileDataset(split.files, split.targets, transform, split.regions), None
        result[name] = make_loader(dataset, config.batch_size, config.workers, train, run.rank, run.world_size,
                                   config.seed, collate_fn)
    return result


def scorer(task: Task, model: nn.Module, splits: dict, loaders: dict, run: distributed.Dist, amp_dtype):
    """score(split name) -> the task's metrics on that split: top-1, or AP per class and their mean."""

    def score(name: str) -> dict:
        if task.kind == "detection":
            found = detect(model, loaders[name], run.device, amp_dtype)
            return score_detections(found, splits[name], task.classes, task.rule)
        metrics = evaluate(model, loaders[name], run.device, amp_dtype, False, task.rule if task.kind == "map" else None)
        return {**metrics, "ap": dict(zip(task.classes, metrics["ap"]))} if "ap" in metrics else metrics

    return score


def check_images(task: Task) -> None:
    files = task.train.files + task.test.files
    missing = [f for f in dict.fromkeys(files) if not f.is_file()]
    if missing:
        raise TrainError(f"{len(missing)} of the {len(set(files))} images of the {task.name} task are missing "
                         f"(for example {missing[0]}).")


def run(config: FinetuneConfig, given: frozenset[str] | None = None) -> dict | None:
    """Fine-tune; return the test metrics (also in OUTPUT_DIR/results.json, checkpoint.pt and
    metrics.jsonl) on rank 0."""
    check(config)
    given = explicit(config, given)
    saved = checkpoint.load(config.resume, "finetune") if config.resume else None
    if saved is not None:
        config = checkpoint.resumed_config(config, given, saved, Path(config.resume), checkpoint.FINETUNE_SETTINGS)
    else:
        config = settled(config, given)
    output = Path(config.output_dir or (Path(config.resume).parent if config.resume else default_folder("finetune")))
    check_folder(output)
    refuse_to_replace(output, config.resume, config.overwrite)
    run = distributed.setup(config.device)
    if saved is not None:
        checkpoint.check_world_size(saved, Path(config.resume), run.world_size)
    seed_everything(config.seed, run.rank, config.use_deterministic_algorithms)
    amp_dtype = AMP_DTYPES[config.amp_dtype] if config.amp else None

    # Data: the task's training split less a held-out validation share, and its test split.
    task = load_task(config.task, config.data, config.partition)
    check_images(task)
    task_hash = task.fingerprint()  # hashes every sample: once, not at every checkpoint
    if saved is not None and saved["task_hash"] != task_hash:
        raise TrainError(f"{config.resume} was fine-tuned on other {task.name} data than {config.data} holds "
                         "(its images or their labels differ): start a new run instead of --resume.")
    train_split, val_split = hold_out(task.train, config.val_fraction)
    splits = {"train": train_split, **({"val": val_split} if len(val_split) else {}), "test": task.test}

    # Model: the pretrained network made into the task's model; keep the plain module for state_dict(),
    # compile it, and wrap it in DDP for training only.
    network, name, pretrained_on = starting_network(config, given, saved)
    config = replace(config, model=name)
    pretrained = {id(p) for p in network.parameters()} if not config.random_init else set()
    raw_model = task_model(task, network, name, config, pretrained=not config.random_init).to(run.device)
    groups = parameter_groups(raw_model, pretrained, config)
    eval_model = torch.compile(raw_model) if config.compile else raw_model
    model = DDP(eval_model, device_ids=run.device_ids) if run.enabled else eval_model
    if task.kind == "detection":
        step = detection_step(model, run.device, amp_dtype)
    else:
        criterion = multilabel_loss if task.kind == "map" else nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        step = classification_step(model, criterion, run.device, amp_dtype)
    batches = loaders(task, splits, config, run)
    score = scorer(task, eval_model, splits, batches, run, amp_dtype)

    optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, weight_decay=config.wd, nesterov=config.nesterov)
    scaler = torch.amp.GradScaler(run.device.type, enabled=amp_dtype == torch.float16)
    start_epoch, history = 0, []
    if saved is None:
        scheduler = make_scheduler(optimizer, config)
    else:
        checkpoint.load_weights(raw_model, saved["model"], Path(config.resume))
        optimizer.load_state_dict(saved["optimizer"])
        start_epoch, history = saved["epoch"] + 1, saved["history"]
        scheduler, change = continue_schedule(optimizer, config, saved["lr_scheduler"], start_epoch, saved["config"]["epochs"])
        scaler.load_state_dict(saved["scaler"])
        set_rng_state(saved["rng"][run.rank])
        if change and run.is_main:
            print0(f"Note: {change}")
    quiet = config.quiet or not run.is_main
    if not quiet:
        print0(f"{task.name} ({config.mode}): {len(train_split)} training, {len(val_split)} validation and "
               f"{len(task.test)} test samples, {len(task.classes)} classes, from {pretrained_on.get('checkpoint', 'random init')}"
               + (f"; resumed after epoch {start_epoch}" if saved is not None else "") + f"; the run goes to {output}")

    started = time.perf_counter()
    with progress_bar(not quiet) as progress:
        for epoch in range(start_epoch, config.epochs):
            set_epoch(batches["train"], epoch)
            lr = optimizer.param_groups[-1]["lr"]
            train_metrics = train_one_epoch(model, step, optimizer, batches["train"], run.device, epoch, scaler, progress)
            scheduler.step()
            record = {"epoch": epoch + 1, "lr": lr, **{f"train_{k}": v for k, v in train_metrics.items()}}
            for split in ["val"] * ("val" in splits) + ["test"] * (config.test_every_epoch or epoch == config.epochs - 1):
                record.update({f"{split}_{k}": v for k, v in score(split).items()})  # every rank: evaluation gathers
            history.append(record)
            if not quiet:
                progress.console.print(epoch_line(record, config.epochs), highlight=False)
            rng = checkpoint.every_rank_rng_state(run)
            if run.is_main:
                make_folder(output)
                checkpoint.save(output / "checkpoint.pt", kind="finetune", model=raw_model.state_dict(),
                                optimizer=optimizer.state_dict(), lr_scheduler=scheduler.state_dict(),
                                scaler=scaler.state_dict(), epoch=epoch, rng=rng, model_name=name,
                                classes=list(task.classes), task_hash=task_hash, pretrained=pretrained_on,
                                config=checkpoint.config_record(config), history=history)
                write_log(output / "metrics.jsonl", [scalars(r) for r in history])
    result = results(task, task_hash, config, name, pretrained_on, history, output, (time.perf_counter() - started) / 60)
    if run.is_main:
        with atomic_path(output / "results.json") as tmp:
            tmp.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    distributed.cleanup()
    return result if run.is_main else None


def scalars(record: dict) -> dict:
    """An epoch's record without its per-class APs: one short line of metrics.jsonl."""
    return {key: value for key, value in record.items() if not isinstance(value, (dict, list))}


def epoch_line(record: dict, epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"lr {record['lr']:.4g}", f"loss {record['train_loss']:.4f}"]
    for split in ("val", "test"):
        if f"{split}_map" in record:
            parts.append(f"{split} mAP {record[f'{split}_map']:.1f}")
        elif f"{split}_top1" in record:
            parts.append(f"{split} top-1 {record[f'{split}_top1']:.1f}%")
    return "  ".join(parts)


def results(task: Task, task_hash: str, config: FinetuneConfig, name: str, pretrained_on: dict, history: list[dict],
            output: Path, minutes: float) -> dict:
    """What results.json says: the task and how it was scored, the settings, the pretrained network, the
    final metrics (per-class APs included)."""
    final = history[-1] if history else {}
    evaluation = {"top1": "top-1 accuracy (percent)",
                  "map": f"mean over classes of the VOC AP ({task.rule} rule, VOCevalcls.m / VOCevalaction.m), percent",
                  "detection": f"mean over classes of the VOC detection AP ({task.rule} rule, VOCevaldet.m: overlap >= 0.5, "
                               "difficult objects ignored), percent"}[task.kind]
    return json_safe({"task": task.name, "evaluation": evaluation, "mode": config.mode, "model": name, "classes": len(task.classes),
            "pretrained": pretrained_on.get("checkpoint", "random init"),
            "pretrain_labels_recipe": pretrained_on.get("labels_recipe", ""),
            "pretrain_labels_hash": pretrained_on.get("labels_hash", ""), "task_hash": task_hash, **task.notes,
            "settings": settings(config, task),
            "output_dir": str(output), "minutes": minutes,
            **{k: v for k, v in final.items() if k.startswith(("test_", "val_"))}})


CROP_SIZES = ("train_crop_size", "val_resize_size", "val_crop_size", "min_scale", "test_crops")


def settings(config: FinetuneConfig, task: Task) -> dict:
    """The settings that made the run, as flags: those a resumed run keeps, and --epochs; only the image
    sizes the task's kind reads."""
    skip = CROP_SIZES if task.kind == "detection" else ("min_size", "max_size")
    chosen = [k for k in checkpoint.FINETUNE_SETTINGS + ("epochs",) if k not in skip]
    return {flag(k): getattr(config, k) for k in chosen}


def json_safe(value):
    """`value` with NaN (an AP the devkit leaves undefined) as None, which JSON can hold."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return None if isinstance(value, float) and value != value else value
