"""Summaries for programs: TSV in a pipe (never wrapped), `--json`, and labels that share a name told apart."""

import json

DEPTH3_TSV = """label\tlabel_wnid\tname\tclasses\tfor_example
0\tn00003553\twhole\t946\ttench, goldfish, great white shark
3\tn00020090\tsubstance\t22\tmenu, plate, guacamole
8\tn15046900\tsolid\t16\tFrench loaf, bagel, pretzel
7\tn09287968\tgeological formation\t9\talp, cliff, coral reef
1\tn00007846\tperson\t3\tballplayer, groom, scuba diver
2\tn00019613\tsubstance\t1\ttoilet tissue
4\tn00027807\tshape\t1\tbubble
5\tn06791372\tsignal\t1\ttraffic light
6\tn06793231\tsign\t1\tstreet sign
"""


def test_coarsen_summary_in_a_pipe_is_tsv_of_every_label(curate_cli):
    result = curate_cli("coarsen", "--depth", "3")
    assert (result.exit_code, result.stdout) == (0, DEPTH3_TSV)
    assert result.stderr == "9 labels over 1,000 classes: down-up depth=3, tree first-name\n"


def test_a_long_summary_keeps_one_label_a_line(curate_cli):
    lines = curate_cli("coarsen", "--depth", "9").stdout.splitlines()
    assert len(lines) == 1 + 486 and all(line.count("\t") == 4 for line in lines)
    assert sum(int(line.split("\t")[3]) for line in lines[1:]) == 1000


def test_coarsen_summary_as_json(curate_cli, depth3):
    result = curate_cli("coarsen", "--depth", "3", "--json")
    assert (result.exit_code, result.stderr) == (0, "")
    summary = json.loads(result.stdout)
    assert {key: summary[key] for key in ("title", "recipe", "params", "tree_rule", "classes", "removed")} == {
        "title": "9 labels over 1,000 classes: down-up depth=3, tree first-name", "recipe": "down-up",
        "params": {"depth": 3}, "tree_rule": "first-name", "classes": 1000, "removed": 0}
    rows = [line.split("\t") for line in DEPTH3_TSV.splitlines()[1:]]
    assert summary["labels"] == [{"label": int(label), "label_wnid": wnid, "name": name, "classes": int(classes),
                                  "for_example": example} for label, wnid, name, classes, example in rows]


def test_a_summary_says_how_many_classes_were_removed(curate_cli):
    result = curate_cli("exclude")
    assert result.stderr == "771 labels over 771 classes: exclude targets=pascal-voc; 229 classes removed\n"
    assert len(result.stdout.splitlines()) == 1 + 771


def test_show_as_json(curate_cli, depth3):
    record = json.loads(curate_cli("show", depth3, "--json").stdout)
    assert {key: record[key] for key in ("recipe", "params", "tree_rule", "wordnet_version", "base", "label_count")} == {
        "recipe": "down-up", "params": {"depth": 3}, "tree_rule": "first-name", "wordnet_version": "3.0",
        "base": "ilsvrc2012", "label_count": 9}
    assert len(record["classes"]) == 1000
    assert {"wnid": "n02085620", "name": "Chihuahua", "label": 0, "label_wnid": "n00003553", "label_name": "whole",
            "reason": None} in record["classes"]
    assert {"wnid": "n15075141", "name": "toilet tissue", "label": 2, "label_wnid": "n00019613",
            "label_name": "substance", "reason": None} in record["classes"]


def test_show_as_json_keeps_why_a_class_went(curate_cli, tmp_path):
    out = tmp_path / "771.parquet"
    assert curate_cli("exclude", "-o", out).exit_code == 0
    record = json.loads(curate_cli("show", out, "--json").stdout)
    assert {"wnid": "n02085620", "name": "Chihuahua", "label": None, "label_wnid": None, "label_name": None,
            "reason": "removed: under n02084071 dog"} in record["classes"]


def test_on_a_terminal_summaries_are_tables(curate_cli, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then takes stdout for a terminal
    monkeypatch.setenv("COLUMNS", "120")
    coarse = curate_cli("coarsen", "--depth", "3")
    assert "9 labels over 1,000 classes" in coarse.stdout and "┏" in coarse.stdout and coarse.stderr == ""
    found = curate_cli("find", "whooping", "crane")
    assert "┏" in found.stdout and "n02013177" in found.stdout and "\t" not in found.stdout


def test_diff_shows_the_wnid_of_a_label_whose_name_another_label_shares(curate_cli, tmp_path, depth3):
    depth2 = tmp_path / "depth2.parquet"
    assert curate_cli("coarsen", "--depth", "2", "-o", depth2).exit_code == 0
    lines = curate_cli("diff", depth2, depth3).stdout.splitlines()
    assert "n07565083 menu: matter → substance (n00020090)" in lines
    assert "n15075141 toilet tissue: matter → substance (n00019613)" in lines
    assert "n02085620 Chihuahua: object → whole" in lines


def test_every_recipe_summary_comes_as_json(curate_cli):
    summary = json.loads(curate_cli("split", "natural-manmade", "--part", "natural", "--json").stdout)
    assert (summary["classes"], summary["removed"], len(summary["labels"])) == (449, 551, 449)
    assert json.loads(curate_cli("exclude", "--json").stdout)["removed"] == 229
