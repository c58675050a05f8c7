"""`curate rebuild FILE`: the recipe a manifest records, run again, gives the rows and content hash that
`curate build` (or the recipe's own command) gives; what it cannot rebuild is one sentence, and the file
stays as it was."""

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from image_world import GOLDFISH, TENCH, index_of

from curate.labels.commands import coarsen_labels
from curate.labels.manifest import labels_hash, read_labels, write_labels
from curate.labels.presets import PRESETS

MANIFESTS = Path(__file__).parents[2] / "manifests"


def content_hash(path: Path) -> str:
    return labels_hash(read_labels(path))


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.name)
def test_rebuilding_a_preset_gives_what_build_gives(curate_cli, tmp_path, hierarchy, preset):
    path = tmp_path / f"{preset.name}.parquet"
    shutil.copy(MANIFESTS / path.name, path)
    result = curate_cli("rebuild", path)
    assert (result.exit_code, result.stdout) == (0, f"{path}\n"), result.stderr
    assert content_hash(path) == labels_hash(preset.build(hierarchy)) == content_hash(MANIFESTS / path.name)
    assert read_labels(path) == read_labels(MANIFESTS / path.name)  # metadata too
    assert result.stderr.startswith("Ran `") and ", 0 classes changed label, sha256:" in result.stderr


def test_rebuild_puts_back_the_rows_its_recipe_gives(curate_cli, tmp_path, hierarchy):
    """A manifest whose rows are not what its recipe gives (made by an older curate, or one side of a merge)."""
    depth3 = coarsen_labels(hierarchy, depth=3)
    chihuahua = next(row for row in depth3.rows if row.wnid == "n02085620")
    moved = replace(chihuahua, label_wnid="n00019613", label_name="substance")
    path = tmp_path / "labels.parquet"
    write_labels(replace(depth3, rows=tuple(moved if row is chihuahua else row for row in depth3.rows)), path)
    assert content_hash(path) != labels_hash(depth3)
    result = curate_cli("rebuild", path)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (f"Ran `coarsen --depth 3 --tree first-name` on ilsvrc2012: 9 labels, 1 class changed label, "
                             f"{labels_hash(depth3)[:19]}…\n")
    assert read_labels(path) == depth3


def test_rebuild_reads_a_base_list_beside_the_manifest(curate_cli, tmp_path):
    (tmp_path / "mine.txt").write_text("n02085620\nn02084071\nn01440764\n")
    path = tmp_path / "mine.parquet"
    assert curate_cli("coarsen", "--lift", "1", "--base", tmp_path / "mine.txt", "-o", path).exit_code == 0
    made = content_hash(path)
    assert curate_cli("rebuild", path).exit_code == 0 and content_hash(path) == made

    (tmp_path / "mine.txt").write_text("n02085620\nn01440764\n")
    result = curate_cli("rebuild", path)
    assert (result.exit_code, result.stderr) == (1, (
        f"Error: The class list mine.txt is not the one {path} was made from (its hash differs from the one the "
        "manifest records), so a rebuild would label other classes.\n"))
    (tmp_path / "mine.txt").unlink()
    result = curate_cli("rebuild", path)
    assert (result.exit_code, result.stderr) == (1, (
        f"Error: {path} was made from the class list mine.txt, which is neither built in nor beside it in "
        f"{tmp_path}: put it there to rebuild.\n"))
    assert content_hash(path) == made


@pytest.mark.parametrize("argv", [["exclude", "-s", "n02084071", "-s", "n01503061"],
                                  ["sample", "--classes", "20", "--seed", "3", "--pool", "ilsvrc2012"],
                                  ["extend", "--add", "30", "--branch", "n03405725", "--keep-base-order", "--seed", "2"],
                                  ["split", "random", "--part", "b", "--seed", "5"]],
                         ids=lambda argv: argv[0])
def test_rebuild_runs_each_recipe_with_its_own_options(curate_cli, tmp_path, argv):
    path = tmp_path / "x.parquet"
    assert curate_cli(*argv, "-o", path).exit_code == 0
    made = read_labels(path)
    write_labels(replace(made, rows=made.rows[:1], label_order=()), path)  # the recipe it records, not its rows
    result = curate_cli("rebuild", path)
    assert result.exit_code == 0, result.stderr
    assert read_labels(path) == made and content_hash(path) == labels_hash(made)


def test_what_rebuild_cannot_run_again_is_one_sentence(curate_cli, tmp_path):
    index = index_of(tmp_path, {TENCH: 2, GOLDFISH: 1})
    restricted = tmp_path / "restricted.parquet"
    assert curate_cli("images", "restrict", "--labels", MANIFESTS / "in1k.parquet", "--images", index,
                      "-o", restricted).exit_code == 0
    before = restricted.read_bytes()
    result = curate_cli("rebuild", restricted)
    assert (result.exit_code, result.stderr) == (1, (
        f"Error: {restricted} cannot be rebuilt from what it records: `curate images restrict` took the classes of "
        "an image index, which it does not record; run the command that made it again.\n"))
    assert restricted.read_bytes() == before
