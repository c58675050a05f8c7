"""`python -m train demo`: the whole story on a CPU, learning well above chance."""

from __future__ import annotations

import json

import pytest
from commands import run


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    code, result = run(["demo", "--output-dir", str(out), "--epochs", "4", "-q"])
    return code, result, out, json.loads((out / "results.json").read_text())


def test_demo_writes_results_and_a_plot(demo):
    code, result, out, results = demo
    assert code == 0
    assert result == {"results": str(out / "results.json"), "plot": str(out / "results.png")}
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [v["variant"] for v in results["variants"]] == ["random init", "pretrained on fine", "pretrained on coarse"]
    assert [v["pretrain_label_count"] for v in results["variants"]] == [None, 12, 4]


# At 4 epochs on this CPU: fine 47% on its 12 labels (chance 8%), coarse 44% on its 4 (chance 25%); k-NN on
# the fine labels 53% for the fine-trained net against 30% for the untrained one.
def test_each_pretrained_network_learns_its_own_labels_well_above_chance(demo):
    *_, results = demo
    fine, coarse = results["variants"][1:]
    chance = results["chance"]["pretrain_val_top1"]
    assert fine["pretrain_val_top1"] >= 3 * chance["fine"]
    assert coarse["pretrain_val_top1"] >= 1.4 * chance["coarse"]


def test_fine_pretraining_gives_features_that_tell_fine_classes_apart(demo):
    *_, results = demo
    untrained, fine, _ = results["variants"]
    assert fine["knn_fine_top1"] >= 4 * results["chance"]["knn_fine_top1"]
    assert fine["knn_fine_top1"] >= untrained["knn_fine_top1"] + 10
