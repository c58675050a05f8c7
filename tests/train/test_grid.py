"""`python -m train grid` and `report`: every cell once, skipped when done, resumed when interrupted, a
failure recorded while the grid goes on, the submitit path, the paper's plan, the report, bad files."""

from __future__ import annotations

import json
import re

import pytest
from commands import REPO, error_of, run

pq = pytest.importorskip("pyarrow.parquet")

TINY = """
name = "tiny"
throughput = 1000
[data]
synthetic = "factors"
train_per_class = 8
val_per_class = 3
[settings]
device = "cpu"
workers = 0
batch_size = 16
train_crop_size = 32
val_resize_size = 32
val_crop_size = 32
min_scale = 0.35
use_deterministic_algorithms = true
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


def test_a_grid_runs_every_cell_once_and_a_second_run_trains_nothing(tmp_path):
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
    # 23 pretraining variants (5 sizes of in1k, 6 label sets, 3 budgets, 3 budgets over fewer classes, PASCAL
    # removed, 1512, 4 splits = 23), each with a k-NN score and 3 tasks x 3 seeds: 23 x 11 = 253 cells.
    assert plan["cells"] == 253 and plan["no data"] == 253
    assert round(plan["gpu_hours_left"], 1) == 344.8
    err = capsys.readouterr().err
    assert "oquab-1512-s0.voc07-det-s2" in err and "left to run: 253 of 253 cells" in err
    assert not (tmp_path / "huh").exists()  # a plan writes nothing


def test_the_report_gives_mean_and_std_over_seeds_beside_the_papers_numbers(tmp_path):
    import pyarrow as pa

    from train.grid import result_schema

    def row(entry, series, budget, task, metric, seed, value, per_class=None, label_count=1000):
        return {"cell": f"{entry}-s{seed}", "kind": "transfer", "entry": entry, "series": series, "labels": "in1k",
                "label_count": label_count, "per_class": per_class, "budget": budget, "train_images": 0,
                "model": "caffenet", "augment": "caffe", "seed": 0, "task": task, "transfer_seed": seed, "metric": metric,
                "value": value, "labels_hash": "", "table_hash": "", "cell_key": ""}

    rows = [row("more", "more classes", 500000, "voc07-det", "test_map", s, v) for s, v in enumerate([50.0, 52.0, 54.0])]
    rows += [row("fewer", "more images per class", 500000, "voc07-det", "test_map", 0, 49.5)]
    rows += [row(f"in1k-{n}", "images", None, "sun397", "test_top1", 0, v, per_class=n) for n, v in ((50, 20.0), (500, 40.0))]
    schema = result_schema()
    pq.write_table(pa.table({k: pa.array([r[k] for r in rows], type=t) for k, t in schema.items()}), tmp_path / "results.parquet")
    code, report = run(["report", str(tmp_path), "-q"])
    assert code == 0
    more = next(r for r in report["summary"] if r["entry"] == "more")
    assert (more["mean"], more["std"], more["n"], more["paper"]) == (52.0, 2.0, 3, 57.0)
    fewer = next(r for r in report["summary"] if r["entry"] == "fewer")
    assert (fewer["std"], fewer["paper"]) == (None, 57.1)
    assert sorted(p.rsplit("/", 1)[-1] for p in report["figures"]) == ["budget.png", "images_per_class.png"]
    assert all(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for p in report["figures"])


BAD = [
    ("name = 'x'\n[data\n", r"Error: .*bad\.toml is not valid TOML: .*"),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "coarse-999"\nepochs = 1\n',
     r"Error: Unknown label set 'coarse-999': give a preset \(in1k, .*"),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\n[[transfer]]\ntask = "voc07"\ndata = "x"\n',
     r"Error: .*\[\[transfer\]\] 'voc07': task must be imagefolder, sun397, voc07-cls, voc07-det or voc12-action, not "
     r"'voc07' \(did you mean 'voc07-det'\?\)\."),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\nper_clas = 5\n',
     r"Error: .*\[\[pretrain\]\] 'a': unknown key 'per_clas' \(did you mean 'per_class'\?\); the keys are .*"),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\nrecipe = "caffe"\n',
     r"Error: .*\[\[pretrain\]\] 'a': 'recipe' is now augment\."),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\nlrr = 0.1\n',
     r"Error: .*unknown key 'lrr' \(did you mean 'lr'\?\); the keys are the settings of the command's flags .*"),
    ('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "in1k"\nepochs = 1\n',
     r"Error: The label set 'in1k' is a preset of ILSVRC classes; the synthetic world takes identity or .*"),
]


@pytest.mark.parametrize("text, sentence", BAD, ids=["malformed", "unknown preset", "unknown task", "unknown key",
                                                      "renamed key", "unknown setting", "preset on synthetic data"])
def test_a_bad_experiment_file_is_one_sentence_and_writes_nothing(tmp_path, capsys, text, sentence):
    file = experiment(tmp_path, text, "bad.toml")
    line = error_of(["grid", str(file), "--output-dir", str(tmp_path / "out")], capsys)
    assert re.fullmatch(sentence, line), line
    assert not (tmp_path / "out").exists()


def test_an_unwritable_output_folder_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    line = error_of(["grid", str(experiment(tmp_path)), "--output-dir", str(tmp_path / "taken")], capsys)
    assert line == f"Error: --output-dir {tmp_path / 'taken'} is a file, not a folder."
