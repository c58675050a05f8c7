"""experiments/oquab2014.toml: the plan of Oquab et al.'s grid with its cost, a small CPU version of it run
through `--head oquab` on synthetic VOC data, and their published VOC 2012 APs printed beside our cells, per
class too."""

from __future__ import annotations

import csv
import json

import pytest
from commands import REPO, SMALL_WORLD, run
from test_grid import write_results

import synthetic_voc
from train.experiment import read_experiment

pq = pytest.importorskip("pyarrow.parquet")


def test_the_oquab_file_plans_three_pretraining_sets_each_transferred_to_voc07_and_voc12(tmp_path, capsys):
    code, plan = run(["grid", str(REPO / "experiments" / "oquab2014.toml"), "--output-dir", str(tmp_path / "oquab"),
                      "--dry-run"])
    assert code == 0 and plan["cells"] == 21 and plan["no data"] == 21 and plan["merged"] == 0
    cells = {row["cell"]: row for row in plan["plan"]}
    for variant in ("pre-1000c", "pre-1000r", "pre-1512"):
        assert cells[f"{variant}-500pc-s0"]["images"] == 450000 * 256  # Caffe's solver, whatever the set
        for task, images in (("voc07-cls", 5011), ("voc12-cls", 5717)):  # train(val) images x 10 epochs, 3 seeds
            assert [cells[f"{variant}-500pc-s0.{task}-s{s}"]["images"] for s in range(3)] == [images * 10] * 3
    assert round(plan["gpu_hours_left"], 2) == round(3 * 115200000 / 2500 / 3600 + 3 * 3 * 10 * (5011 + 5717) / 20 / 3600, 2)
    assert [cells[f"{v}-500pc-s0"]["mark"] for v in ("pre-1000c", "pre-1000r", "pre-1512")] == [
        "paper", "curate's reading", "curate's reading"]
    experiment = read_experiment(REPO / "experiments" / "oquab2014.toml")
    assert [(t.task, t.settings["head"], t.settings["mode"] if "mode" in t.settings else "linear") for t in experiment.transfers] \
        == [("voc07-cls", "oquab", "linear"), ("voc12-cls", "oquab", "linear")]  # conv1..fc7 fixed, as the paper
    (series,) = plan["series"]
    assert (series["series"], series["x"], series["pool_stated"]) == ("pretraining set", "variant", True)
    assert series["pool"].startswith("500 seeded images of each class of each set")
    err = capsys.readouterr().err
    assert "voc12-cls: curate's reading: scored on VOC 2012 val (trained on train), not on the test set" in err
    assert not (tmp_path / "oquab").exists()


def small_grid(voc07, voc12) -> str:
    """Oquab's grid in the synthetic world: two label sets of its classes under two of Oquab's line names."""
    entry = ('[[pretrain]]\nname = "{name}"\nlabels = "{labels}"\nmodel = "tiny"\nepochs = 2\nlr = 0.05\n'
             'series = "pretraining set"\nline = "{line}"\n')
    return ('name = "oquab-small"\n' + SMALL_WORLD
            + '[[series]]\nname = "pretraining set"\nx = "variant"\npool = "each set its own classes\' images"\n'
            + entry.format(name="fine", labels="identity", line="PRE-1000C")
            + entry.format(name="coarse", labels="coarsen --lift 1", line="PRE-1512")
            + "".join(f'[[transfer]]\ntask = "{task}"\ndata = "{data}"\nhead = "oquab"\nepochs = 1\nlr = 0.03\n'
                      'val_fraction = 0\n' for task, data in (("voc07-cls", voc07), ("voc12-cls", voc12))))


