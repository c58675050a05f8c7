"""The metrics against cases worked out by hand."""

from __future__ import annotations

import pytest
import torch


def test_voc07_ap_equals_the_hand_worked_example():
    from train.metrics import mean_ap, voc07_ap

    # Ranked: TP, FP, TP, difficult (ignored), FP, TP. Precision at recall 1/3: 1; at 2/3: 2/3; at 1: 3/5.
    # 11-point: t = 0, .1, .2, .3 -> 1; t = .4, .5, .6 -> 2/3; t = .7, .8, .9, 1 -> 3/5.
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    truth = torch.tensor([1, -1, 1, 0, -1, 1])
    hand = (4 * 1 + 3 * (2 / 3) + 4 * (3 / 5)) / 11
    assert voc07_ap(scores, truth) == pytest.approx(hand)
    assert voc07_ap(scores.flip(0), truth.flip(0)) == pytest.approx(hand)  # order of the input does not matter
    # A perfect ranking has AP 1; the difficult image may sit anywhere.
    assert voc07_ap(torch.tensor([3.0, 2.0, 1.0, 0.0]), torch.tensor([1, 0, 1, -1])) == pytest.approx(1.0)
    both, per_class = mean_ap(torch.stack([scores, scores], 1), torch.stack([truth, torch.tensor([1, 1, 1, -1, -1, -1])], 1))
    assert per_class[1] == pytest.approx(1.0)
    assert both == pytest.approx((hand + 1) / 2)
