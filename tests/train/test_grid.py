"""`python -m train grid` and `report`: every cell once, skipped when done, resumed when interrupted, a
failure recorded while the grid goes on, the submitit path, the paper's plan, the report, bad files."""

from __future__ import annotations

import json
import re

import pytest
from commands import REPO, SMALL_WORLD, error_of, run

pq = pytest.importorskip("pyarrow.parquet")

TINY = """
name = "tiny"
throughput = 1000
""" + SMALL_WORLD + """
[[pretrain]]
name = "coarse"
labels = "coarsen --lift 1"
model = "tiny"
epochs = 2
seed = [0, 1]
lr = 0.05
[[knn]]
labels = "identity"
[[transfer]]
task = "imagefolder"
data = "synthetic"
seed = [0]
mode = "linear"
epochs = 2
lr = 0.1
"""


def experiment(tmp_path, text: str = TINY, name: str = "tiny.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def results_of(folder) -> list[dict]:
    rows = pq.read_table(folder / "results.parquet").to_pylist()
    return sorted(((r["cell"], r["metric"], r["value"]) for r in rows))


def test_a_grid_runs_every_cell_once_and_a_second_run_trains_nothing(tmp_path, monkeypatch):
    file, out = experiment(tmp_path), tmp_path / "grid"
    code, first = run(["grid", str(file), "--output-dir", str(out), "-q"])
    assert code == 0 and (first["cells"], first["ran"], first["done_before"]) == (6, 6, 0)
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert {(r["cell"], r["metric"]) for r in rows} >= {("coarse-s0", "val_top1"), ("coarse-s1.knn-identity", "knn_top1"),
                                                      ("coarse-s1.imagefolder-s0", "test_top1")}
    assert {r["label_count"] for r in rows} == {4} and {r["train_images"] for r in rows} == {96}
    assert len({r["cell_key"] for r in rows if r["kind"] == "pretrain"}) == 2  # the seed is part of the key
    checkpoints = sorted(out.glob("cells/*/run/checkpoint.pt"))
    stamps = [p.stat().st_mtime_ns for p in checkpoints]
    code, again = run(["grid", str(file), "--output-dir", str(out), "-q"])
    assert code == 0 and (again["ran"], again["done_before"]) == (0, 6)
    assert [p.stat().st_mtime_ns for p in checkpoints] == stamps
    (tmp_path / "link").symlink_to(out)  # the same folder spelled otherwise: keys hold no paths
    for spelling in (tmp_path / "link", f"{out}/../grid/", "grid"):
        monkeypatch.chdir(tmp_path)
        code, reopened = run(["grid", str(file), "--output-dir", str(spelling), "-q"])
        assert code == 0 and (reopened["ran"], reopened["done_before"]) == (0, 6), spelling
    # A changed config is another cell: only the pretraining cells whose lr changed, and what needs them, run.
    experiment(tmp_path, TINY.replace("lr = 0.05", "lr = 0.04"))
    code, changed = run(["grid", str(file), "--output-dir", str(out), "-q"])
    assert code == 0 and changed["ran"] == 6


def test_a_longer_run_is_another_cell(tmp_path):
    file, out = experiment(tmp_path, TINY.replace("seed = [0, 1]", "seed = [0]")), tmp_path / "grid"
    assert run(["grid", str(file), "--output-dir", str(out), "-q"])[1]["ran"] == 3
    longer_transfer = TINY.replace("seed = [0, 1]", "seed = [0]").replace('mode = "linear"\nepochs = 2', 'mode = "linear"\nepochs = 3')
    experiment(tmp_path, longer_transfer)
    assert run(["grid", str(file), "--output-dir", str(out), "-q"])[1]["ran"] == 1  # the transfer alone
    experiment(tmp_path, longer_transfer.replace('model = "tiny"\nepochs = 2', 'model = "tiny"\nepochs = 3'))
    assert run(["grid", str(file), "--output-dir", str(out), "-q"])[1]["ran"] == 3  # the variant and what needs it


def test_an_interrupted_grid_finishes_only_what_was_left_and_ends_where_a_straight_one_does(tmp_path, monkeypatch):
    from train import runs

    file = experiment(tmp_path)
    assert run(["grid", str(file), "--output-dir", str(tmp_path / "straight"), "-q"])[0] == 0
    real, calls = runs.train_one_epoch, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # the second epoch of the second pretraining cell
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "train_one_epoch", interrupted)
    assert run(["grid", str(file), "--output-dir", str(tmp_path / "broken"), "-q"])[0] == 130
    monkeypatch.setattr(runs, "train_one_epoch", real)
    code, resumed = run(["grid", str(file), "--output-dir", str(tmp_path / "broken"), "-q"])
    assert code == 0 and (resumed["done_before"], resumed["ran"]) == (1, 5)  # coarse-s0 was done; coarse-s1 resumed
    assert results_of(tmp_path / "broken") == results_of(tmp_path / "straight")


