"""Yosinski et al. 2014 as an experiment file: the grid of BnB, BnB+, AnB, AnB+ for each n (the paper's, planned;
a small one on the synthetic world, run), its half-B tables, and the report's Figure 2."""

from __future__ import annotations


import pytest
import torch
from commands import REPO, SMALL_WORLD, error_of, run

from curate.images.table import ImageTable

pq = pytest.importorskip("pyarrow.parquet")

CONDITIONS = {"BnB": ("b", True), "BnB+": ("b", False), "AnB": ("a", True), "AnB+": ("a", False)}


def small(layers: str = "[1, 2, 3, 4]") -> str:
    """Yosinski et al.'s grid on the synthetic world's 12 classes, halved by curate's seeded random split; the tiny
    network's four layers are its conv blocks."""
    text = 'name = "yosinski-small"\nthroughput = 1000\n' + SMALL_WORLD + """
model = "tiny"
iterations = 6
lr = 0.05
[[series]]
name = "base networks"
x = "variant"
pool = "each half trains on the images of its own classes"
[[series]]
name = "halves"
x = "copy_layers"
reference = "half-b"
[[pretrain]]
name = "half-a"
labels = "split random --part a --seed 0"
series = "base networks"
[[pretrain]]
name = "half-b"
labels = "split random --part b --seed 0"
series = "base networks"
"""
    for line, (source, frozen) in CONDITIONS.items():
        text += (f'[[pretrain]]\nname = "{line}"\nlabels = "split random --part b --seed 0"\ncopy_from = "half-{source}"\n'
                 f'copy_layers = {layers}\nfreeze_copied = {str(frozen).lower()}\nseries = "halves"\nline = "{line}"\n')
    return text


