"""`python -m train demo`: the demo grid under each grouping of its world and the report of each, here on a
smaller experiment of the same form."""

from __future__ import annotations

import json

import pytest
from commands import REPO, error_of, run

from train.world import GROUPINGS

pq = pytest.importorskip("pyarrow.parquet")

SMALL = open(REPO / "experiments" / "demo.toml").read()
SMALL = (SMALL.replace("train_per_class = 60", "train_per_class = 30").replace("per_class = [60, 20]", "per_class = 30")
         .replace("iterations = 270", "iterations = 60").replace("seed = [0, 1, 2]", "seed = [0]"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    (folder / "small.toml").write_text(SMALL)
    code, result = run(["demo", "--experiment", str(folder / "small.toml"), "--output-dir", str(folder / "out"), "-q"])
    rows = {g: pq.read_table(folder / "out" / g / "results.parquet").to_pylist() for g in GROUPINGS}
    return code, result, folder / "out", {(g, r["entry"], r["metric"]): r["value"] for g in GROUPINGS for r in rows[g]}


def test_the_demo_runs_its_grid_under_each_grouping_and_draws_the_figures_of_each(demo):
    code, result, out, _ = demo
    assert code == 0 and sorted(result) == ["no-shared-factor", "shared-shape"]
    for grouping, grid in result.items():
        assert (grid["cells"], grid["ran"]) == (6, 6)
        assert json.loads((out / grouping / "data" / "world.json").read_text())["grouping"] == grouping
        figures = out / grouping / "figures"
        assert grid["figures"] == [str(figures / "fine_or_coarse_labels.png")]  # one series: one figure
        assert all(open(f, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for f in grid["figures"])


# Measured on this CPU (30 images per class, 60 steps), shared-shape / no-shared-factor: val top-1 51% / 52% for
# the fine-trained net on its 12 labels (chance 8%), 61% / 45% for the coarse-trained one on its 4 (chance 25%);
# k-NN on the fine labels 56% / 55% and 58% / 48%.
@pytest.mark.parametrize("grouping", list(GROUPINGS))
def test_both_networks_learn_and_coarse_features_still_tell_fine_classes_apart(demo, grouping):
    *_, score = demo
    assert score[(grouping, "fine", "val_top1")] >= 3 * 100 / 12
    assert score[(grouping, "coarse", "val_top1")] >= 1.4 * 100 / 4
    assert score[(grouping, "fine", "knn_top1")] >= 4 * 100 / 12
    assert score[(grouping, "coarse", "knn_top1")] >= 3 * 100 / 12


def test_coarse_labels_of_one_shape_are_learnt_more_easily_than_labels_that_share_no_factor(demo):
    *_, score = demo
    assert score[("shared-shape", "coarse", "val_top1")] >= score[("no-shared-factor", "coarse", "val_top1")] + 8


def test_the_shipped_demo_grid_plans_36_cells(tmp_path):
    code, plan = run(["grid", str(REPO / "experiments" / "demo.toml"), "--output-dir", str(tmp_path / "d"), "--dry-run", "-q"])
    assert code == 0 and plan["cells"] == 36 and plan["todo"] == 36


def test_a_demo_file_that_names_no_grouping_is_refused_before_anything_is_written(tmp_path, capsys):
    (tmp_path / "plain.toml").write_text(SMALL.replace('grouping = "shared-shape"', ""))
    line = error_of(["demo", "--experiment", str(tmp_path / "plain.toml"), "--output-dir", str(tmp_path / "out")], capsys)
    assert line == (f"Error: {tmp_path / 'plain.toml'} must give its world's grouping once, in [data] (grouping = "
                    "\"shared-shape\"): the demo runs it under each grouping in turn.")
    assert not (tmp_path / "out").exists()