def test_a_failed_cell_is_recorded_and_the_grid_goes_on(tmp_path, capsys):
    broken = TINY + '\n[[transfer]]\ntask = "sun397"\ndata = "no-such-folder"\nseed = [0]\n'
    file, out = experiment(tmp_path, broken), tmp_path / "grid"
    line = error_of(["grid", str(file), "--output-dir", str(out), "-q"], capsys)
    assert re.fullmatch(r"Error: 2 of 8 cells failed \(first: coarse-s0\.sun397-s0: .*\); the others are in .*results\.parquet: "
                        r"run the grid again to retry the failed ones\.", line), line
    failed = json.loads(next(out.glob("cells/coarse-s0.sun397-s0-*/failed.json")).read_text())
    assert "no-such-folder" in failed["error"]
    cells = {r["cell"] for r in pq.read_table(out / "results.parquet").to_pylist()}
    assert "coarse-s1.imagefolder-s0" in cells and not any("sun397" in c for c in cells)


def test_cells_run_as_submitit_jobs(tmp_path, monkeypatch):
    submitit = pytest.importorskip("submitit")
    given = {}
    real = submitit.AutoExecutor.update_parameters
    monkeypatch.setattr(submitit.AutoExecutor, "update_parameters", lambda self, **kw: given.update(kw) or real(self, **kw))
    file, out = experiment(tmp_path, TINY.replace("seed = [0, 1]", "seed = [0]")), tmp_path / "grid"
    code, result = run(["grid", str(file), "--output-dir", str(out), "--launcher", "submitit-local", "-q"])
    assert given["timeout_min"] >= 24 * 60  # submitit's local default would kill a longer cell
    assert code == 0 and result["ran"] == 3, result
    assert len(list((out / "submitit").glob("*_result.pkl"))) == 3  # each cell ran as its own job
    assert {r["cell"] for r in pq.read_table(out / "results.parquet").to_pylist()} == {
        "coarse-s0", "coarse-s0.knn-identity", "coarse-s0.imagefolder-s0"}


