"""`curate show` on an image index and an image table: provenance, hash, images per class or label."""

from __future__ import annotations

import json

from image_world import FISH, GOLDFISH, SHARK, TENCH, TIGER_SHARK, WHITE_SHARK, index_of, labels_file, run

from curate.images.index import ImageIndex
from curate.images.table import ImageTable


def test_show_an_image_index_and_a_subset_of_it(curate_cli, tmp_path):
    index = index_of(tmp_path, {TENCH: 3, GOLDFISH: 2})
    result = curate_cli("show", index)
    assert result.exit_code == 0, result.stderr
    keys = result.stderr.splitlines()  # not a terminal: the key lines on stderr, the table alone on stdout
    assert keys[:2] == ["kind: image index", f"root: {tmp_path / 'nowhere'}"]
    assert f"content_hash: {ImageIndex.read(index).content_hash}" in keys and "images: 5" in keys
    assert keys[-1] == "splits: train 5"
    assert result.stdout.splitlines() == ["wnid\timages", f"{TENCH}\t3", f"{GOLDFISH}\t2"]
    assert run("subset", index, "--per-class", "1", "-o", tmp_path / "one.parquet").exit_code == 0
    record = json.loads(curate_cli("show", tmp_path / "one.parquet", "--json").stdout)
    assert record["parent_hash"] == ImageIndex.read(index).content_hash
    assert json.loads(record["subset"]) == {"allow_short": False, "per_class": 1, "seed": 0}
    assert (record["images"], record["classes"]) == (2, {GOLDFISH: 1, TENCH: 1})


def test_show_an_image_table_counts_images_per_label(curate_cli, tmp_path):
    index = index_of(tmp_path, {TENCH: 3, GOLDFISH: 2, WHITE_SHARK: 4, TIGER_SHARK: 1})
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: SHARK})
    assert run("apply", "--labels", labels, "--images", index, "-o", tmp_path / "t.parquet").exit_code == 0
    record = json.loads(curate_cli("show", tmp_path / "t.parquet", "--json").stdout)
    table = ImageTable.read(tmp_path / "t.parquet")
    assert (record["kind"], record["images"], record["content_hash"]) == ("image table", 10, table.content_hash)
    assert record["images_hash"] == ImageIndex.read(index).content_hash and record["labels_recipe"] == "test case=1"
    assert record["labels"] == [{"label": 0, "label_wnid": SHARK, "images": 5}, {"label": 1, "label_wnid": FISH, "images": 5}]
    text = curate_cli("show", tmp_path / "t.parquet").stdout.splitlines()
    assert text[-3:] == ["label\tlabel_wnid\timages", f"0\t{SHARK}\t5", f"1\t{FISH}\t5"]
