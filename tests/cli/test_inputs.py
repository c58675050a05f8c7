"""Inputs that used to give silent wrong answers, and options that conflict or go unused: each is now read
right or refused in one sentence, with nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from image_world import FISH, GOLDFISH, SHARK, TENCH, TIGER_SHARK, WHITE_SHARK, error, index_of, labels_file, make_tar, run, touch

from curate.images.index import ImageIndex
from curate.labels.manifest import read_labels

REPO = Path(__file__).resolve().parents[2]


def refused(result, sentence: str) -> None:
    assert (result.exit_code, result.stdout, result.stderr.strip()) == (1, "", f"Error: {sentence}")


def made(curate_cli, tmp_path, *argv):
    out = tmp_path / "out.parquet"
    result = curate_cli(*argv, "-o", out, "-q")
    assert result.exit_code == 0, result.stderr
    return read_labels(out), result


# --- base lists that are not regular files, or cannot be read ---------------------------------------------


def test_a_base_list_that_is_a_pipe_is_refused_not_read(curate_cli, tmp_path):
    """Reading a named pipe would wait for a writer that never comes."""
    os.mkfifo(tmp_path / "pipe")
    refused(curate_cli("coarsen", "--depth", "3", "--base", tmp_path / "pipe", "-o", tmp_path / "out.parquet"),
            f"{tmp_path / 'pipe'} is not a regular file (a device, a pipe or a socket): give a file of wnids or a manifest.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="no /proc/self/mem here")
def test_a_base_list_that_cannot_be_read_is_one_sentence(curate_cli, tmp_path):
    """/proc/self/mem looks like a regular file, and reading it from offset 0 fails (EIO)."""
    refused(curate_cli("coarsen", "--depth", "3", "--base", "/proc/self/mem", "-o", tmp_path / "out.parquet"),
            "Cannot read /proc/self/mem: Input/output error.")
    assert list(tmp_path.iterdir()) == []


# --- text forms of manifests as base lists ---------------------------------------------------------------


def test_a_sidecar_as_base_list_gives_its_kept_classes(curate_cli, tmp_path):
    labels, _ = made(curate_cli, tmp_path, "coarsen", "--depth", "3", "--base", REPO / "manifests" / "pascal-removed-771.txt")
    assert len(labels.rows) == 771
    assert "n02085620" not in {row.wnid for row in labels.rows}  # Chihuahua: removed in the sidecar


def test_what_curate_show_prints_reads_back_as_a_base_list(curate_cli, tmp_path):
    shown = tmp_path / "natural.txt"
    shown.write_text(curate_cli("show", REPO / "manifests" / "natural-449.parquet").stdout)
    labels, _ = made(curate_cli, tmp_path, "coarsen", "--lift", "1", "--base", shown)
    assert len(labels.rows) == 449


def test_a_byte_order_mark_is_not_part_of_the_first_wnid(curate_cli, tmp_path):
    listing = tmp_path / "bom.txt"
    listing.write_bytes("\ufeffn01440764\nn01443537\n".encode())
    labels, _ = made(curate_cli, tmp_path, "coarsen", "--depth", "3", "--base", listing)
    assert [row.wnid for row in labels.rows] == [TENCH, GOLDFISH]


# --- recipes that would give nothing, or run for days ------------------------------------------------------


def test_exclude_that_removes_every_class_is_refused(curate_cli, tmp_path):
    refused(curate_cli("exclude", "--synset", "n00001740", "-o", tmp_path / "out.parquet"),
            "exclude targets=custom: n00001740 removes every class of ilsvrc2012: nothing is left to label.")
    assert list(tmp_path.iterdir()) == []


def test_a_huge_lift_stops_at_the_fixed_point_and_says_so(tmp_path):
    out = tmp_path / "out.parquet"
    done = subprocess.run([sys.executable, "-m", "curate", "coarsen", "--lift", "1000000000", "-o", out, "-q"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stderr.strip() == ("Note: --lift is 1000000000, but lifting stops at the fixed point after 3: lifting "
                                   "again changes nothing, so the manifest records lift=3.")
    labels = read_labels(out)
    assert labels.params == {"lift": 3} and labels.label_count == 2


# --- options that conflict, or that nothing would use -----------------------------------------------------


CONFLICTS = [
    (["exclude", "--targets", "pascal-voc", "--synset", "n02084071"],
     "Give either a built-in target set (--targets) or your own targets (--synset, --synsets-file), not both."),
    (["split", "natural-manmade", "--part", "natural", "--seed", "5"],
     "--seed applies to the random and superclass splits; the natural-manmade split has no seed."),
    (["extend", "--add", "3", "--min-images", "3"],
     "--min-images needs --images: the images per synset are counted in an image index."),
]


@pytest.mark.parametrize("argv,sentence", CONFLICTS, ids=["exclude targets and synsets", "split seed", "extend min-images"])
def test_conflicting_or_unused_options_are_refused(curate_cli, tmp_path, argv, sentence):
    refused(curate_cli(*argv, "-o", tmp_path / "out.parquet"), sentence)
    assert list(tmp_path.iterdir()) == []


def test_the_random_split_still_takes_a_seed(curate_cli, tmp_path):
    labels, _ = made(curate_cli, tmp_path, "split", "random", "--part", "a", "--seed", "5")
    assert labels.params == {"method": "random", "part": "a", "seed": 5}


def test_an_unknown_split_name_is_refused(tmp_path):
    index = ["index", tmp_path / "nowhere", "--file-list", index_of(tmp_path, {TENCH: 2}).with_suffix(".parquet.txt")]
    assert error(run(*index, "--split", "bogus", "-o", tmp_path / "x.parquet")) == (
        "Error: --split must be one of train, val, test, not 'bogus'."
    )


# --- a folder where a file is expected -------------------------------------------------------------------


def test_a_folder_given_as_a_manifest_says_so(curate_cli, tmp_path):
    refused(curate_cli("show", tmp_path), f"{tmp_path} is a folder, not a label manifest.")
    refused(curate_cli("coarsen", "--depth", "3", "--base", tmp_path), f"{tmp_path} is a folder, not a class list.")


def test_a_folder_given_as_val_labels_or_images_says_so(tmp_path):
    touch(tmp_path / "val" / "v1.JPEG")
    (tmp_path / "labels").mkdir()
    assert error(run("index", tmp_path / "val", "--val-labels", tmp_path / "labels", "-o", tmp_path / "x.parquet")) == (
        f"Error: {tmp_path / 'labels'} is a folder, not a file that can be read as image labels."
    )
    assert error(run("subset", tmp_path / "labels", "--per-class", 1, "-o", tmp_path / "x.parquet")) == (
        f"Error: {tmp_path / 'labels'} is a folder, not an image index."
    )


# --- archives that are damaged: reported like any other file, or an error with --strict ---------------------


def test_a_damaged_tar_is_reported_and_the_rest_indexed(tmp_path):
    root = tmp_path / "fall11"
    root.mkdir()
    make_tar(root / f"{TENCH}.tar", {"a.JPEG": b"a", "b.JPEG": b"b"})
    (root / f"{GOLDFISH}.tar").write_bytes(make_tar(tmp_path / "whole.tar", {"c.JPEG": b"c" * 3000}).read_bytes()[:2000])
    result = run("index", root, "-o", tmp_path / "index.parquet", "--report", tmp_path / "report.json")
    assert result.exit_code == 0, result.stderr
    assert ImageIndex.read(tmp_path / "index.parquet").class_counts() == {TENCH: 2}
    assert "damaged archive" in result.stderr and f"{GOLDFISH}.tar" in result.stderr
    import json

    assert json.loads((tmp_path / "report.json").read_text())["damaged"] == [f"{GOLDFISH}.tar"]


def test_strict_makes_anything_reported_an_error(tmp_path):
    root = tmp_path / "train"
    touch(root / TENCH / "a.JPEG")
    touch(root / TENCH / "empty.JPEG", b"")
    assert error(run("index", root, "--strict", "--sizes", "-o", tmp_path / "index.parquet")) == (
        f"Error: {root} holds what cannot be indexed (empty file: 1), for example {TENCH}/empty.JPEG (empty file); "
        "without --strict it is reported and left out."
    )
    assert not (tmp_path / "index.parquet").exists()


# --- a label set the index only partly covers: apply and pretrain agree, and restrict is the way forward ----


def test_apply_refuses_a_table_whose_label_has_no_training_images(tmp_path):
    index = index_of(tmp_path, {TENCH: 4, GOLDFISH: 2})
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: SHARK})
    assert error(run("apply", "--labels", labels, "--images", index, "--allow-missing", "-o", tmp_path / "t.parquet")) == (
        f"Error: 1 label of the 2 has no training images in the index ({SHARK}), and training needs every label: "
        "`curate images restrict` makes a label set of the classes the index has."
    )
    assert not (tmp_path / "t.parquet").exists()


def test_restrict_keeps_the_classes_the_index_has_and_numbers_the_labels_afresh(tmp_path):
    index = index_of(tmp_path, {TENCH: 4, WHITE_SHARK: 2})
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: None, "n01494475": "n01494475"})
    out = tmp_path / "mine.parquet"
    result = run("restrict", "--labels", labels, "--images", index, "-o", out)
    assert result.exit_code == 0, result.stderr
    restricted = read_labels(out)
    assert {row.wnid: row.label_wnid for row in restricted.rows} == {
        TENCH: FISH, GOLDFISH: None, WHITE_SHARK: SHARK, TIGER_SHARK: None, "n01494475": None}
    reasons = {row.wnid: row.reason for row in restricted.rows}
    assert reasons[GOLDFISH] == "removed: no images in index.parquet" and reasons[TIGER_SHARK] == "test"
    assert restricted.label_wnids == [SHARK, FISH] and restricted.recipe == "restrict"
    assert restricted.params == {"of": "test case=1", "images": "index.parquet", "images_hash": ImageIndex.read(index).content_hash}
    assert restricted.base_name == "labels.parquet"
    assert run("apply", "--labels", out, "--images", index, "-o", tmp_path / "t.parquet").exit_code == 0
