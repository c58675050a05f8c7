"""PASCAL VOC average precision, equal to the VOC devkits on any input: classification (VOCevalcls.m),
action classification (VOCevalaction.m) and detection (VOCevaldet.m); and, where asked, to
py-faster-rcnn's Python port of the detection evaluation (lib/datasets/voc_eval.py).

Two rules turn a ranking into AP:
  voc07  the VOC 2007 devkit's 11-point rule: the mean over thresholds t = 0:0.1:1 of the highest
         precision at recall >= t. The thresholds are the doubles k * 0.1, as Octave builds 0:0.1:1 and
         numpy's arange(0, 1.1, 0.1) does: 0.3 is 0.30000000000000004, so a recall of exactly 3/10 does not
         reach it (nor 6/10, 7/10).
  voc12  the VOC 2010-2012 devkits' area under the precision envelope (VOCap.m).

And two references, where they differ (detection only; the classification rules exist in the devkit only):
  devkit          a detection matches an object at overlap >= 0.5; detections of equal score keep their
                  input order (MATLAB's sort is stable); a precision of 0/0 is NaN, which MATLAB's max skips.
  py-faster-rcnn  a match needs overlap > 0.5; equal scores come in numpy's (unstable) argsort order;
                  precision is tp / max(tp + fp, eps).

Boxes are in VOC's pixel convention: (xmin, ymin, xmax, ymax), 1-based and inclusive, so a box is
xmax - xmin + 1 pixels wide.
"""

from __future__ import annotations

import math

import numpy as np

RULES = ("voc07", "voc12")
REFERENCES = ("devkit", "py-faster-rcnn")
THRESHOLDS = np.arange(0.0, 1.1, 0.1)  # MATLAB's 0:0.1:1 as the devkit runs under Octave


def nan_skipping_max(values: np.ndarray) -> float:
    """MATLAB's max of a vector: NaNs skipped; NaN when all are NaN. (An empty vector is the caller's case.)"""
    kept = values[~np.isnan(values)]
    return float(kept.max()) if len(kept) else math.nan


def average_precision(recall: np.ndarray, precision: np.ndarray, rule: str = "voc07", reference: str = "devkit") -> float:
    """AP of a ranking's cumulative recall and precision by `rule` ('voc07' 11-point, 'voc12' area)."""
    recall, precision = np.asarray(recall, dtype=np.float64), np.asarray(precision, dtype=np.float64)
    if rule == "voc07":
        ap = 0.0
        for t in THRESHOLDS:
            reached = precision[recall >= t]
            if not len(reached):
                p = 0.0
            else:
                p = nan_skipping_max(reached) if reference == "devkit" else float(np.max(reached))
            ap = ap + p / 11
        return ap
    if rule != "voc12":
        raise ValueError(f"Unknown AP rule {rule!r}: choose one of {', '.join(RULES)}.")
    envelope = np.fmax if reference == "devkit" else np.maximum  # MATLAB's max skips NaN, numpy's keeps it
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = envelope(mpre[i], mpre[i + 1])
    changes = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[changes] - mrec[changes - 1]) * mpre[changes]))


