"""`curate levels`: nested label sets as one level manifest; its columns, parent table, nesting check, text
form and determinism."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.fileformat import read_table, write_table
from curate.labels.levels import levels_kind, read_levels

MANIFESTS = Path(__file__).parents[2] / "manifests"
# Huh et al.'s bottom-up counts at depths 3..15 (DESIGN.md, the paper's down_up)
DEPTH_COUNTS = [9, 17, 36, 79, 206, 345, 486, 596, 694, 753, 820, 877, 918]


def written(curate_cli, tmp_path, *args):
    out = tmp_path / "levels.parquet"
    result = curate_cli("levels", *args, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out)
    return out


def test_the_paper_sets_as_three_levels(curate_cli, tmp_path):
    out = written(curate_cli, tmp_path, "down-up-9", "coarse-127", "in1k")
    table = pq.read_table(out)
    assert table.column_names == ["wnid", "name", *(f"{c}_{i}" for i in range(3) for c in ("label", "label_wnid", "label_name"))]
    assert table.num_rows == 1000
    assert [len(set(table[f"label_{i}"].to_pylist())) for i in range(3)] == [9, 127, 1000]
    levels, meta = read_levels(out)
    # each level records the content hash of its label set: the finest is the committed in1k manifest's
    records = json.loads(meta["levels"])
    for record, preset in zip(records, ("down-up-9", "coarse-127", "in1k")):
        assert record["labels_hash"] == pq.read_schema(MANIFESTS / f"{preset}.parquet").metadata[b"curate.content_hash"].decode()
    assert [len(r["parents"] or []) for r in records] == [0, 127, 1000]
    tench = table.slice(0, 1).to_pylist()[0]
    assert (tench["wnid"], tench["label_name_0"], tench["label_name_1"], tench["label_name_2"]) == \
        ("n01440764", "whole", "soft-finned fish", "tench")
    # through the parent table: Chihuahua and dalmatian lie under mammal at level 1 (one lift: all mammals become
    # mammal), and under whole at level 0
    ancestors = levels.ancestors()
    finest = levels.levels[-1].labels.label_index
    assert {ancestors[0][finest["n02085620"]], ancestors[0][finest["n02110341"]]} == {0}
    assert {ancestors[1][finest["n02085620"]], ancestors[1][finest["n02110341"]]} == {levels.levels[1].labels.label_index["n01861778"]}


def test_depths_give_the_paper_counts_at_every_level(curate_cli, tmp_path):
    out = written(curate_cli, tmp_path, "--depths", "3..15")
    table = pq.read_table(out)
    assert len(table.column_names) == 2 + 3 * 13
    assert [len(set(table[f"label_{i}"].to_pylist())) for i in range(13)] == DEPTH_COUNTS
    levels, _ = read_levels(out)
    assert [level.spec for level in levels.levels] == [f"coarsen --depth {d}" for d in range(3, 16)]


def test_depths_then_a_finer_spec(curate_cli):
    result = curate_cli("levels", "--depths", "3,9", "in1k")
    assert result.exit_code == 0, result.stderr
    assert [line.split("\t")[:3] for line in result.stdout.splitlines()] == [
        ["level", "labels", "classes"], ["0", "9", "1000"], ["1", "486", "1000"], ["2", "1000", "1000"]]


BAD = [
    (["coarse-127", "down-up-9"],
     "Error: Level 1 (down-up-9) does not nest in level 0 (coarse-127): its label n00003553 whole holds n01440764 tench, "
     "under n01428580 soft-finned fish at level 0, and n01484850 great white shark, under n01482330 shark."),
    (["exclude", "coarsen --depth 3"],
     "Error: Level 1 (coarsen --depth 3) labels 1000 classes and level 0 (exclude) 771: every level must label the same "
     "classes, and n01514668 cock is in one only."),
    (["--depths", "9..3"], "Error: --depths takes a range of depths like 3..15 or a rising list like 3,6,9, not '9..3'."),
    (["in1k"], "Error: A hierarchy needs two levels or more: give label sets coarse to fine, or --depths."),
    (["down-up-9", "nowhere"], "Error: Unknown label set 'nowhere': give a preset ("),
]


@pytest.mark.parametrize("args,sentence", BAD)
def test_bad_levels_are_one_sentence(curate_cli, tmp_path, args, sentence):
    out = tmp_path / "levels.parquet"
    result = curate_cli("levels", *args, "-o", out)
    assert result.exit_code == 1
    assert result.stderr.startswith(sentence) and result.stderr.count("\n") == 1
    assert not out.exists()


def test_show_gives_each_class_its_label_at_every_level(curate_cli, tmp_path):
    out = written(curate_cli, tmp_path, "down-up-9", "coarse-127", "in1k")
    lines = curate_cli("show", out).stdout.splitlines()
    assert lines[:4] == ["# levels: 3 over 1000 classes, coarse to fine", "# level 0: down-up-9 (down-up depth=3), 9 labels",
                         "# level 1: coarse-127 (up-down lift=1), 127 labels", "# level 2: in1k (identity), 1000 labels"]
    assert len(lines) == 1004
    assert lines[4] == "n01440764  tench  ->  n00003553 whole > n01428580 soft-finned fish > n01440764 tench"
    record = json.loads(curate_cli("show", out, "--json").stdout)
    assert record["classes"][0] == {"wnid": "n01440764", "name": "tench", "labels": [0, 0, 0]}


def test_a_parent_table_that_is_not_the_rows_is_refused(curate_cli, tmp_path):
    out = written(curate_cli, tmp_path, "down-up-9", "coarse-127", "in1k")
    table, meta = read_table(out, levels_kind(3))
    records = json.loads(meta["levels"])
    records[1]["parents"][0] = 1 - records[1]["parents"][0]
    forged = tmp_path / "forged.parquet"
    write_table(table, forged, levels_kind(3), {**meta, "levels": json.dumps(records)})
    result = curate_cli("show", forged)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {forged} has a parent table that is not its rows' (level 1).\n"


def test_the_same_file_under_any_hash_seed(tmp_path):
    seen = set()
    for seed in "01":
        out = tmp_path / f"seed{seed}.parquet"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "curate", "levels", "--depths", "3..15", "in1k", "-o", out, "-q"], env=env,
                       check=True)
        meta = pq.read_schema(out).metadata
        seen.add((meta[b"curate.content_hash"], meta[b"curate.levels"]))
    assert len(seen) == 1


def test_diff_compares_level_by_level(curate_cli, tmp_path):
    old = written(curate_cli, tmp_path, "down-up-9", "coarse-127", "in1k")
    new = old.rename(tmp_path / "old.parquet").with_name("new.parquet")
    assert curate_cli("levels", "down-up-9", "coarse-262", "in1k", "-o", new).exit_code == 0
    lines = curate_cli("diff", tmp_path / "old.parquet", new).stdout.splitlines()
    # level 1 changes as the committed coarse-127 and coarse-262 manifests differ; the other levels not at all
    alone = curate_cli("diff", MANIFESTS / "coarse-127.parquet", MANIFESTS / "coarse-262.parquet").stdout.splitlines()
    assert alone[-1] == "640 classes changed label; 142 labels created, 7 dropped; labels 127 → 262"
    middle = lines.index("## level 1: coarse-127 → coarse-262")
    assert lines[middle + 1 : middle + 1 + len(alone)] == alone
    assert lines[middle - 1] == "0 classes changed label; 0 labels created, 0 dropped; labels 9 → 9"
    assert lines[-1] == "0 classes changed label; 0 labels created, 0 dropped; labels 1000 → 1000"
    changes = json.loads(curate_cli("diff", tmp_path / "old.parquet", new, "--json").stdout)
    assert [len(change["changed"]) for change in changes] == [0, 640, 0]
