"""Options every command shares: `--json` of `diff` and `presets`, `-q` of every export, `build -o/--output`
(its old name `--out` still works, unlisted)."""

import json
from pathlib import Path

import pytest

from curate.labels.presets import PRESETS

MANIFESTS = Path(__file__).parents[2] / "manifests"


def test_diff_as_json_gives_every_changed_class_with_its_labels_before_and_after(curate_cli, tmp_path, depth3):
    depth4 = tmp_path / "depth4.parquet"
    assert curate_cli("coarsen", "--depth", "4", "-o", depth4).exit_code == 0
    result = curate_cli("diff", depth3, depth4, "--json")
    assert (result.exit_code, result.stderr) == (0, "")
    diff = json.loads(result.stdout)
    old, new = (json.loads(curate_cli("show", path, "--json").stdout) for path in (depth3, depth4))
    before = {row["wnid"]: row for row in old["classes"]}
    after = {row["wnid"]: row for row in new["classes"]}
    state = ("label", "label_wnid", "label_name", "reason")
    expected = [{"wnid": wnid, "name": after[wnid]["name"], "before": {key: before[wnid][key] for key in state},
                 "after": {key: after[wnid][key] for key in state}}
                for wnid in sorted(after) if before[wnid]["label_wnid"] != after[wnid]["label_wnid"]]
    assert diff["changed"] == expected and len(expected) > 900
    labels_of = {side: {(row["label_wnid"], row["label_name"]) for row in record["classes"]} for side, record in
                 (("old", old), ("new", new))}
    assert diff["labels_created"] == [{"label_wnid": w, "label_name": n} for w, n in sorted(labels_of["new"] - labels_of["old"])]
    assert diff["labels_dropped"] == [{"label_wnid": w, "label_name": n} for w, n in sorted(labels_of["old"] - labels_of["new"])]
    assert {key: diff[key] for key in ("before", "after", "label_count_before", "label_count_after")} == {
        "before": "down-up depth=3", "after": "down-up depth=4", "label_count_before": 9, "label_count_after": 17}
    counts = curate_cli("diff", depth3, depth4).stdout.splitlines()[-1]
    assert counts == (f"{len(expected)} classes changed label; {len(diff['labels_created'])} labels created, "
                      f"{len(diff['labels_dropped'])} dropped; labels 9 → 17")


def test_diff_as_json_names_a_class_only_one_side_has(curate_cli, tmp_path, depth3):
    excluded = tmp_path / "771.parquet"
    assert curate_cli("exclude", "-o", excluded).exit_code == 0
    changed = {row["wnid"]: row for row in json.loads(curate_cli("diff", depth3, excluded, "--json").stdout)["changed"]}
    assert len(changed) == 1000  # every label moved: depth 3's few labels became 771 classes of their own, or none
    assert changed["n02085620"] == {"wnid": "n02085620", "name": "Chihuahua",
                                    "before": {"label": 0, "label_wnid": "n00003553", "label_name": "whole", "reason": None},
                                    "after": {"label": None, "label_wnid": None, "label_name": None,
                                              "reason": "removed: under n02084071 dog"}}


@pytest.mark.parametrize("name", ["presets", "recipes"])
def test_presets_as_json(curate_cli, name):
    result = curate_cli(name, "--json")
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout) == [{"file": f"{p.name}.parquet", "labels": p.label_count, "command": p.command,
                                          "what": p.about} for p in PRESETS]


@pytest.mark.parametrize("command,name,lines", [("class-map", "classes.txt", 9), ("labels-table", "labels.tsv", 9)])
def test_every_export_takes_quiet(curate_cli, depth3, tmp_path, command, name, lines):
    loud = curate_cli("export", command, depth3, "-o", tmp_path / name)
    assert (loud.exit_code, loud.stdout, loud.stderr) == (0, f"{tmp_path / name}\n", f"9 labels of {depth3}.\n")
    quiet = curate_cli("export", command, depth3, "-o", tmp_path / f"q-{name}", "-q")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, f"{tmp_path / f'q-{name}'}\n", "")
    assert (tmp_path / f"q-{name}").read_text() == (tmp_path / name).read_text()
    assert len((tmp_path / name).read_text().splitlines()) == lines


def test_build_writes_into_output_and_still_takes_its_old_option_out(curate_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    usage = curate_cli("build", "--help").stdout
    assert "--output  -o" in usage
    assert "--out " not in usage
    for option in ("-o", "--out"):
        result = curate_cli("build", option, tmp_path / option, "-q")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == [str(tmp_path / option / f"{p.name}.{suffix}") for p in PRESETS
                                              for suffix in ("parquet", "txt")]
    assert curate_cli("build", "--check", "--out", tmp_path / "--out").exit_code == 0
