"""The curate file format: metadata that says how a file was made, stable bytes, and the two hashes
(the pages hash lets a reader skip re-hashing rows only for the pages curate wrote)."""

import pyarrow.parquet as pq
import pytest

from curate import fileformat
from curate.labels.manifest import LABELS, read_labels


def test_metadata_records_how_the_set_was_made(depth3):
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(depth3).metadata.items()}
    assert meta["curate.kind"] == "labels" and meta["curate.label_count"] == "9"
    assert meta["curate.recipe"] == "down-up" and meta["curate.params"] == '{"depth": 3}'
    assert meta["curate.tree_rule"] == "first-name" and meta["curate.wordnet_version"] == "3.0"
    assert meta["curate.base"] == "ilsvrc2012" and meta["curate.base_hash"].startswith("sha256:")
    assert meta["curate.content_hash"] == fileformat.content_hash(pq.read_table(depth3).select(LABELS.schema.names))
    assert not any("time" in key or "date" in key for key in meta)


def test_same_recipe_writes_the_same_bytes(curate_cli, tmp_path, depth3):
    again = tmp_path / "again.parquet"
    curate_cli("coarsen", "--depth", "3", "-o", again)
    assert again.read_bytes() == depth3.read_bytes()


def test_read_back_equals_what_was_written(depth3, hierarchy, ilsvrc):
    from curate.labels.recipes import coarsen

    assert read_labels(depth3) == coarsen(hierarchy.tree(), ilsvrc, depth=3)


def test_pages_hash_covers_the_bytes_before_the_footer(depth3):
    meta = pq.read_schema(depth3).metadata
    assert meta[b"curate.pages_hash"].decode() == fileformat.pages_hash(depth3.read_bytes())


@pytest.fixture
def hashings(monkeypatch):
    """The row-hashing calls made while a test reads files."""
    calls = []
    real = fileformat.content_hash
    monkeypatch.setattr(fileformat, "content_hash", lambda table: calls.append(table.num_rows) or real(table))
    return calls


def test_a_file_curate_wrote_is_read_without_rehashing_its_rows(depth3, hashings):
    read_labels(depth3)
    assert hashings == []


def test_a_file_rewritten_by_another_tool_has_its_rows_rehashed(depth3, rewrite, tmp_path, hashings):
    copy = rewrite(depth3, tmp_path / "copy.parquet")  # other bytes (no zstd), same rows, curate's metadata
    assert copy.read_bytes() != depth3.read_bytes()
    assert read_labels(copy) == read_labels(depth3)
    assert hashings == [1000]