def recall_precision(tp: np.ndarray, fp: np.ndarray, positives: int, reference: str = "devkit") -> tuple[np.ndarray, np.ndarray]:
    """Cumulative recall and precision of a ranking whose entries are true positives `tp`, false positives
    `fp` or neither (both 0), with `positives` objects (or images) to find."""
    tp, fp = np.cumsum(tp, dtype=np.float64), np.cumsum(fp, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp / positives
        precision = tp / (tp + fp) if reference == "devkit" else tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return recall, precision


def descending(scores: np.ndarray, reference: str = "devkit") -> np.ndarray:
    """The order of `scores` from the highest: equal scores in input order (devkit), or numpy's default
    argsort order (py-faster-rcnn, which is not stable)."""
    negated = -np.asarray(scores, dtype=np.float64)
    return np.argsort(negated, kind="stable") if reference == "devkit" else np.argsort(negated)


def classification_ap(scores, truth, rule: str = "voc07") -> float:
    """AP of one class (or action) from a score per image (or person) and its ground truth: 1 present,
    -1 absent, 0 ignored (VOC's `difficult`-only images). VOCevalcls.m (rule voc07 in the 2007 devkit,
    voc12 from 2010) and VOCevalaction.m (voc12)."""
    truth = np.asarray(truth)
    ranked = truth[descending(scores)]
    recall, precision = recall_precision(ranked > 0, ranked < 0, int((truth > 0).sum()))
    return average_precision(recall, precision, rule)


def best_match(box: np.ndarray, boxes: np.ndarray, reference: str) -> tuple[float, int]:
    """The highest overlap (intersection over union, VOC's inclusive pixels) of `box` with `boxes`, and
    which object has it (the first of equals); -inf when there is none to match.

    The devkit looks only at objects the box intersects (both sides of the intersection at least one
    pixel) and keeps the first strict maximum; voc_eval.py clips the sides at 0 and takes numpy's max."""
    if not len(boxes):
        return -math.inf, -1
    iw = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]) + 1
    ih = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]) + 1
    if reference != "devkit":
        iw, ih = np.maximum(iw, 0.0), np.maximum(ih, 0.0)
    area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    union = area + (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1) - iw * ih
    with np.errstate(divide="ignore", invalid="ignore"):
        overlaps = iw * ih / union
    if reference != "devkit":
        return float(overlaps.max()), int(overlaps.argmax())
    candidates = np.flatnonzero((iw > 0) & (ih > 0) & ~np.isnan(overlaps))  # NaN > ovmax is false in MATLAB
    if not len(candidates):
        return -math.inf, -1
    best = candidates[np.argmax(overlaps[candidates])]
    return float(overlaps[best]), int(best)


def detection_ap(images, scores, boxes, truth: dict, rule: str = "voc07", reference: str = "devkit",
                 min_overlap: float = 0.5) -> float:
    """AP of one class's detections: `images` (the image of each detection), `scores`, `boxes` (n, 4) and
    `truth`, image -> (boxes (m, 4), difficult (m,)) of that class for every test image (no objects: m = 0).

    Highest score first, each detection takes the object it overlaps most; at `min_overlap` or more
    (more than it, py-faster-rcnn) it is a true positive, unless that object was found already (a false
    positive) or is `difficult` (neither); below it, a false positive. Recall counts the non-difficult objects.
    """
    if reference not in REFERENCES:
        raise ValueError(f"Unknown reference {reference!r}: choose one of {', '.join(REFERENCES)}.")
    scores = np.asarray(scores, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    objects = {image: (np.asarray(b, dtype=np.float64).reshape(-1, 4), np.asarray(d, dtype=bool)) for image, (b, d) in truth.items()}
    found = {image: np.zeros(len(d), dtype=bool) for image, (_, d) in objects.items()}
    positives = sum(int((~difficult).sum()) for _, difficult in objects.values())
    order = descending(scores, reference)
    tp, fp = np.zeros(len(order)), np.zeros(len(order))
    for rank, d in enumerate(order):
        image = images[d]
        if image not in objects:
            raise ValueError(f"A detection names image {image!r}, which is not among the test images.")
        gt_boxes, difficult = objects[image]
        overlap, j = best_match(boxes[d], gt_boxes, reference)
        if overlap >= min_overlap if reference == "devkit" else overlap > min_overlap:
            if difficult[j]:
                continue
            if found[image][j]:
                fp[rank] = 1  # a second detection of an object found already
            else:
                tp[rank], found[image][j] = 1, True
        else:
            fp[rank] = 1
    recall, precision = recall_precision(tp, fp, positives, reference)
    return average_precision(recall, precision, rule, reference)


def mean_ap(aps: list[float], counted: list[bool]) -> float:
    """The mean of the APs of the classes `counted` (those with ground truth to find); NaN when none is."""
    kept = [ap for ap, keep in zip(aps, counted) if keep]
    return sum(kept) / len(kept) if kept else math.nan
