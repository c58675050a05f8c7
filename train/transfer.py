"""`python -m train finetune`: transfer a pretrained network to a task with a new classifier.

--mode linear: the pretrained features stay frozen (batch-norm statistics included) and only the new linear
classifier learns: the linear-classifier regime. --mode full: every layer learns, the pretrained ones at
--backbone-lr-scale times the LR of the new classifier.

Tasks: `imagefolder` (train/ and val/ class folders, top-1), `voc07-cls` (PASCAL VOC 2007 classification,
trainval -> test, mean AP by the VOC 2007 11-point rule, `difficult`-only images ignored per class),
`sun397` (the official Training_NN / Testing_NN partition files, top-1).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from curate.labels.classlists import PASCAL_VOC
from train import distributed
from train.data import FileDataset, eval_transform, make_loader, train_transform
from train.distributed import print0
from train.engine import (
    AMP_DTYPES, evaluate, load_checkpoint, load_model_state, make_output_dir, make_scheduler, progress_bar,
    save_checkpoint, seed_everything, train_one_epoch,
)
from train.errors import TrainError
from train.metrics import JsonLog, multilabel_loss
from train.models import (
    backbone, build_model, check_input_size, check_model, feature_dim, get_classifier, set_classifier,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
VOC_CLASSES = list(PASCAL_VOC)  # VOC's own order: aeroplane, bicycle, ..., tvmonitor


# --- the tasks: (train files, train targets), (test files, test targets), class names ----------------------


def imagefolder_task(root: Path):
    """`root`/train/<class>/<image> and `root`/val/<class>/<image> (or test/); classes in sorted order."""
    splits = [root / "train", root / "val" if (root / "val").is_dir() else root / "test"]
    for split in splits:
        if not split.is_dir():
            raise TrainError(f"imagefolder needs {root}/train and {root}/val (or test) class folders; {split} is missing.")
    classes = sorted(p.name for p in splits[0].iterdir() if p.is_dir())
    if not classes:
        raise TrainError(f"{splits[0]} holds no class folders.")
    index = {name: i for i, name in enumerate(classes)}
    result = []
    for split in splits:
        files, targets = [], []
        for folder in sorted(p for p in split.iterdir() if p.is_dir()):
            if folder.name not in index:
                raise TrainError(f"{folder} is a class that {splits[0]} does not have.")
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(file)
                    targets.append(index[folder.name])
        if not files:
            raise TrainError(f"{split} holds no .jpg, .jpeg or .png images.")
        result.append((files, targets))
    return result[0], result[1], classes


def voc07_task(root: Path):
    """VOC 2007 trainval -> test from the standard VOCdevkit/VOC2007 layout.

    Ground truth per class comes from ImageSets/Main/<class>_<set>.txt: 1 present, -1 absent, 0 only
    `difficult` objects of that class (ignored by the metric and the loss).
    """
    candidates = (root / "VOCdevkit" / "VOC2007", root / "VOC2007", root)
    voc = next((p for p in candidates if (p / "ImageSets" / "Main").is_dir()), None)
    if voc is None:
        raise TrainError(f"{root} holds no VOCdevkit/VOC2007/ImageSets/Main: point --data at the folder holding VOCdevkit.")
    result = []
    for split in ("trainval", "test"):
        truth: dict[str, list[int]] = {}
        for c, name in enumerate(VOC_CLASSES):
            path = voc / "ImageSets" / "Main" / f"{name}_{split}.txt"
            if not path.is_file():
                raise TrainError(f"{path} is missing: VOC 2007 {split} needs its per-class image sets "
                                 "(the test set is a separate download, VOCtest_06-Nov-2007.tar).")
            for line in path.read_text().split("\n"):
                if line.strip():
                    image_id, value = line.split()
                    truth.setdefault(image_id, [-1] * len(VOC_CLASSES))[c] = int(value)
        ids = sorted(truth)
        result.append(([voc / "JPEGImages" / f"{i}.jpg" for i in ids], [truth[i] for i in ids]))
    return result[0], result[1], VOC_CLASSES


def sun397_task(root: Path, partition: int):
    """SUN397 by its official partition files Training_NN.txt / Testing_NN.txt (lines like /a/abbey/sun_x.jpg)."""
    if not 1 <= partition <= 10:
        raise TrainError(f"--partition must be 1..10 (SUN397 has ten official partitions), not {partition}.")
    candidates = (root / "Partitions", root / "SUN397" / "Partitions", root)
    parts = next((p for p in candidates if (p / "Training_01.txt").is_file()), None)
    images = next((p for p in (root / "SUN397", root) if (p / "a").is_dir()), None)
    if parts is None or images is None:
        raise TrainError(f"{root} lacks the SUN397 layout: SUN397/<letter>/<class>/ images and Partitions/Training_01.txt.")
    lists = [(parts / f"{kind}_{partition:02d}.txt").read_text().split() for kind in ("Training", "Testing")]
    names_file = parts / "ClassName.txt"
    classes = names_file.read_text().split() if names_file.is_file() else sorted({line.rsplit("/", 1)[0] for line in lists[0]})
    index = {name: i for i, name in enumerate(classes)}
    result = []
    for lines in lists:
        result.append(([images / line.lstrip("/") for line in lines], [index[line.rsplit("/", 1)[0]] for line in lines]))
    return result[0], result[1], classes


def load_task(args):
    if args.task == "imagefolder":
        return imagefolder_task(args.data)
    if args.task == "voc07-cls":
        return voc07_task(args.data)
    return sun397_task(args.data, args.partition)


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


def main(args) -> dict | None:
    run = distributed.setup(args.device)
    seed_everything(args.seed, run.rank, args.use_deterministic_algorithms)
    amp_dtype = AMP_DTYPES[args.amp_dtype] if args.amp else None
    output = Path(args.output_dir) if args.output_dir else None
    if output is not None and run.is_main:
        make_output_dir(output)

    # The pretrained network (or an untrained one, the baseline), with a new classifier for the task.
    if args.random_init:
        name = check_model(args.model)
        pretrained = {"model_name": name, "data": {"labels_recipe": "none (random init)"}}
        model = build_model(name, 1)
    elif args.checkpoint is not None:
        pretrained = load_checkpoint(args.checkpoint, "pretrain")
        name = pretrained["model_name"]
        model = build_model(name, pretrained["num_classes"])
        load_model_state(model, pretrained["model"], args.checkpoint)
    else:
        raise TrainError("finetune needs --checkpoint (a pretrain checkpoint), "
                         "or --random-init --model NAME for the baseline.")
    (train_files, train_targets), (test_files, test_targets), classes = load_task(args)
    missing = [f for f in train_files + test_files if not f.is_file()]
    if missing:
        raise TrainError(f"{len(missing)} of the {len(train_files) + len(test_files)} images of the {args.task} task "
                         f"are missing (for example {missing[0]}).")
    check_input_size(model, name, min(args.train_crop_size, args.val_crop_size))
    multilabel = args.task == "voc07-cls"
    head = nn.Linear(feature_dim(model, name), len(classes))
    if args.mode == "linear":
        model = LinearProbe(backbone(model, name), head)
        groups = [{"params": head.parameters()}]
    else:
        set_classifier(model, name, head)
        new = set(id(p) for p in get_classifier(model, name).parameters())
        pretrained_layers = [p for p in model.parameters() if id(p) not in new]
        groups = [{"params": pretrained_layers, "lr": args.lr * args.backbone_lr_scale}, {"params": head.parameters()}]
    raw_model, eval_model, model = distributed.prepare_model(model, run, args.channels_last, args.compile)

    train_set = FileDataset(train_files, train_targets, train_transform(args.train_crop_size, args.min_scale))
    test_set = FileDataset(test_files, test_targets, eval_transform(args.val_resize_size, args.val_crop_size))
    train_loader = make_loader(train_set, args.batch_size, args.workers, True, run.rank, run.world_size, args.seed)
    test_loader = make_loader(test_set, args.batch_size, args.workers, False, run.rank, run.world_size)
    criterion = multilabel_loss if multilabel else nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    optimizer = torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum, weight_decay=args.wd, nesterov=args.nesterov)
    scheduler = make_scheduler(optimizer, args, args.epochs)
    scaler = torch.amp.GradScaler(run.device.type, enabled=amp_dtype == torch.float16)
    quiet = args.quiet or not run.is_main
    if not quiet:
        print0(f"{args.task} ({args.mode}): {len(train_set)} training and {len(test_set)} test images, "
               f"{len(classes)} classes, from {args.checkpoint or 'random init'}")

    log = JsonLog(output / "metrics.jsonl" if output is not None and run.is_main else None)
    started = time.perf_counter()
    metrics: dict = {}
    with progress_bar(not quiet) as progress:
        for epoch in range(args.epochs):
            train_loader.sampler.set_epoch(epoch)
            train_metrics = train_one_epoch(model, criterion, optimizer, train_loader, run.device, epoch, scaler,
                                            amp_dtype, args.channels_last, progress)
            scheduler.step()
            metrics = {}
            if epoch == args.epochs - 1 or not args.quiet:  # the same on every rank: evaluation gathers
                metrics = evaluate(eval_model, test_loader, run.device, amp_dtype, args.channels_last, multilabel)
            log.write(epoch=epoch, **{f"train_{k}": v for k, v in train_metrics.items()},
                      **{f"test_{k}": v for k, v in metrics.items()})
            if not quiet:
                score = f"test mAP {metrics['map']:.1f}" if multilabel else f"test top-1 {metrics['top1']:.1f}%"
                progress.console.print(f"epoch {epoch + 1}/{args.epochs}  loss {train_metrics['loss']:.4f}  {score}",
                                       highlight=False)
    result = {"task": args.task, "mode": args.mode, "model": name, "classes": len(classes),
              "pretrained": str(args.checkpoint) if args.checkpoint and not args.random_init else "random init",
              "pretrain_labels_recipe": pretrained["data"].get("labels_recipe", ""),
              "pretrain_labels_hash": pretrained["data"].get("labels_hash", ""),
              "minutes": (time.perf_counter() - started) / 60,
              **{f"test_{k}": v for k, v in metrics.items()}}
    if output is not None and run.is_main:
        save_checkpoint(output / "finetune.pt", kind="finetune", model=raw_model.state_dict(), model_name=name,
                        classes=list(classes), result=result)
    distributed.cleanup()
    return result if run.is_main else None
