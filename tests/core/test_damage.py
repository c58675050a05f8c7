"""Damaged files give one sentence, never a silently wrong answer: real byte flips in a Parquet footer, and in
a store's shards and pixel array; edited metadata; a truncated store."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.errors import CurateError
from curate.images.index import ImageIndex
from image_world import GOLDFISH, TENCH, index_of


def flipped(path: Path, position: int, bit: int, out: Path) -> Path:
    """A copy of `path` at `out` with one bit of one byte flipped."""
    data = bytearray(path.read_bytes())
    data[position] ^= 1 << bit
    out.write_bytes(data)
    return out


def footer_positions(path: Path) -> range:
    """Where a Parquet file's footer is: its encoded metadata, its length and the closing magic."""
    data = path.read_bytes()
    return range(len(data) - 8 - int.from_bytes(data[-8:-4], "little"), len(data))


def test_every_footer_flip_is_refused_or_reads_back_the_same(tmp_path):
    index = index_of(tmp_path, {TENCH: 70, GOLDFISH: 50})
    original = ImageIndex.read(index)
    outcomes = {"refused": 0, "same": 0}
    for position in footer_positions(index):
        damaged = flipped(index, position, position % 8, tmp_path / "damaged.parquet")
        try:
            read = ImageIndex.read(damaged)
        except CurateError as error:
            assert str(error).startswith(f"{damaged} ") and str(error).count(". ") == 0, error
            outcomes["refused"] += 1
            continue
        assert read.rows.equals(original.rows) and read.metadata == original.metadata, position
        outcomes["same"] += 1
    assert outcomes["refused"] > 100 and outcomes["same"] > 0  # the loop reached both outcomes


def row_count_flip(index: Path, out: Path) -> Path:
    """A copy of `index` whose footer says it has fewer rows, its pages unchanged."""
    rows = pq.read_metadata(index).num_rows
    for position in footer_positions(index):
        for bit in range(8):
            damaged = flipped(index, position, bit, out)
            try:
                if 0 < pq.read_table(damaged).num_rows < rows:
                    return damaged
            except Exception:
                pass
    raise AssertionError("no single flip of the footer changed the row count")


def test_show_refuses_an_index_whose_footer_lost_rows(curate_cli, tmp_path):
    damaged = row_count_flip(index_of(tmp_path, {TENCH: 70, GOLDFISH: 50}), tmp_path / "damaged.parquet")
    result = curate_cli("show", damaged)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.strip() == (f"Error: {damaged} was changed after curate wrote it: its metadata or row count do "
                                     "not match its metadata hash.")


def test_show_refuses_a_manifest_whose_metadata_was_edited(curate_cli, depth3, tmp_path):
    table = pq.read_table(depth3)
    metadata = {**table.schema.metadata, b"curate.recipe": b"totally-different"}
    edited = tmp_path / "edited.parquet"
    pq.write_table(table.replace_schema_metadata(metadata), edited)
    result = curate_cli("show", edited)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.strip() == (f"Error: {edited} was changed after curate wrote it: its metadata or row count do "
                                     "not match its metadata hash.")


def test_metadata_that_is_not_text_is_refused(curate_cli, depth3, tmp_path):
    table = pq.read_table(depth3)
    metadata = {**table.schema.metadata, b"curate.recipe": b"\xff\xfe"}
    edited = tmp_path / "edited.parquet"
    pq.write_table(table.replace_schema_metadata(metadata), edited)
    result = curate_cli("show", edited)
    assert (result.exit_code, result.stdout, result.stderr.strip()) == (
        1, "", f"Error: {edited} is damaged: its metadata is not text.")


def test_a_file_without_a_metadata_hash_is_refused(curate_cli, depth3, tmp_path):
    table = pq.read_table(depth3)
    metadata = {k: v for k, v in table.schema.metadata.items() if k != b"curate.metadata_hash"}
    old = tmp_path / "old.parquet"
    pq.write_table(table.replace_schema_metadata(metadata), old)
    result = curate_cli("show", old)
    assert (result.exit_code, result.stdout, result.stderr.strip()) == (
        1, "", f"Error: {old} has no metadata hash (an older curate wrote it, or its footer is damaged): write it again "
               "with this curate (`curate build` for a preset).")