def test_the_papers_plan_with_its_cost(tmp_path, capsys):
    code, plan = run(["grid", str(REPO / "experiments" / "huh2016.toml"), "--output-dir", str(tmp_path / "huh"), "--dry-run"])
    assert code == 0
    # 23 pretraining variants (in1k on all images and 4 subsets, 6 label sets, 3 budgets over 1000 classes and 3
    # over fewer, PASCAL removed, 1512, 4 splits), each with a k-NN score on the 1000 classes and 3 tasks x 3
    # seeds, and 4 more k-NN scores of in1k on coarse label sets: 23 x 11 + 4 = 257 cells.
    assert plan["cells"] == 257 and plan["no data"] == 257
    # The budgets over all 1000 classes are in1k's 500, 250 and 125 per class: 3 x 11 cells run once.
    assert plan["merged"] == 33
    same = {row["cell"]: row["same_as"] for row in plan["plan"] if row["same_as"]}
    assert same["budget-more-classes-250k-s0.voc07-det-s1"] == "in1k-250pc-s0.voc07-det-s1"
    assert round(plan["gpu_hours_left"], 1) == 305.0
    pools = {row["series"]: (row["pool"], row["pool_stated"]) for row in plan["series"]}
    assert pools["labels"] == ("all the images of 1,000 classes", False)
    assert pools["images per class"][0].startswith("all the images of 1,000 classes, and nested subsets")
    assert pools["splits"][1] and pools["fixed budget"][1]
    marks = {row["cell"]: row["mark"] for row in plan["plan"]}
    assert (marks["in1k-s0"], marks["natural-449-s0"], marks["in1k-s0.voc07-det-s0"], marks["in1k-s0.sun397-s0"]) == (
        "paper", "curate's reading", "paper", "curate's reading")
    err = capsys.readouterr().err
    assert "oquab-1512-s0.voc07-det-s2" in err and "left to run: 224 of 257 cells (33 the same as another" in err
    assert "natural-449: curate's reading: the paper's split models (minA/minB) have unpublished meaning" in err
    assert not (tmp_path / "huh").exists()  # a plan writes nothing


PAPER = (REPO / "experiments" / "huh2016.toml").read_text()
FROM_JPEGS = PAPER.replace('store = "train-jpeg256"', "").replace('val_store = "val-jpeg256"', "")


@pytest.mark.parametrize(("text", "line"), [
    (FROM_JPEGS.replace("workers = 8", "workers = 2"),
     "loader: 2 workers decoding the original JPEGs: about 646 images/s (bench/RESULTS.md), too few for the 2,500 "
     "images/s assumed: give more workers or pack a store (curate images pack)."),
    (FROM_JPEGS, "loader: 8 workers decoding the original JPEGs: about 2,584 images/s (bench/RESULTS.md), enough for the "
                 "2,500 images/s assumed."),
    (PAPER, "loader: cannot tell what the store feeds: The store train-jpeg256 does not exist."),
], ids=["2 workers", "8 workers", "store not packed"])
def test_the_plan_says_whether_its_loader_feeds_the_throughput_it_assumes(tmp_path, capsys, monkeypatch, text, line):
    monkeypatch.chdir(tmp_path)
    code, _ = run(["grid", str(experiment(tmp_path, text, "paper.toml")), "--dry-run"])
    assert code == 0
    assert " ".join(capsys.readouterr().err.split()).endswith(line)  # rich wraps it at 160 columns


SCHEMA_DEFAULTS = {"kind": "transfer", "labels": "in1k", "label_count": 1000, "per_class": None, "budget": None,
                   "train_images": 0, "model": "caffenet", "augment": "caffe", "seed": 0, "mark": "paper", "why": "",
                   "labels_hash": "", "table_hash": "", "cell_key": "", "same_as": "", "reference": False, "line": None}


def write_results(folder, rows: list[dict]) -> None:
    import pyarrow as pa

    from train.grid import result_schema

    rows = [{**SCHEMA_DEFAULTS, "cell": f"{r['entry']}-s{r['transfer_seed']}", **r} for r in rows]
    schema = result_schema()
    pq.write_table(pa.table({k: pa.array([r[k] for r in rows], type=t) for k, t in schema.items()}), folder / "results.parquet")


