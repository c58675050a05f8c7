"""The VOC evaluation against cases worked out by hand from the devkits' code (VOCevalcls.m,
VOCevaldet.m, VOCap.m) and py-faster-rcnn's voc_eval.py. tools/compare_voc_eval.py runs the references
themselves on random cases; these pin the edges: recall on a threshold, overlap on 0.5, duplicates,
`difficult` objects, empty classes, ties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from train.voc_eval import classification_ap, detection_ap, mean_ap


def eleven_point(values: list[float]) -> float:
    """The 11-point AP of the precisions at t = 0, .1, ..., 1, summed in the devkit's order."""
    ap = 0.0
    for p in values:
        ap = ap + p / 11
    return ap


def test_classification_ap_equals_the_hand_worked_example():
    # Ranked: TP, FP, TP, ignored, FP, TP. Precision at recall 1/3: 1; at 2/3: 2/3; at 1: 3/5.
    # Recall 1/3 (0.333...) reaches t = 0.3 and 2/3 reaches t = 0.6 (0.6000000000000001 < 0.6666).
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    truth = [1, -1, 1, 0, -1, 1]
    hand = eleven_point([1] * 4 + [2 / 3] * 3 + [3 / 5] * 4)
    assert classification_ap(scores, truth) == hand
    assert classification_ap(scores[::-1], truth[::-1]) == hand  # the input's order does not matter
    assert classification_ap([3.0, 2.0, 1.0, 0.0], [1, 0, 1, -1]) == pytest.approx(1.0)


@pytest.mark.parametrize("hits, low", [(3, 3), (6, 6), (7, 7)])
def test_a_recall_exactly_on_a_threshold_does_not_reach_it(hits, low):
    """Ten positives: the first `hits` ranked first (recall exactly hits/10), then ten negatives, then the
    rest. 0:0.1:1 holds 0.30000000000000004, 0.6000000000000001 and 0.7000000000000001, above the doubles
    3/10, 6/10 and 7/10: so t = 0.3 (0.6, 0.7) takes the best precision after the negatives, not 1.
    (Thresholds of i/10 with a tolerance, as this module had, give 1 there.)"""
    truth = [1] * hits + [-1] * 10 + [1] * (10 - hits)
    scores = list(range(len(truth), 0, -1))
    late = 10 / 20  # the best precision once the negatives are ranked: at the last positive
    hand = eleven_point([1] * low + [late] * (11 - low))
    assert classification_ap(scores, truth) == hand


def test_the_area_rule_takes_the_precision_envelope():
    # TP, FP, TP over 2 positives: recall .5, .5, 1; precision 1, 1/2, 2/3 -> envelope 1, 2/3, 2/3.
    assert classification_ap([3, 2, 1], [1, -1, 1], rule="voc12") == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # FP, TP, TP, TP: precision 0, 1/2, 2/3, 3/4 rises, so the envelope is 3/4 at every recall.
    assert classification_ap([4, 3, 2, 1], [-1, 1, 1, 1], rule="voc12") == pytest.approx(3 / 4)
    assert math.isnan(classification_ap([1, 2], [-1, -1], rule="voc12"))  # no positive: recall 0/0 in the envelope


def test_equal_scores_keep_their_input_order():
    # MATLAB's sort is stable: of images with one score, the first listed is ranked first.
    assert classification_ap([1.0, 1.0], [1, -1]) == eleven_point([1] * 11)
    assert classification_ap([1.0, 1.0], [-1, 1]) == eleven_point([1 / 2] * 11)
    # Three scores, interleaved; of each score the first ten listed are positive. Stable: per score ten
    # TPs then ten FPs, so precision peaks at 1 (recall 1/3), 20/30 (2/3) and 30/50 (1).
    scores = [i % 3 for i in range(60)]
    truth = [1 if i < 30 else -1 for i in range(60)]
    assert classification_ap(scores, truth) == eleven_point([1] * 4 + [20 / 30] * 3 + [30 / 50] * 4)
    images = [f"i{n}" for n in range(60)]
    objects = {image: ([[1, 1, 10, 10]] if label > 0 else [], [False] if label > 0 else []) for image, label in zip(images, truth)}
    assert detection_ap(images, scores, [[1, 1, 10, 10]] * 60, objects) == eleven_point([1] * 4 + [20 / 30] * 3 + [30 / 50] * 4)


