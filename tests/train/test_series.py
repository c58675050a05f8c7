"""A grid's comparisons are like for like: a series whose cells train on other images than its variable says
is refused unless it says so, cells that train the same thing run once under every name, and every variant is
scored by k-NN on one bank and one query set."""

from __future__ import annotations

import json

import pytest
from commands import SMALL_WORLD, error_of, run

pq = pytest.importorskip("pyarrow.parquet")

WORLD = 'name = "series"\n' + SMALL_WORLD


def variant(name: str, labels: str, series: str, extra: str = "") -> str:
    return f'[[pretrain]]\nname = "{name}"\nlabels = "{labels}"\nmodel = "tiny"\nepochs = 1\nlr = 0.05\nseries = "{series}"\n{extra}\n'


def grid_file(tmp_path, text: str):
    path = tmp_path / "series.toml"
    path.write_text(WORLD + text)
    return path


LABELS = '[[series]]\nname = "labels"\nx = "label_count"\nreference = "fine"\n'


def test_a_series_whose_cells_train_on_other_images_is_refused_unless_it_says_so(tmp_path, capsys):
    text = LABELS + variant("fine", "identity", "labels") + variant("coarse", "coarsen --lift 1", "labels", "per_class = 4")
    line = error_of(["grid", str(grid_file(tmp_path, text)), "--output-dir", str(tmp_path / "out"), "--dry-run"], capsys)
    assert line == (f"Error: {tmp_path / 'series.toml'} [[series]] 'labels' compares cells that train on other images than "
                    "its x (label_count) says: fine-s0 on all the images of 12 classes, coarse-4pc-s0 on 4 images per class "
                    "of 12 classes (subset seed 0); give them the same images, or say how and why they differ in the "
                    "series' pool.")
    stated = text.replace('reference = "fine"\n', 'reference = "fine"\npool = "the coarse net sees a third of the images"\n')
    code, plan = run(["grid", str(grid_file(tmp_path, stated)), "--output-dir", str(tmp_path / "out"), "--dry-run", "-q"])
    assert code == 0 and plan["series"][0]["pool"] == "the coarse net sees a third of the images"
    # along images per class the count may vary, but not the kind of subset: a budget is other images
    per_class = ('[[series]]\nname = "size"\nx = "per_class"\n' + variant("fine", "identity", "size", "per_class = [4, 2]")
                 + variant("coarse", "coarsen --lift 1", "size", "budget = 24"))
    line = error_of(["grid", str(grid_file(tmp_path, per_class)), "--output-dir", str(tmp_path / "out")], capsys)
    assert "'size' compares cells that train on other images than its x (per_class) says: fine-4pc-s0 on 4 images per " \
           "class of 12 classes (subset seed 0), coarse-24-s0 on 24 images spread over 12 classes" in line
    assert not (tmp_path / "out").exists()


def test_the_same_images_in_other_words_are_one_cell_reported_under_both_names(tmp_path):
    # 12 single-class labels: a budget of 48 is 4 images of each class, the same rows as per_class = 4
    text = ('[[series]]\nname = "size"\nx = "per_class"\n[[series]]\nname = "budget"\nx = "budget"\nreference = "all"\n'
            + variant("all", "identity", "size")
            + variant("per-class", "identity", "size", "per_class = 4") + variant("budget", "identity", "budget", "budget = 48")
            + variant("other", "identity", "budget", "budget = 36")
            + '[[knn]]\nlabels = "identity"\nbank_per_class = 5\n')
    file, out = grid_file(tmp_path, text), tmp_path / "out"
    code, plan = run(["grid", str(file), "--output-dir", str(out), "--dry-run", "-q"])
    assert code == 0 and plan["merged"] == 2
    assert {r["cell"]: r["same_as"] for r in plan["plan"] if r["same_as"]} == {
        "budget-48-s0": "per-class-4pc-s0", "budget-48-s0.knn-identity": "per-class-4pc-s0.knn-identity"}
    code, result = run(["grid", str(file), "--output-dir", str(out), "-q"])
    assert code == 0 and (result["cells"], result["ran"]) == (8, 6)
    assert len(list((out / "cells").glob("*/done.json"))) == 6
    rows = pq.read_table(out / "results.parquet").to_pylist()
    pretrained = {r["cell"]: (r["cell_key"], r["value"], r["series"], r["x"]) for r in rows if r["metric"] == "val_top1"}
    assert pretrained["budget-48-s0"][:2] == pretrained["per-class-4pc-s0"][:2]
    assert pretrained["budget-48-s0"][2:] == ("budget", 48.0) and pretrained["per-class-4pc-s0"][2:] == ("size", 4.0)
    assert pretrained["other-36-s0"][0] != pretrained["per-class-4pc-s0"][0]
    # the reference (all images) is in its own series, and a point of the series that names it
    assert sorted((r["series"], r["reference"], r["x"]) for r in rows if r["cell"] == "all-s0" and r["metric"] == "val_top1") \
        == [("budget", True, 96.0), ("size", False, 8.0)]
    # every variant's k-NN searched the same bank (5 of the 8 images of each class) with the same queries
    scored = [json.loads(p.read_text())["result"] for p in sorted((out / "cells").glob("*knn*/done.json"))]
    assert len(scored) == 3
    assert {(r["knn_memory_hash"], r["knn_queries_hash"], r["knn_memory_images"], r["knn_query_images"]) for r in scored} \
        == {(scored[0]["knn_memory_hash"], scored[0]["knn_queries_hash"], 60, 36)}


def test_a_knn_entry_may_score_only_the_all_images_cells_of_named_variants(tmp_path):
    text = (variant("fine", "identity", "fine", 'per_class = ["all", 4]') + variant("coarse", "coarsen --lift 1", "coarse")
            + '[[knn]]\nlabels = "identity"\n[[knn]]\nlabels = "coarsen --lift 1"\nvariants = ["fine"]\n')
    code, plan = run(["grid", str(grid_file(tmp_path, text)), "--output-dir", str(tmp_path / "out"), "--dry-run", "-q"])
    assert code == 0
    assert [r["cell"] for r in plan["plan"] if r["kind"] == "knn"] == [
        "fine-s0.knn-identity", "fine-s0.knn-coarsen-lift-1", "fine-4pc-s0.knn-identity", "coarse-s0.knn-identity"]
