"""The transfer tasks `finetune` trains on: one module per layout, each read into one `Task`.

  imagefolder   train/ and val/ (or test/) class folders; top-1                           folders.py
  sun397        SUN397 by its official Training_NN / Testing_NN partition files; top-1   sun397.py
  voc07-cls     PASCAL VOC 2007 classification, trainval -> test; mAP, 11-point rule    voc.py
  voc07-det     PASCAL VOC 2007 detection, trainval -> test; mAP, 11-point rule         voc.py
  voc12-action  PASCAL VOC 2012 action classification of the person boxes, train -> val
                (the test annotations are not public); mAP, area rule                   voc.py

A task also names its own defaults (`SETTINGS`): the ones a flag the user does not give takes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curate.seeded import uniforms

KINDS = ("top1", "map", "detection")  # single-label, multi-label (one 1/-1/0 flag per class), boxes


@dataclass
class Split:
    """The samples of one split: an image file each, its target, its name, and for tasks that classify a
    region of the image (the person of an action), that region as a VOC box (xmin, ymin, xmax, ymax)."""

    files: list[Path]
    targets: list
    ids: list[str]
    regions: list[tuple[float, float, float, float]] | None = None

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, positions) -> "Split":
        pick = [int(p) for p in positions]
        regions = [self.regions[p] for p in pick] if self.regions is not None else None
        return Split([self.files[p] for p in pick], [self.targets[p] for p in pick], [self.ids[p] for p in pick], regions)


@dataclass
class Task:
    name: str
    kind: str  # one of KINDS
    classes: list[str]
    train: Split
    test: Split
    rule: str = ""  # the AP rule of a "map" or "detection" task: voc07 (11-point) or voc12 (area)
    notes: dict = field(default_factory=dict)  # what a result should say about how the task was read

    def fingerprint(self) -> str:
        """A hash of every sample's name and target: a resumed run checks it trains on the same task."""
        digest = hashlib.sha256(json.dumps([self.name, self.classes], sort_keys=True).encode())
        for split in (self.train, self.test):
            for sample_id, target in zip(split.ids, split.targets):
                digest.update(f"{sample_id}\t{json.dumps(target, sort_keys=True, default=str)}\n".encode())
        return "sha256:" + digest.hexdigest()


HOLD_OUT_KEY = 0x7A11  # fixed, so every run (any --seed) holds out the same validation samples


def hold_out(split: Split, fraction: float) -> tuple[Split, Split]:
    """The split without a validation share, and that share: `fraction` of its samples (at least one when
    the fraction is above 0, and never all), chosen by a fixed hash of their positions."""
    count = min(len(split) - 1, max(1, round(fraction * len(split)))) if fraction > 0 else 0
    keys = uniforms(HOLD_OUT_KEY, 0, np.arange(len(split)), 1)[:, 0]
    held = np.sort(np.argsort(keys, kind="stable")[:count])
    kept = np.setdiff1d(np.arange(len(split)), held)
    return split.subset(kept), split.subset(held)


def load_task(name: str, data: Path, partition: int = 1) -> Task:
    from train.tasks import folders, sun397, voc

    readers = {"imagefolder": folders.imagefolder_task, "sun397": lambda root: sun397.sun397_task(root, partition),
               "voc07-cls": voc.voc07_classification, "voc07-det": voc.voc07_detection, "voc12-action": voc.voc12_action}
    return readers[name](Path(data))


TASKS = {  # name -> what --task says about it
    "imagefolder": "train/ and val/ (or test/) class folders; top-1",
    "sun397": "SUN397 by its official partition files (--partition); top-1",
    "voc07-cls": "PASCAL VOC 2007 classification, trainval -> test; mean AP (VOC 2007 11-point rule)",
    "voc07-det": "PASCAL VOC 2007 detection with Faster R-CNN, trainval -> test; mean AP (11-point rule)",
    "voc12-action": "PASCAL VOC 2012 action classification of person boxes, train -> val; mean AP (area rule)",
}

# The defaults of each task, where they differ from finetune's own. Detection follows py-faster-rcnn's
# end-to-end Faster R-CNN recipe for VOC 2007: one image a step, LR 0.001 for 50k of 70k iterations over
# the flipped trainval (about 10 and 14 epochs of random flips), weight decay 5e-4, shorter side 600
# (longer at most 1000). Action classification trains every layer, as the paper fine-tunes.
SETTINGS: dict[str, dict] = {
    "voc07-det": {"mode": "full", "batch_size": 1, "epochs": 14, "lr": 0.001, "lr_step_size": 10, "wd": 5e-4},
    "voc12-action": {"mode": "full", "epochs": 20, "lr": 0.001, "lr_step_size": 15, "wd": 5e-4},
}
