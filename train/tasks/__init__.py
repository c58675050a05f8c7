"""The transfer tasks `finetune` trains on: one row of `TASKS` each, holding everything the code knows about
the task; a module per layout reads its data (`Samples`).

    TASK["voc07-det"].load(root, config)  -> Samples: the classes, the train and test splits

Adding a task is adding a row (its reader beside the others): the flags' choices and help, the task's own
defaults, the grid's cost, the report's paper names and results.json all read the table.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from curate.seeded import uniforms
from train.errors import TrainError

KINDS = ("top1", "map", "detection")  # single-label, multi-label (one 1/-1/0 flag per class), boxes
EVALUATION = {  # how each kind is scored, as results.json says it ({rule}: the task's AP rule)
    "top1": "top-1 accuracy (percent)",
    "map": "mean over classes of the VOC AP ({rule} rule, VOCevalcls.m / VOCevalaction.m), percent",
    "detection": "mean over classes of the VOC detection AP ({rule} rule, VOCevaldet.m: overlap >= 0.5, difficult "
                 "objects ignored), percent",
}


@dataclass(frozen=True)
class Task:
    """A transfer task: how its data is read and scored, and what defaults it brings."""

    name: str
    about: str  # one line for --task's help
    data: str  # what --data names for it
    kind: str  # one of KINDS
    reader: str  # "module:function" in train.tasks: (root, config) -> (classes, train split, test split, notes)
    rule: str = ""  # the AP rule of a "map" or "detection" task: voc07 (11-point) or voc12 (area)
    defaults: dict = field(default_factory=dict)  # its own defaults, where they differ from finetune's
    defaults_by: dict = field(default_factory=dict)  # setting -> its value -> more defaults of the task with that value
    train_images: int | None = None  # training samples, for a plan's cost before the data is at hand
    paper: str | None = None  # the papers' name for the task (published.csv's)
    heads: tuple[str, ...] = ("linear",)  # the new layers it can train (config.HEADS): "oquab" needs the objects' boxes

    @property
    def evaluation(self) -> str:
        return EVALUATION[self.kind].format(rule=self.rule)

    def defaults_for(self, config) -> dict:
        """The task's own defaults for a run of `config`: its `defaults`, and those its settings' values bring."""
        own = dict(self.defaults)
        for name, by_value in self.defaults_by.items():
            own.update(by_value.get(getattr(config, name), {}))
        return own

    def load(self, root: Path, config) -> Samples:
        """The task's data under `root` (`config`: the fine-tune's settings, for the few a reader needs)."""
        module, function = self.reader.split(":")
        classes, train, test, notes = getattr(importlib.import_module(f"train.tasks.{module}"), function)(Path(root), config)
        return Samples(self, list(classes), train, test, notes)


# The per-parameter multipliers of the Fast R-CNN family's prototxts (fast-rcnn's models/CaffeNet/train.prototxt,
# R*CNN's action prototxts): every pretrained layer learns at the base LR (lr_mult 1; fast-rcnn freezes conv1,
# `detection.py`), biases at twice it without weight decay (lr_mult 2, decay_mult 0), new layers (cls_score,
# bbox_pred) likewise; and they train on the whole training set, holding none of it out.
FAST_RCNN = {"backbone_lr_scale": 1.0, "bias_lr_scale": 2.0, "bias_weight_decay": 0.0, "val_fraction": 0.0}
# Detection follows its detector's recipe for VOC 2007, at LR 0.001, momentum 0.9, weight decay 5e-4, shorter
# side 600 (longer at most 1000): py-faster-rcnn's end-to-end Faster R-CNN takes one image a step, the LR
# decayed after 50k of 70k iterations over the flipped trainval (about 10 and 14 epochs of random flips);
# fast-rcnn's CaffeNet solver two images a step, decayed after 30k of 40k iterations (about 12 and 16
# epochs). Action classification trains every layer, as the paper fine-tunes.
DETECTOR_DEFAULTS = {"faster-rcnn": {"batch_size": 1, "epochs": 14, "lr_step_size": 10},
                     "fast-rcnn": {"batch_size": 2, "epochs": 16, "lr_step_size": 12}}
TASKS = (
    Task("imagefolder", "train/ and val/ (or test/) class folders; top-1", "a folder with train/ and val/ class folders",
         "top1", "folders:imagefolder"),
    Task("sun397", "SUN397 by its official partition files (--partition); top-1", "a folder with SUN397/ and Partitions/",
         "top1", "sun397:sun397", train_images=19850, paper="SUN-CLS"),
    Task("voc07-cls", "PASCAL VOC 2007 classification, trainval -> test; mean AP (VOC 2007 11-point rule)",
         "the folder holding VOCdevkit/VOC2007 (or that folder)", "map", "voc:voc07_classification", rule="voc07",
         train_images=5011, heads=("linear", "oquab")),
    Task("voc12-cls", "PASCAL VOC 2012 classification, train -> val (the test set is scored only on the VOC server); "
         "mean AP (area rule)", "the folder holding VOCdevkit/VOC2012 (or that folder)", "map", "voc:voc12_classification",
         rule="voc12", train_images=5717, paper="VOC12-CLS", heads=("linear", "oquab")),
    Task("voc07-det", "PASCAL VOC 2007 detection (--detector), trainval -> test; mean AP (11-point rule)",
         "the folder holding VOCdevkit/VOC2007 (or that folder)", "detection", "voc:voc07_detection", rule="voc07",
         defaults={"mode": "full", "lr": 0.001, "wd": 5e-4, **FAST_RCNN}, defaults_by={"detector": DETECTOR_DEFAULTS},
         train_images=5011, paper="PASCAL-DET"),
    Task("voc12-action", "PASCAL VOC 2012 action classification of person boxes, train -> val; mean AP (area rule)",
         "the folder holding VOCdevkit/VOC2012 (or that folder)", "map", "voc:voc12_action", rule="voc12",
         defaults={"mode": "full", "epochs": 20, "lr": 0.001, "lr_step_size": 15, "wd": 5e-4, **FAST_RCNN},
         train_images=2296, paper="PASCAL-ACT-CLS"),
)
TASK = {task.name: task for task in TASKS}


@dataclass
class Split:
    """The samples of one split: an image file each, its target, its name, for tasks that classify a
    region of the image (the person of an action) that region as a VOC box (xmin, ymin, xmax, ymax), and
    where training needs them (`head` oquab) each image's objects (`voc.Annotation`)."""

    files: list[Path]
    targets: list
    ids: list[str]
    regions: list[tuple[float, float, float, float]] | None = None
    annotations: list | None = None

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, positions) -> Split:
        pick = [int(p) for p in positions]
        regions = [self.regions[p] for p in pick] if self.regions is not None else None
        annotations = [self.annotations[p] for p in pick] if self.annotations is not None else None
        return Split([self.files[p] for p in pick], [self.targets[p] for p in pick], [self.ids[p] for p in pick], regions,
                     annotations)