@pytest.fixture(scope="module")
def small_grid(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("yosinski")
    (folder / "small.toml").write_text(small())
    code, result = run(["grid", str(folder / "small.toml"), "--output-dir", str(folder / "grid"), "-q"])
    assert code == 0
    code, report = run(["report", str(folder / "grid"), "-q"])
    assert code == 0
    return {"out": folder / "grid", "result": result, "report": report}


def test_the_papers_grid_plans_two_splits_of_four_conditions_for_seven_layers(tmp_path):
    code, plan = run(["grid", str(REPO / "experiments" / "yosinski2014.toml"), "--dry-run", "-q",
                      "--output-dir", str(tmp_path / "grid")])
    assert code == 0
    copies = {f"{line}{suffix}-copy{n}{'-frozen' * frozen}-s0"
              for suffix in ("", "-natural") for line, (_, frozen) in CONDITIONS.items() for n in range(1, 8)}
    bases = {"random-half-a-s0", "random-half-b-s0", "manmade-551-s0", "natural-449-s0"}
    assert {cell["cell"] for cell in plan["plan"]} == copies | bases and plan["cells"] == 60
    assert plan["merged"] == 0  # AnB and BnB of one n start from other networks: other cells
    assert {cell["images"] for cell in plan["plan"]} == {450000 * 256}  # Caffe's solver for every network
    assert plan["gpu_hours_left"] == pytest.approx(60 * 450000 * 256 / 2500 / 3600)
    assert {s["series"]: s["pool"] for s in plan["series"]}["random halves"] == "all the images of 500 classes"


def test_each_copy_starts_from_its_conditions_base_network_of_its_seed():
    from train.experiment import read_experiment
    from train.grid import Grid

    grid = Grid(read_experiment(REPO / "experiments" / "yosinski2014.toml"), REPO / "runs" / "never-written")
    sources = {cell.name: grid.source_cell(cell).name for cell in grid.cells if cell.needs}
    assert sources["AnB-copy3-frozen-s0"] == sources["AnB+-copy3-s0"] == "random-half-a-s0"
    assert sources["BnB-copy3-frozen-s0"] == sources["BnB+-copy3-s0"] == "random-half-b-s0"
    assert sources["AnB-natural-copy7-frozen-s0"] == "manmade-551-s0" and sources["BnB+-natural-copy1-s0"] == "natural-449-s0"
    settings = {cell.name: cell.variant.settings for cell in grid.cells}
    assert (settings["AnB-copy3-frozen-s0"]["copy_layers"], settings["AnB-copy3-frozen-s0"]["freeze_copied"]) == (3, True)
    assert (settings["BnB+-copy5-s0"]["copy_layers"], settings["BnB+-copy5-s0"]["freeze_copied"]) == (5, False)
    assert {cell.variant.labels for cell in grid.cells if cell.name.startswith(("AnB-copy", "BnB+-copy"))} == {"random-half-b"}


def test_the_half_b_tables_hold_only_bs_classes_each_image_under_its_own_label(small_grid):
    from curate.labels.presets import labels_named
    from curate.wordnet.snapshot import load_hierarchy
    from train.world import CLASSES

    from curate.labels.classlists import ClassList

    hierarchy, base = load_hierarchy(), ClassList("factors-12", CLASSES)
    halves = {part: {row.wnid for row in labels_named(f"split random --part {part} --seed 0", hierarchy, base).kept}
              for part in "ab"}
    assert len(halves["a"]) == len(halves["b"]) == 6 and halves["a"] | halves["b"] == set(CLASSES)
    rows = [r for r in pq.read_table(small_grid["out"] / "results.parquet").to_pylist() if r["cell"] == "AnB-copy2-frozen-s0"]
    label_of = {wnid: label for label, wnid in enumerate(sorted(halves["b"]))}  # B's labels: in wnid order
    tables = [ImageTable.read(path) for path in sorted(small_grid["out"].glob("tables/*.parquet"))]
    tables = [table for table in tables if table.metadata.get("labels_hash") == rows[0]["labels_hash"]]
    assert sorted(t.rows["split"][0].as_py() for t in tables) == ["train", "val"]  # B's train and val tables
    for table in tables:
        for row in table.rows.to_pylist():
            wnid = row["path"].split("/")[-2]  # the world draws each image into its class's folder
            assert wnid in halves["b"] and (row["wnid"], row["label"]) == (wnid, label_of[wnid]), row
        assert {row["wnid"] for row in table.rows.to_pylist()} == halves["b"]


def test_frozen_copies_keep_the_base_networks_layers_exactly_and_trained_copies_move(small_grid):
    out = small_grid["out"]

    def weights(cell: str) -> dict:
        (folder,) = out.glob(f"cells/{cell}-*/run")
        return torch.load(folder / "checkpoint.pt", weights_only=True)["model"]

    base = {"a": weights("half-a-s0"), "b": weights("half-b-s0")}
    for line, (source, frozen) in CONDITIONS.items():
        for n in range(1, 5):
            copied = weights(f"{line}-copy{n}{'-frozen' * frozen}-s0")
            layers = tuple(f"features.{2 * i}." for i in range(n))
            for key, tensor in copied.items():
                same = torch.equal(tensor, base[source][key]) if tensor.shape == base[source][key].shape else False
                if key.startswith(layers) and frozen:
                    assert same, (line, n, key)
                elif key.endswith("0.weight"):  # a conv: trained, whether copied or fresh
                    assert not same, (line, n, key)


def test_the_report_draws_figure_2_top1_against_n_a_line_per_condition_from_base_b(small_grid):
    out, report = small_grid["out"], small_grid["report"]
    rows = pq.read_table(out / "results.parquet").to_pylist()
    top1 = {r["cell"]: r["value"] for r in rows if r["metric"] == "val_top1" and r["series"] == "halves"}
    panel = report["plotted"]["halves"]["pretrain val_top1"]
    assert set(panel["lines"]) == set(CONDITIONS)
    for line, (_, frozen) in CONDITIONS.items():
        expected = [[0.0, top1["half-b-s0"], 0.0]] + [[float(n), top1[f"{line}-copy{n}{'-frozen' * frozen}-s0"], 0.0]
                                                       for n in range(1, 5)]
        assert panel["lines"][line] == expected
    assert panel["reference"] == [[0.0, top1["half-b-s0"]]]
    assert (out / "figures" / "halves.png").stat().st_size > 0


@pytest.mark.parametrize("change, sentence", [
    (('copy_from = "half-a"', 'copy_from = "half-c"'), "[[pretrain]] 'AnB': copy_from names 'half-c', which no [[pretrain]] "
                                                       "entry is (did you mean 'half-b'?)."),
    (('copy_layers = [1, 2, 3, 4]\nfreeze_copied = true\nseries = "halves"\nline = "AnB"',
      'freeze_copied = true\nseries = "halves"\nline = "AnB"'),
     "[[pretrain]] 'AnB': give copy_from (the entry whose layers start this one) and copy_layers (how many), both."),
    (('name = "AnB"\n', 'name = "AnB"\nseed = [1]\n'),
     "[[pretrain]] 'AnB': copy_from 'half-a' has no cell of seed 1 on all its images that copies nothing itself: give it "
     "that seed, or this entry its seeds."),
    (("copy_layers = [1, 2, 3, 4]", "copy_layers = [0, 1]"), "[[pretrain]] 'BnB': copy_layers must be a whole number of "
                                                              "at least 1, or a list of them, not [0, 1]."),
])
def test_a_copy_the_file_cannot_make_is_one_sentence(tmp_path, capsys, change, sentence):
    file = tmp_path / "bad.toml"
    file.write_text(small().replace(*change, 1) if change[0] != "copy_layers = [1, 2, 3, 4]" else small("[0, 1]"))
    line = error_of(["grid", str(file), "--dry-run", "--output-dir", str(tmp_path / "grid")], capsys)
    assert line == f"Error: {file} {sentence}"