def test_a_small_oquab_grid_runs_and_reports_their_map_beside_ours(tmp_path):
    voc07, voc12 = tmp_path / "voc07", tmp_path / "voc12"
    synthetic_voc.write_detection(voc07, {"trainval": 8, "test": 4}, seed=2, size=64)
    synthetic_voc.write_detection(voc12, {"train": 8, "val": 4}, seed=3, size=64, year=2012)
    file, out = tmp_path / "oquab.toml", tmp_path / "out"
    file.write_text(small_grid(voc07, voc12))
    code, result = run(["grid", str(file), "--output-dir", str(out), "-q"])
    assert code == 0 and (result["cells"], result["ran"]) == (6, 6)
    done = {p.parent.name.rsplit("-", 1)[0]: p for p in (out / "cells").glob("*/done.json")}
    assert sorted(done) == ["coarse-s0", "coarse-s0.voc07-cls-s0", "coarse-s0.voc12-cls-s0", "fine-s0",
                            "fine-s0.voc07-cls-s0", "fine-s0.voc12-cls-s0"]
    transferred = json.loads(done["fine-s0.voc12-cls-s0"].read_text())["result"]
    assert transferred["settings"]["--head"] == "oquab" and transferred["patches"].endswith("patches in all")
    rows = pq.read_table(out / "results.parquet").to_pylist()
    maps = {(r["entry"], r["task"]): r["value"] for r in rows if r["metric"] == "test_map"}
    assert sorted(maps) == [("coarse", "voc07-cls"), ("coarse", "voc12-cls"), ("fine", "voc07-cls"), ("fine", "voc12-cls")]
    code, report = run(["report", str(out), "-q"])
    assert code == 0
    beside = {(r["line"], r["task"]): r["paper"] for r in report["summary"] if r["metric"] == "test_map"}
    assert beside == {("PRE-1000C", "voc12-cls"): 78.7, ("PRE-1512", "voc12-cls"): 82.8,  # Oquab et al.'s VOC 2012 mAP
                      ("PRE-1000C", "voc07-cls"): None, ("PRE-1512", "voc07-cls"): None}
    per_class = {(r["line"], r["metric"]): r["paper"] for r in report["summary"] if r["task"] == "voc12-cls"}
    # each class the synthetic scenes draw, with its published AP (plane bike bird boat ...: 3rd and 4th)
    assert (per_class[("PRE-1000C", "test_ap aeroplane")], per_class[("PRE-1512", "test_ap boat")]) == (93.5, 84.1)


VOC_ORDER = ("aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike person pottedplant "
             "sheep sofa train tvmonitor").split()
ISSUE_TABLE = {  # issue 24's copy of the table, in the order plane bike bird ... tv, then mAP
    "no pretraining": "85.2 75.0 69.4 66.2 48.8 82.1 79.5 79.8 62.4 61.9 49.8 75.9 71.4 82.7 93.1 59.1 69.7 49.3 80.0 76.7 70.9",
    "PRE-1000C": "93.5 78.4 87.7 80.9 57.3 85.0 81.6 89.4 66.9 73.8 62.0 89.5 83.2 87.6 95.8 61.4 79.0 54.3 88.0 78.3 78.7",
    "PRE-1000R": "93.2 77.9 83.8 80.0 55.8 82.7 79.0 84.3 66.2 71.7 59.5 83.4 81.4 84.8 95.2 59.8 74.9 52.9 83.8 75.7 76.3",
    "PRE-1512": "94.6 82.9 88.2 84.1 60.3 89.0 84.4 90.7 72.1 86.8 69.0 92.1 93.4 88.6 96.1 64.3 86.6 62.3 91.1 79.8 82.8",
}


@pytest.mark.parametrize("line", sorted(ISSUE_TABLE))
def test_published_csv_holds_oquab_table_per_class_and_its_mean(line):
    with (REPO / "experiments" / "published.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if (r["paper"], r["task"], r["series"], r["line"]) ==
                ("Oquab et al. 2014", "VOC12-CLS", "pretraining set", line)]
    assert [r["class"] for r in rows] == ["", *VOC_ORDER]
    assert [r["value"] for r in rows[1:]] + [rows[0]["value"]] == ISSUE_TABLE[line].split()
    assert all("as a lecture on transfer learning reproduces their VOC 2012 classification table" in r["source"] for r in rows)
    assert abs(sum(float(r["value"]) for r in rows[1:]) / 20 - float(rows[0]["value"])) < 0.05  # the mean is their mAP


def test_the_report_puts_their_ap_of_each_class_beside_ours(tmp_path):
    common = {"series": "pretraining set", "axis": "variant", "x": None, "task": "voc12-cls"}
    rows = []
    for entry, line in (("pre-1000c", "PRE-1000C"), ("pre-1512", "PRE-1512")):
        for metric, value in (("test_map", 50.0), ("test_ap chair", 40.0), ("test_ap sofa", 30.0)):
            rows += [{**common, "entry": entry, "line": line, "metric": metric, "transfer_seed": s, "value": value + s}
                     for s in range(2)]
    write_results(tmp_path, rows)
    code, report = run(["report", str(tmp_path), "-q"])
    assert code == 0
    beside = {(r["line"], r["metric"]): (r["mean"], r["paper"]) for r in report["summary"]}
    assert beside == {("PRE-1000C", "test_map"): (50.5, 78.7), ("PRE-1000C", "test_ap chair"): (40.5, 66.9),
                      ("PRE-1000C", "test_ap sofa"): (30.5, 54.3), ("PRE-1512", "test_map"): (50.5, 82.8),
                      ("PRE-1512", "test_ap chair"): (40.5, 72.1), ("PRE-1512", "test_ap sofa"): (30.5, 62.3)}
    # one panel, the mAP's: a class's AP is in the table, not a figure of its own
    assert list(report["plotted"]["pretraining set"]) == ["voc12-cls test_map"]
    assert report["plotted"]["pretraining set"]["voc12-cls test_map"]["published"] == {"pre-1000c": 78.7, "pre-1512": 82.8}