@dataclass
class Samples:
    """A task's data: its classes, its train and test splits, and what a result should say about how they
    were read."""

    task: Task
    classes: list[str]
    train: Split
    test: Split
    notes: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A hash of every sample's name and target: a resumed run checks it trains on the same task."""
        digest = hashlib.sha256(json.dumps([self.task.name, self.classes], sort_keys=True).encode())
        for split in (self.train, self.test):
            for sample_id, target in zip(split.ids, split.targets):
                digest.update(f"{sample_id}\t{json.dumps(target, sort_keys=True, default=str)}\n".encode())
        return "sha256:" + digest.hexdigest()

    def check_files(self) -> None:
        files = self.train.files + self.test.files
        missing = [f for f in dict.fromkeys(files) if not f.is_file()]
        if missing:
            raise TrainError(f"{len(missing)} of the {len(set(files))} images of the {self.task.name} task are missing "
                             f"(for example {missing[0]}).")


HOLD_OUT_KEY = 0x7A11  # fixed, so every run (any --seed) holds out the same validation samples


def hold_out(split: Split, fraction: float) -> tuple[Split, Split]:
    """The split without a validation share, and that share: `fraction` of its samples (at least one when
    the fraction is above 0, and never all), chosen by a fixed hash of their positions."""
    import numpy as np  # here, not above: the task table is read by --help, which needs no numpy

    count = min(len(split) - 1, max(1, round(fraction * len(split)))) if fraction > 0 else 0
    keys = uniforms(HOLD_OUT_KEY, 0, np.arange(len(split)), 1)[:, 0]
    held = np.sort(np.argsort(keys, kind="stable")[:count])
    kept = np.setdiff1d(np.arange(len(split)), held)
    return split.subset(kept), split.subset(held)
