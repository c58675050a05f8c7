"""Manifests: validation of what is read, the text form for git, and the semantic diff."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.fileformat import content_hash
from curate.labels.manifest import LABELS, read_labels


@pytest.fixture
def coarse(curate_cli, tmp_path):
    path = tmp_path / "depth3.parquet"
    assert curate_cli("coarsen", "--depth", "3", "-o", path).exit_code == 0
    return path


def rewrite(source, target, change):
    """Copy a manifest with its metadata, changing its table."""
    table = pq.read_table(source)
    pq.write_table(change(table).replace_schema_metadata(table.schema.metadata), target)


def test_show_prints_one_sorted_line_per_class(curate_cli, coarse):
    result = curate_cli("show", coarse)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "# recipe: down-up depth=3"
    class_lines = [line for line in lines if not line.startswith("#")]
    assert len(class_lines) == 1000 and class_lines == sorted(class_lines)
    assert "n02085620  Chihuahua  ->  n00003553  whole" in class_lines


def test_diff_names_moved_classes_and_labels(curate_cli, tmp_path, coarse):
    finer = tmp_path / "depth4.parquet"
    assert curate_cli("coarsen", "--depth", "4", "-o", finer).exit_code == 0
    result = curate_cli("diff", coarse, finer)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:2] == ["--- down-up depth=3 (9 labels)", "+++ down-up depth=4 (17 labels)"]
    assert "n02085620 Chihuahua: whole → living thing" in lines
    assert lines[-1].endswith("labels 9 → 17")
    assert curate_cli("diff", coarse, coarse).stdout.splitlines()[-1] == (
        "0 classes changed label; 0 labels created, 0 dropped; labels 9 → 9"
    )


def test_same_recipe_writes_the_same_bytes(curate_cli, tmp_path, coarse):
    again = tmp_path / "again.parquet"
    curate_cli("coarsen", "--depth", "3", "-o", again)
    assert again.read_bytes() == coarse.read_bytes()


def test_metadata_records_how_the_set_was_made(coarse):
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(coarse).metadata.items()}
    assert meta["curate.recipe"] == "down-up" and meta["curate.params"] == '{"depth": 3}'
    assert meta["curate.tree_rule"] == "first-name" and meta["curate.wordnet_version"] == "3.0"
    assert meta["curate.base"] == "ilsvrc2012" and meta["curate.base_hash"].startswith("sha256:")
    assert meta["curate.content_hash"] == content_hash(pq.read_table(coarse).select(LABELS.schema.names))
    assert not any("time" in key or "date" in key for key in meta)


def bad_manifest_cases(path, tmp_path):
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"x": [1]}), plain)
    text = tmp_path / "text.parquet"
    text.write_text("not parquet")
    no_label = tmp_path / "no_label.parquet"
    rewrite(path, no_label, lambda t: t.drop_columns(["label"]))
    twice = tmp_path / "twice.parquet"
    rewrite(path, twice, lambda t: pa.concat_tables([t, t.slice(0, 1)]))
    edited = tmp_path / "edited.parquet"
    rewrite(path, edited, lambda t: t.set_column(1, "name", pa.array(["x"] * t.num_rows)))
    return [
        (plain, f"Error: {plain} is a Parquet file but not a curate manifest (it has no curate metadata)."),
        (text, f"Error: {text} is not a Parquet file (or it is damaged)."),
        (no_label, f"Error: {no_label} lacks the column label."),
        (twice, f"Error: {twice} lists wnid n01440764 more than once."),
        (edited, f"Error: {edited} was changed after curate wrote it: its rows do not match its content hash."),
        (tmp_path / "absent.parquet", f"Error: {tmp_path / 'absent.parquet'} does not exist."),
    ]


def test_bad_manifests_give_one_sentence(curate_cli, tmp_path, coarse):
    for path, message in bad_manifest_cases(coarse, tmp_path):
        for command in (["show", path], ["diff", coarse, path]):
            result = curate_cli(*command)
            assert (result.exit_code, result.stderr.strip(), result.stdout) == (1, message, "")


def test_verbose_shows_the_traceback(curate_cli, tmp_path):
    from curate.errors import BadManifest

    with pytest.raises(BadManifest):
        curate_cli("--verbose", "show", tmp_path / "absent.parquet")


def test_read_back_equals_what_was_written(coarse, hierarchy, ilsvrc):
    from curate.labels.recipes import coarsen

    assert read_labels(coarse) == coarsen(hierarchy.tree(), ilsvrc, depth=3)


def test_pages_hash_lets_a_reader_skip_rehashing_rows(coarse):
    from curate.fileformat import pages_hash

    meta = pq.read_schema(coarse).metadata
    assert meta[b"curate.pages_hash"].decode() == pages_hash(coarse.read_bytes())


def test_same_rows_written_by_another_tool_are_accepted(tmp_path, coarse):
    copy = tmp_path / "copy.parquet"
    rewrite(coarse, copy, lambda t: t)  # other bytes (no zstd), same rows, curate's metadata copied
    assert copy.read_bytes() != coarse.read_bytes()
    assert read_labels(copy) == read_labels(coarse)
