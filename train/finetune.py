"""`python -m train finetune`: transfer a pretrained network to a task with a new classifier.

--mode linear: the pretrained features stay frozen (batch-norm statistics included) and only the new linear
classifier learns: the linear-classifier regime. --mode full: every layer learns, the pretrained ones at
--backbone-lr-scale times the LR of the new classifier. The tasks are in `tasks.py`.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from train import checkpoint, distributed
from train.config import FinetuneConfig, check, explicit
from train.data.loaders import FileDataset, eval_transform, make_loader, set_epoch, train_transform
from train.distributed import print0
from train.errors import TrainError
from train.loops import AMP_DTYPES, evaluate, train_one_epoch
from train.metrics import multilabel_loss
from train.models import backbone, build_model, check_input_size, check_model, feature_dim, get_classifier, set_classifier
from train.output import check_folder, default_folder, make_folder, progress_bar, refuse_to_replace, write_log
from train.rng import seed_everything
from train.schedule import make_scheduler
from train.tasks import MULTILABEL, load_task


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


def starting_network(config: FinetuneConfig, given: frozenset[str]) -> tuple[nn.Module, str, dict]:
    """The pretrained network of the checkpoint (or an untrained --model, the baseline), its model name,
    and what it was pretrained on."""
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
    return model, pretrained["model_name"], pretrained["data"]


def run(config: FinetuneConfig, given: frozenset[str] | None = None) -> dict | None:
    """Fine-tune; return the test metrics (also in OUTPUT_DIR/finetune.pt and metrics.jsonl) on rank 0."""
    check(config)
    output = Path(config.output_dir or default_folder("finetune"))
    check_folder(output)
    refuse_to_replace(output, "finetune.pt", None, config.overwrite)
    run = distributed.setup(config.device)
    seed_everything(config.seed, run.rank, config.use_deterministic_algorithms)
    amp_dtype = AMP_DTYPES[config.amp_dtype] if config.amp else None

    # The pretrained network (or an untrained one, the baseline), with a new classifier for the task.
    network, name, pretrained_on = starting_network(config, explicit(config, given))
    (train_files, train_targets), (test_files, test_targets), classes = load_task(config.task, config.data, config.partition)
    missing = [f for f in train_files + test_files if not f.is_file()]
    if missing:
        raise TrainError(f"{len(missing)} of the {len(train_files) + len(test_files)} images of the {config.task} task "
                         f"are missing (for example {missing[0]}).")
    check_input_size(network, name, min(config.train_crop_size, config.val_crop_size))
    multilabel = config.task in MULTILABEL
    head = nn.Linear(feature_dim(network, name), len(classes))
    if config.mode == "linear":
        network = LinearProbe(backbone(network, name), head)
        groups = [{"params": head.parameters()}]
    else:
        set_classifier(network, name, head)
        new = set(id(p) for p in get_classifier(network, name).parameters())
        pretrained_layers = [p for p in network.parameters() if id(p) not in new]
        groups = [{"params": pretrained_layers, "lr": config.lr * config.backbone_lr_scale}, {"params": head.parameters()}]
    # Keep the plain module for state_dict(); compile it; wrap it in DDP for training only.
    raw_model = network.to(run.device, memory_format=torch.channels_last if config.channels_last else torch.preserve_format)
    eval_model = torch.compile(raw_model) if config.compile else raw_model
    model = DDP(eval_model, device_ids=run.device_ids) if run.enabled else eval_model

    train_set = FileDataset(train_files, train_targets, train_transform(config.train_crop_size, config.min_scale, config.seed))
    test_set = FileDataset(test_files, test_targets, eval_transform(config.val_resize_size, config.val_crop_size))
    train_loader = make_loader(train_set, config.batch_size, config.workers, True, run.rank, run.world_size, config.seed)
    test_loader = make_loader(test_set, config.batch_size, config.workers, False, run.rank, run.world_size)
    criterion = multilabel_loss if multilabel else nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, weight_decay=config.wd, nesterov=config.nesterov)
    scheduler = make_scheduler(optimizer, config)
    scaler = torch.amp.GradScaler(run.device.type, enabled=amp_dtype == torch.float16)
    quiet = config.quiet or not run.is_main
    if not quiet:
        print0(f"{config.task} ({config.mode}): {len(train_set)} training and {len(test_set)} test images, "
               f"{len(classes)} classes, from {config.checkpoint or 'random init'}")

    history: list[dict] = []
    started = time.perf_counter()
    metrics: dict = {}
    with progress_bar(not quiet) as progress:
        for epoch in range(config.epochs):
            set_epoch(train_loader, epoch)
            train_metrics = train_one_epoch(model, criterion, optimizer, train_loader, run.device, epoch, scaler,
                                            amp_dtype, config.channels_last, progress)
            scheduler.step()
            metrics = {}
            if epoch == config.epochs - 1 or not config.quiet:  # the same on every rank: evaluation gathers
                metrics = evaluate(eval_model, test_loader, run.device, amp_dtype, config.channels_last, multilabel)
            history.append({"epoch": epoch + 1, **{f"train_{k}": v for k, v in train_metrics.items()},
                            **{f"test_{k}": v for k, v in metrics.items()}})
            if not quiet:
                score = f"test mAP {metrics['map']:.1f}" if multilabel else f"test top-1 {metrics['top1']:.1f}%"
                progress.console.print(f"epoch {epoch + 1}/{config.epochs}  loss {train_metrics['loss']:.4f}  {score}",
                                       highlight=False)
    result = {"task": config.task, "mode": config.mode, "model": name, "classes": len(classes),
              "pretrained": str(config.checkpoint) if config.checkpoint and not config.random_init else "random init",
              "pretrain_labels_recipe": pretrained_on.get("labels_recipe", ""),
              "pretrain_labels_hash": pretrained_on.get("labels_hash", ""),
              "output_dir": str(output), "minutes": (time.perf_counter() - started) / 60,
              **{f"test_{k}": v for k, v in metrics.items()}}
    if run.is_main:
        make_folder(output)
        checkpoint.save(output / "finetune.pt", kind="finetune", model=raw_model.state_dict(), model_name=name,
                        classes=list(classes), result=result)
        write_log(output / "metrics.jsonl", history)
    distributed.cleanup()
    return result if run.is_main else None