GT = {"a": ([[1, 1, 10, 10]], [False]), "b": ([[1, 1, 10, 10], [21, 21, 40, 40]], [False, True]), "c": ([], [])}


@pytest.mark.parametrize("box, devkit, faster_rcnn", [
    ([1, 1, 10, 20], True, False),   # 100 px inside 200: overlap exactly 0.5; the devkit's >= takes it
    ([1, 1, 10, 19], True, True),    # 100 / 190, just above
    ([1, 1, 10, 21], False, False),  # 100 / 210, just below
    ([1.5, 1, 10, 20], False, False),  # 95 / 195: boxes need not be whole pixels
])
def test_an_overlap_of_one_half_matches_in_the_devkit_but_not_in_voc_eval(box, devkit, faster_rcnn):
    """One detection on image a: a true positive gives AP 1, a false positive 0."""
    truth = {"a": GT["a"]}
    found, missed = eleven_point([1] * 11), 0.0
    assert detection_ap(["a"], [1.0], [box], truth) == (found if devkit else missed)
    assert detection_ap(["a"], [1.0], [box], truth, reference="py-faster-rcnn") == (found if faster_rcnn else missed)


def test_detections_are_matched_greedily_by_score():
    # Ranked by score: a's object (TP), a's object again (FP: found already), b's difficult object
    # (neither), a box on c, which has no object (FP), b's first object (TP). Two objects to find.
    images = ["a", "a", "b", "c", "b"]
    boxes = [[1, 1, 10, 11], [1, 1, 10, 10], [21, 21, 40, 40], [1, 1, 10, 10], [2, 2, 10, 10]]
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    # precision/recall by rank: 1 (1/2), 1/2 (1/2), ignored, 1/3 (1/2), 2/4 (1)
    hand = eleven_point([1] * 6 + [2 / 4] * 5)
    assert detection_ap(images, scores, boxes, GT) == hand
    assert detection_ap(images, scores, boxes, GT, reference="py-faster-rcnn") == hand


def test_a_detection_takes_the_object_it_overlaps_most_wherever_it_is_listed():
    # The detection covers the second object exactly and a third of the first: a true positive.
    truth = {"a": ([[6, 1, 15, 10], [1, 1, 10, 10]], [False, True])}
    assert detection_ap(["a", "a"], [2, 1], [[1, 1, 10, 10], [6, 1, 15, 10]], truth) == eleven_point([1] * 11)


def test_a_detection_takes_the_object_it_overlaps_most_even_when_that_one_is_found():
    # Two objects side by side; the second detection overlaps the found one most, so it is a duplicate
    # (FP) although it also overlaps the other object by more than one half.
    truth = {"a": ([[1, 1, 10, 10], [4, 1, 13, 10]], [False, False])}
    boxes = [[1, 1, 10, 10], [2, 1, 11, 10]]  # the second: 90/110 with the first object, 80/120 with the other
    assert detection_ap(["a", "a"], [2, 1], boxes, truth) == eleven_point([1] * 6 + [0] * 5)


def test_classes_without_detections_or_objects():
    assert detection_ap([], [], np.zeros((0, 4)), GT) == 0.0  # nothing found: precision is empty, AP 0
    only_difficult = {"b": ([[21, 21, 40, 40]], [True])}
    assert detection_ap([], [], [], only_difficult) == 0.0
    # The only detection hits a difficult object: no TP, no FP: the devkit's precision is 0/0 = NaN at
    # every rank and its max of all-NaN is NaN; voc_eval.py divides by eps instead and gets 0.
    assert math.isnan(detection_ap(["b"], [1.0], [[21, 21, 40, 40]], {"b": GT["b"]}))
    assert detection_ap(["b"], [1.0], [[21, 21, 40, 40]], {"b": GT["b"]}, reference="py-faster-rcnn") == 0.0
    # Ranked first, the difficult hit leaves a NaN precision that MATLAB's max skips once a TP follows.
    assert detection_ap(["b", "b"], [2, 1], [[21, 21, 40, 40], [1, 1, 10, 10]], {"b": GT["b"]}) == eleven_point([1] * 11)
    with pytest.raises(ValueError, match="not among the test images"):
        detection_ap(["z"], [1.0], [[1, 1, 2, 2]], GT)


def test_mean_ap_counts_only_the_classes_with_something_to_find():
    assert mean_ap([50.0, 0.0, 100.0], [True, False, True]) == 75.0
    assert math.isnan(mean_ap([0.0], [False]))
