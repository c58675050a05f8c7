"""Groupings users bring (issue 25): `curate import`, `--under`, N x K superclasses, superclass-disjoint splits,
`images restrict --min-images` and `images subset --holdout`: exact counts, parameters in the metadata, error
sentences, and the same content hash under any PYTHONHASHSEED."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from image_world import GOLDFISH, TENCH, WHITE_SHARK, error, index_of, run

from curate.images.index import ImageIndex
from curate.labels.manifest import read_labels

MANIFESTS = Path(__file__).parents[2] / "manifests"
DOG, COW, CHIHUAHUA, TABBY = "n02084071", "n01887787", "n02085620", "n02123045"


def made(curate_cli, path: Path, *args):
    result = curate_cli(*args, "-o", path)
    assert result.exit_code == 0, result.stderr
    return read_labels(path)


def members(labels) -> dict[str, list[str]]:
    return {wnid: [row.wnid for row in rows] for wnid, rows in labels.members().items()}


# --- curate import --------------------------------------------------------------------------------------------


def test_import_a_tsv_of_names(curate_cli, tmp_path):
    source = tmp_path / "pets.tsv"
    source.write_text(f"wnid\tlabel\n{CHIHUAHUA}\tdogs\nn02085782\tdogs\n{TABBY}\tcats\nn02123159\tcats\n{TENCH}\t\n")
    labels = made(curate_cli, tmp_path / "pets.parquet", "import", source)
    assert members(labels) == {CHIHUAHUA: [CHIHUAHUA, "n02085782"], TABBY: [TABBY, "n02123159"]}
    assert {row.label_name for row in labels.kept} == {"dogs", "cats"}
    assert [row.reason for row in labels.rows if row.label_wnid is None] == ["removed: no label in pets.tsv"]
    assert labels.params == {"file": "pets.tsv", "format": "tsv", "labels": "name",
                             "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}


def test_import_integer_ids_keeps_their_order(curate_cli, tmp_path):
    source = tmp_path / "ids.csv"
    source.write_text(f"{TENCH},2\n{GOLDFISH},0\n{CHIHUAHUA},1\nn02085782,1\n")
    labels = made(curate_cli, tmp_path / "ids.parquet", "import", source)
    assert labels.label_wnids == [GOLDFISH, CHIHUAHUA, TENCH]  # label 1 is named by its first class
    assert {row.wnid: row.label_name for row in labels.kept}[CHIHUAHUA] == "label 1"
    table = pq.read_table(tmp_path / "ids.parquet").to_pydict()
    assert dict(zip(table["wnid"], table["label"])) == {TENCH: 2, GOLDFISH: 0, CHIHUAHUA: 1, "n02085782": 1}


def test_import_timms_class_map_numbers_as_timm_does(curate_cli, tmp_path):
    from timm.data.readers.class_map import load_class_map

    wnids = [line for line in (Path(__file__).parents[2] / "curate/data/ilsvrc2012.txt").read_text().split()][::-1]
    source = tmp_path / "class_map.txt"
    source.write_text("\n".join(wnids[:100]) + "\n")  # 100 ILSVRC classes in reverse wnid order
    made(curate_cli, tmp_path / "map.parquet", "import", source)
    table = pq.read_table(tmp_path / "map.parquet").to_pydict()
    assert dict(zip(table["wnid"], table["label"])) == load_class_map(str(source))
    assert len(table["wnid"]) == 100 and json.loads(pq.read_schema(tmp_path / "map.parquet").metadata[b"curate.params"])["format"] == "class map"


def pandas_rewrite(source: Path, target: Path) -> None:
    import pandas as pd

    frame = pd.read_parquet(source)
    frame.index = frame.index + 10  # not a RangeIndex from 0: pandas writes it as __index_level_0__
    frame.to_parquet(target)


def duckdb_rewrite(source: Path, target: Path) -> None:
    import duckdb

    duckdb.sql(f"COPY (SELECT * FROM '{source}') TO '{target}' (FORMAT parquet)")


def polars_rewrite(source: Path, target: Path) -> None:
    import polars as pl

    pl.read_parquet(source).write_parquet(target)


@pytest.mark.parametrize("rewrite", [pandas_rewrite, duckdb_rewrite, polars_rewrite])
@pytest.mark.parametrize("preset", ["pascal-removed-771", "coarse-127"])
def test_import_a_manifest_another_tool_rewrote(curate_cli, tmp_path, rewrite, preset):
    original = MANIFESTS / f"{preset}.parquet"
    rewritten = tmp_path / "rewritten.parquet"
    rewrite(original, rewritten)
    assert "curate manifest" in curate_cli("show", rewritten).stderr  # curate refuses it as it is
    imported = made(curate_cli, tmp_path / "imported.parquet", "import", rewritten)
    before = read_labels(original)
    assert imported.rows == before.rows and imported.label_wnids == before.label_wnids
    assert imported.label_count == int(preset.rsplit("-", 1)[1])
    diff = curate_cli("diff", original, tmp_path / "imported.parquet").stdout.splitlines()
    assert diff[-1] == f"0 classes changed label; 0 labels created, 0 dropped; labels {imported.label_count} → {imported.label_count}"


def test_an_imported_manifest_trains_through_images_apply(curate_cli, tmp_path):
    source = tmp_path / "fish.csv"
    source.write_text(f"{TENCH},fish\n{GOLDFISH},fish\n{WHITE_SHARK},shark\n")
    made(curate_cli, tmp_path / "fish.parquet", "import", source)
    index = index_of(tmp_path, {TENCH: 3, GOLDFISH: 2, WHITE_SHARK: 4})
    assert run("apply", "--labels", tmp_path / "fish.parquet", "--images", index, "-o", tmp_path / "t.parquet").exit_code == 0
    table = pq.read_table(tmp_path / "t.parquet").to_pydict()
    assert sorted(zip(table["wnid"], table["label"])) == sorted([(TENCH, 0)] * 3 + [(GOLDFISH, 0)] * 2 + [(WHITE_SHARK, 1)] * 4)
    assert "fish" in curate_cli("show", tmp_path / "fish.parquet").stdout


IMPORT_ERRORS = [
    ("bad.tsv", f"{TENCH}\t0\nn0144076\t1\n", "Error: 'n0144076' on line 2 of bad.tsv is not a WordNet 3.0 noun id: ids look like n01440764."),
    ("bad.tsv", f"{TENCH}\t0\nn01440760\t1\n", "Error: n01440760 on line 2 of bad.tsv is not a noun synset of WordNet 3.0."),
    ("bad.tsv", f"{TENCH}\t0\n{GOLDFISH}\t1\n{TENCH}\t2\n", f"Error: {TENCH} is listed twice in bad.tsv, on line 1 and on line 3."),
    ("bad.csv", f"{TENCH},0\n{GOLDFISH},2\n", "Error: bad.csv has no class with label 1, though its labels go up to 2: ids must run from 0 without gaps, as a model's outputs do."),
    ("bad.csv", f"{TENCH},-1\n{GOLDFISH},0\n", "Error: The label -1 on line 1 of bad.csv is negative: ids count from 0."),
    ("bad.csv", f"{TENCH},0\n{GOLDFISH},fish\n", "Error: bad.csv mixes kinds of label: on line 1 the integer '0', on line 2 the name 'fish'; give every label as an integer id, a wnid, or a name."),
    ("map.txt", f"{TENCH}\n\n{GOLDFISH}\n", "Error: Line 2 of map.txt is empty, and timm's class map would number it as label 1: remove it."),
    ("bad.csv", f"wnid,label\n{TENCH},n01440760\n", "Error: n01440760 on line 2 of bad.csv is not a noun synset of WordNet 3.0."),
]


@pytest.mark.parametrize("name,text,sentence", IMPORT_ERRORS)
def test_import_refuses_a_bad_grouping_in_one_sentence(curate_cli, tmp_path, name, text, sentence):
    (tmp_path / name).write_text(text)
    result = curate_cli("import", tmp_path / name, "-o", tmp_path / "out.parquet")
    assert (result.exit_code, result.stderr.strip()) == (1, sentence)
    assert not (tmp_path / "out.parquet").exists()


# --- --under, N x K, superclass splits ----------------------------------------------------------------------


def test_under_restricts_the_base_before_the_recipe(curate_cli, tmp_path):
    labels = made(curate_cli, tmp_path / "dogs.parquet", "coarsen", "--depth", "14", "--under", DOG)
    assert (labels.label_count, len(labels.kept), len(labels.rows)) == (14, 118, 118)
    assert labels.params == {"depth": 14, "under": DOG} and labels.base_name == "ilsvrc2012"
    rebuilt = curate_cli("rebuild", tmp_path / "dogs.parquet")
    assert rebuilt.exit_code == 0 and f"Ran `coarsen --depth 14 --tree first-name --under {DOG}`" in rebuilt.stderr


@pytest.mark.parametrize("args,kept", [
    (["exclude", "--synset", "n02087122"], 118 - 63),  # the 63 hunting dogs go, as without --under
    (["split", "random", "--part", "a"], 59),
    (["sample", "--classes", "20"], 20),
    (["extend", "--add", "5", "--branch", DOG], 123),
])
def test_every_recipe_takes_under(curate_cli, tmp_path, args, kept):
    labels = made(curate_cli, tmp_path / "out.parquet", *args, "--under", DOG)
    assert len(labels.kept) == kept and labels.params["under"] == DOG


def test_under_a_synset_above_no_class_is_one_sentence(curate_cli):
    result = curate_cli("coarsen", "--lift", "1", "--under", COW)
    assert result.stderr == f"Error: None of the 1000 classes of ilsvrc2012 lies under {COW} cow.\n"


def test_n_superclasses_by_k_subclasses(curate_cli, tmp_path):
    every = made(curate_cli, tmp_path / "all.parquet", "coarsen", "--depth", "6", "--subclasses", "10")
    assert (every.label_count, len(every.kept)) == (14, 140)
    some = made(curate_cli, tmp_path / "some.parquet", "coarsen", "--depth", "6", "--subclasses", "10", "--superclasses", "8", "--seed", "1")
    assert (some.label_count, len(some.kept), len(some.rows)) == (8, 80, 1000)
    assert set(some.label_wnids) < set(every.label_wnids) and {len(m) for m in members(some).values()} == {10}
    assert some.params == {"depth": 6, "subclasses": 10, "superclasses": 8, "seed": 1} and some.recipe == "n-by-k"
    reasons = [row.reason for row in some.rows if row.label_wnid is None]
    undrawn = {reason.split()[3] for reason in reasons if reason.endswith("is not among the superclasses drawn")}
    cut = {reason.split()[8] for reason in reasons if reason.startswith("removed: not among the 10 classes drawn of")}
    assert len(undrawn) == 6 and cut and cut <= set(some.label_wnids) and not undrawn & set(some.label_wnids)
    sizes = [len(m) for m in members(made(curate_cli, tmp_path / "d6.parquet", "coarsen", "--depth", "6")).values()]
    assert sum(reason.endswith("of the 10 classes asked") for reason in reasons) == sum(n for n in sizes if n < 10)
    assert curate_cli("rebuild", tmp_path / "some.parquet").exit_code == 0


@pytest.mark.parametrize("args,sentence", [
    (["--subclasses", "500"], "Error: --subclasses is 500, more than any superclass at depth 6 holds (the largest, n00015388 animal, holds 398)."),
    (["--subclasses", "10", "--superclasses", "15"], "Error: --superclasses must be between 1 and the 14 superclasses at depth 6 that hold 10 classes or more, not 15."),
    (["--superclasses", "3"], "Error: --superclasses goes with --subclasses."),
])
def test_n_by_k_mistakes(curate_cli, args, sentence):
    result = curate_cli("coarsen", "--depth", "6", *args)
    assert (result.exit_code, result.stderr.strip()) == (1, sentence)


def test_superclass_split_keeps_superclasses_whole(curate_cli, tmp_path):
    parts = {part: made(curate_cli, tmp_path / f"{part}.parquet", "split", "superclass", "--depth", "5", "--sizes", "20,8,8",
                        "--part", part) for part in ("train", "val", "test")}
    assert {part: len(labels.kept) for part, labels in parts.items()} == {"train": 483, "val": 424, "test": 93}
    kept = [{row.wnid for row in labels.kept} for labels in parts.values()]
    assert set.union(*kept) == set(parts["train"].label_wnids + parts["val"].label_wnids + parts["test"].label_wnids)
    assert sum(map(len, kept)) == 1000  # each class in one part
    depth5 = made(curate_cli, tmp_path / "d5.parquet", "coarsen", "--depth", "5")
    superclass = {row.wnid: row.label_wnid for row in depth5.rows}
    owners = [{superclass[wnid] for wnid in part} for part in kept]
    assert [len(o) for o in owners] == [20, 8, 8] and not (owners[0] & owners[1] or owners[0] & owners[2] or owners[1] & owners[2])
    assert parts["val"].params == {"method": "superclass", "part": "val", "depth": 5, "sizes": "20,8,8", "seed": 0}


@pytest.mark.parametrize("args,sentence", [
    (["--depth", "5", "--sizes", "20,6,8"], "Error: --sizes 20,6,8 add up to 34, but the base has 36 superclasses at depth 5: give counts that add up to 36."),
    (["--depth", "5", "--sizes", "20,16"], "Error: --sizes takes the train, val and test counts of superclasses, e.g. 20,6,8, not '20,16'."),
    (["--depth", "5"], "Error: The superclass split needs --depth and --sizes."),
])
def test_superclass_split_mistakes(curate_cli, args, sentence):
    result = curate_cli("split", "superclass", "--part", "train", *args)
    assert (result.exit_code, result.stderr.strip()) == (1, sentence)


def test_depth_and_sizes_belong_to_the_superclass_split(curate_cli):
    result = curate_cli("split", "random", "--part", "a", "--depth", "5")
    assert result.stderr == "Error: --depth and --sizes go with the superclass split, not the random split.\n"


# --- images restrict --min-images, images subset --holdout ---------------------------------------------------


def test_restrict_drops_classes_with_too_few_images(tmp_path):
    index = index_of(tmp_path, {TENCH: 12, GOLDFISH: 8, WHITE_SHARK: 3})
    out = tmp_path / "mine.parquet"
    result = run("restrict", "--labels", MANIFESTS / "in1k.parquet", "--images", index, "--min-images", 5, "-o", out)
    assert result.exit_code == 0, result.stderr
    labels = read_labels(out)
    assert [row.wnid for row in labels.kept] == [TENCH, GOLDFISH]
    assert {row.wnid: row.reason for row in labels.rows}[WHITE_SHARK] == "removed: 3 images in index.parquet, fewer than 5"
    assert labels.params["min_images"] == 5
    assert error(run("restrict", "--labels", MANIFESTS / "in1k.parquet", "--images", index, "--min-images", 13)) == (
        "Error: None of the classes that in1k.parquet keeps has at least 13 images in index.parquet.")


def test_holdout_moves_the_first_k_of_each_class_to_val(tmp_path):
    index = index_of(tmp_path, {TENCH: 12, GOLDFISH: 8})
    held = {}
    for k in (2, 5):
        out = tmp_path / f"held{k}.parquet"
        result = run("subset", index, "--holdout", k, "--seed", 3, "-o", out)
        assert result.exit_code == 0, result.stderr
        assert f"20 of 20 images, {2 * k} of them held out in val" in result.stderr
        rows = ImageIndex.read(out).rows.to_pydict()
        held[k] = {path for path, split in zip(rows["path"], rows["split"]) if split == "val"}
        assert json.loads(ImageIndex.read(out).metadata["subset"]) == {"holdout": k, "seed": 3, "allow_short": False}
    assert len(held[2]) == 4 and held[2] < held[5]  # nested
    per_class = ImageIndex.read(run("subset", index, "--per-class", 5, "--seed", 3, "-o", tmp_path / "p5.parquet")
                                and tmp_path / "p5.parquet").rows["path"].to_pylist()
    assert set(per_class) == held[5]  # the same seeded rank as every subset


def test_holdout_refuses_a_class_it_would_empty(tmp_path):
    index = index_of(tmp_path, {TENCH: 12, GOLDFISH: 4})
    out = tmp_path / "held.parquet"
    assert error(run("subset", index, "--holdout", 4, "-o", out)) == (
        f"Error: 1 class of the index has 4 images or fewer, which would leave nothing to train on: {GOLDFISH} (4); "
        "--allow-short keeps all of theirs in train.")
    assert run("subset", index, "--holdout", 4, "--allow-short", "-o", out).exit_code == 0
    rows = ImageIndex.read(out).rows.to_pydict()
    assert sorted(zip(rows["wnid"], rows["split"])).count((TENCH, "val")) == 4
    assert {split for wnid, split in zip(rows["wnid"], rows["split"]) if wnid == GOLDFISH} == {"train"}


# --- the same under any PYTHONHASHSEED -----------------------------------------------------------------------


def test_every_new_output_is_the_same_under_any_hash_seed(tmp_path):
    index = index_of(tmp_path, {TENCH: 12, GOLDFISH: 8, WHITE_SHARK: 3})
    source = tmp_path / "pets.tsv"
    source.write_text(f"{CHIHUAHUA}\tdogs\nn02085782\tdogs\n{TABBY}\tcats\n")
    commands = {
        "import": ["import", source],
        "under": ["coarsen", "--lift", "1", "--under", "n01317541"],
        "n-by-k": ["coarsen", "--depth", "7", "--subclasses", "5", "--superclasses", "6", "--seed", "2"],
        "superclass": ["split", "superclass", "--depth", "6", "--sizes", "50,10,19", "--part", "test", "--seed", "4"],
        "min-images": ["images", "restrict", "--labels", MANIFESTS / "in1k.parquet", "--images", index, "--min-images", "5"],
        "holdout": ["images", "subset", index, "--holdout", "2", "--seed", "9"],
    }
    for name, args in commands.items():
        hashes = set()
        for seed in ("1", "2"):
            out = tmp_path / f"{name}-{seed}.parquet"
            env = {**os.environ, "PYTHONHASHSEED": seed}
            subprocess.run([sys.executable, "-m", "curate", *map(str, args), "-o", out, "-q"], env=env, check=True)
            hashes.add(pq.read_schema(out).metadata[b"curate.content_hash"])
        assert len(hashes) == 1, name