def test_the_report_prints_every_published_number_of_the_fixed_budget_table_beside_its_cell(tmp_path):
    rows = []
    for task, metric in (("voc07-det", "test_map"), ("sun397", "test_top1")):
        for n in (500, 250, 125):
            common = {"series": "fixed budget", "axis": "budget", "x": n * 1000.0, "task": task, "metric": metric}
            rows += [{**common, "entry": "budget-more-classes", "line": "more classes", "budget": n * 1000,
                      "transfer_seed": s, "value": 40.0 + n / 100 + s} for s in range(3)]
            rows += [{**common, "entry": f"budget-more-images-{n}k", "line": "more images per class", "per_class": 1000,
                      "label_count": n, "transfer_seed": 0, "value": 41.0 + n / 100}]
        rows += [{"entry": "in1k", "series": "fixed budget", "axis": "budget", "x": 1281167.0, "reference": True,
                  "task": task, "metric": metric, "transfer_seed": 0, "value": 60.0}]
    write_results(tmp_path, rows)
    code, report = run(["report", str(tmp_path), "-q"])
    assert code == 0
    beside = {(r["task"], r["line"], r["x"]): r["paper"] for r in report["summary"] if not r["reference"]}
    assert beside == {
        ("voc07-det", "more images per class", 500000.0): 57.1, ("voc07-det", "more images per class", 250000.0): 54.8,
        ("voc07-det", "more images per class", 125000.0): 50.6, ("voc07-det", "more classes", 500000.0): 57.0,
        ("voc07-det", "more classes", 250000.0): 52.5, ("voc07-det", "more classes", 125000.0): 49.8,
        ("sun397", "more images per class", 500000.0): 50.6, ("sun397", "more images per class", 250000.0): 45.7,
        ("sun397", "more images per class", 125000.0): 42.2, ("sun397", "more classes", 500000.0): 49.7,
        ("sun397", "more classes", 250000.0): 46.7, ("sun397", "more classes", 125000.0): 42.3}
    more = next(r for r in report["summary"] if r["entry"] == "budget-more-classes" and r["x"] == 500000 and r["task"] == "sun397")
    assert (more["mean"], more["std"], more["n"]) == (46.0, 1.0, 3)
    # one figure for the series; the reference (all images) ends both lines, the published scores beside them
    assert [p.rsplit("/", 1)[-1] for p in report["figures"]] == ["fixed_budget.png"]
    assert open(report["figures"][0], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    panel = report["plotted"]["fixed budget"]["voc07-det test_map"]
    assert {line: points[-1][:2] for line, points in panel["lines"].items()} == {
        "more classes": [1281167.0, 60.0], "more images per class": [1281167.0, 60.0]}
    assert panel["published"]["more classes"] == [[125000.0, 49.8], [250000.0, 52.5], [500000.0, 57.0]]


def test_a_published_drop_stands_beside_our_drop_from_the_reference(tmp_path):
    common = {"series": "images per class", "axis": "per_class", "line": "ILSVRC-2012", "task": "voc07-det",
              "metric": "test_map"}
    write_results(tmp_path, [{**common, "entry": "in1k", "x": 1281.167, "reference": True, "transfer_seed": 0, "value": 58.0},
                             {**common, "entry": "in1k", "x": 500.0, "per_class": 500, "transfer_seed": 0, "value": 56.0},
                             {**common, "entry": "in1k", "x": 250.0, "per_class": 250, "transfer_seed": 0, "value": 55.0}])
    code, report = run(["report", str(tmp_path), "-q"])
    assert code == 0
    half = next(r for r in report["summary"] if r["x"] == 500.0)
    assert (half["paper"], half["paper_meaning"], half["drop"]) == (1.5, "drop from the reference", 2.0)
    quarter = next(r for r in report["summary"] if r["x"] == 250.0)
    assert (quarter["paper"], quarter["drop"]) == (None, None)
    assert report["plotted"]["images per class"]["voc07-det test_map"]["lines"]["ILSVRC-2012"] == [
        [250.0, 55.0, 0.0], [500.0, 56.0, 0.0], [1281.167, 58.0, 0.0]]


def test_each_series_is_its_own_figure_with_the_reference_on_it(tmp_path):
    def cell(entry, series, axis, x, value, line=None, reference=False):
        return {"entry": entry, "series": series, "axis": axis, "x": x, "line": line, "reference": reference,
                "task": "sun397", "metric": "test_top1", "transfer_seed": 0, "value": value}

    write_results(tmp_path, [cell("down-up-9", "labels", "label_count", 9.0, 30.0, "coarser labels"),
                             cell("coarse-127", "labels", "label_count", 127.0, 40.0, "coarser labels"),
                             cell("in1k", "labels", "label_count", 1000.0, 45.0, reference=True),
                             cell("natural-449", "splits", "variant", None, 35.0, "natural"),
                             cell("manmade-551", "splits", "variant", None, 36.0, "man-made"),
                             cell("in1k", "splits", "variant", None, 45.0, reference=True)])
    code, report = run(["report", str(tmp_path), "-q"])
    assert code == 0
    assert sorted(p.rsplit("/", 1)[-1] for p in report["figures"]) == ["labels.png", "splits.png"]
    labels = report["plotted"]["labels"]["sun397 test_top1"]
    assert labels["lines"] == {"coarser labels": [[9.0, 30.0, 0.0], [127.0, 40.0, 0.0], [1000.0, 45.0, 0.0]]}
    splits = report["plotted"]["splits"]["sun397 test_top1"]
    assert [v[0] for v in splits["variants"]] == ["in1k", "manmade-551", "natural-449"]


BAD = [
    ("name = 'x'\n[data\n", r"Error: .*bad\.toml is not valid TOML: .*"),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "coarse-999"\nepochs = 1\n',
     r"Error: Unknown label set 'coarse-999': give a preset \(in1k, .*"),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\n[[transfer]]\ntask = "voc07"\ndata = "x"\n',
     r"Error: .*\[\[transfer\]\] 'voc07': task must be imagefolder, sun397, voc07-cls, voc12-cls, voc07-det or voc12-action, not "
     r"'voc07' \(did you mean 'voc07-det'\?\)\."),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\nper_clas = 5\n',
     r"Error: .*\[\[pretrain\]\] 'a': unknown key 'per_clas' \(did you mean 'per_class'\?\); the keys are .*"),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\nrecipe = "caffe"\n',
     r"Error: .*\[\[pretrain\]\] 'a': 'recipe' is now augment\."),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\nlrr = 0.1\n',
     r"Error: .*unknown key 'lrr' \(did you mean 'lr'\?\); the keys are the settings of the command's flags .*"),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "in1k"\nepochs = 1\n',
     r"Error: The label set 'in1k' is a preset of ILSVRC classes; the synthetic world takes identity or .*"),
    ('name = "../../escape"\n[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\n',
     r"Error: .*bad\.toml: name '\.\./\.\./escape' names folders, so it takes only letters, digits, '\.', '_', '=', '\+' "
     r"and '-', and starts with a letter or digit\."),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a/../../b"\nlabels = "identity"\nepochs = 1\n',
     r"Error: .*bad\.toml \[\[pretrain\]\] 'a/\.\./\.\./b': name 'a/\.\./\.\./b' names folders, .*"),
]


@pytest.mark.parametrize("text, sentence", BAD, ids=["malformed", "unknown preset", "unknown task", "unknown key",
                                                      "renamed key", "unknown setting", "preset on synthetic data",
                                                      "experiment name outside", "entry name outside"])
def test_a_bad_experiment_file_is_one_sentence_and_writes_nothing(tmp_path, capsys, text, sentence):
    file = experiment(tmp_path, text, "bad.toml")
    line = error_of(["grid", str(file), "--output-dir", str(tmp_path / "out")], capsys)
    assert re.fullmatch(sentence, line), line
    assert not (tmp_path / "out").exists()


def test_an_unwritable_output_folder_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    line = error_of(["grid", str(experiment(tmp_path)), "--output-dir", str(tmp_path / "taken")], capsys)
    assert line == f"Error: --output-dir {tmp_path / 'taken'} is a file, not a folder."
