"""`curate build` and `curate presets`: every preset of the one table, its label count, freshness of the
committed manifests, and review in git."""

import json
import shlex
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from curate.labels import presets
from curate.labels.manifest import labels_hash, read_labels
from curate.labels.presets import PRESETS

MANIFESTS = Path(__file__).parents[2] / "manifests"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One `curate build` into a fresh folder: its exit code, stdout and folder."""
    from typer.testing import CliRunner

    from curate.cli import app

    out = tmp_path_factory.mktemp("build") / "m"
    result = CliRunner().invoke(app, ["build", "-o", str(out)])
    return result, out


def test_build_writes_two_files_per_preset(built):
    result, out = built
    assert result.exit_code == 0, result.stderr
    expected = [str(out / f"{preset.name}.{suffix}") for preset in PRESETS for suffix in ("parquet", "txt")]
    assert result.stdout.splitlines() == expected


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.name)
def test_each_preset_has_the_label_count_of_the_table(built, preset):
    _, out = built
    assert read_labels(out / f"{preset.name}.parquet").label_count == preset.label_count
    assert (out / f"{preset.name}.txt").read_text().startswith("# recipe: ")


@pytest.mark.parametrize("command", [["build"], ["build", "--check"]])
def test_a_preset_whose_recipe_misses_its_count_fails(curate_cli, tmp_path, monkeypatch, command):
    wrong = [replace(p, label_count=10) if p.name == "down-up-9" else p for p in PRESETS]
    monkeypatch.setattr(presets, "PRESETS", tuple(wrong))
    result = curate_cli(*command, "-o", tmp_path / "m")
    assert (result.exit_code, result.stderr.strip()) == (
        1, "Error: The preset down-up-9 promises 10 labels, but its recipe (down-up depth=3) gives 9."
    )
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_committed_manifests_are_current(curate_cli):
    result = curate_cli("build", "--check", "--output", MANIFESTS)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == f"All {len(PRESETS)} presets in {MANIFESTS} are current."


def test_check_names_stale_files(curate_cli, tmp_path):
    out = tmp_path / "m"
    shutil.copytree(MANIFESTS, out)
    (out / "coarse-127.txt").write_text("edited\n")
    (out / "in1k.parquet").unlink()
    result = curate_cli("build", "--check", "-o", out)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: 2 files are not what `curate build` writes ({out}/in1k.parquet, {out}/coarse-127.txt): "
        f"run `curate build -o {out}`."
    )


def test_lists_names_each_builtin_list_its_numbering_order_and_timm_file(curate_cli):
    result = curate_cli("lists")
    lines = result.stdout.splitlines()
    assert (result.exit_code, lines[0]) == (0, "name\tnumbering\tclasses\torder\tsource\tabout")
    rows = {line.split("\t")[0]: line.split("\t")[1:5] for line in lines[1:]}
    assert rows == {
        "ilsvrc2012": ["imagenet1k", "1000", "wnid", "timm 1.0.31, timm/data/_info/imagenet_synsets.txt"],
        "imagenet22k": ["imagenet22k", "21841", "wnid", "timm 1.0.31, timm/data/_info/imagenet22k_synsets.txt"],
        "imagenet12k": ["imagenet12k", "11821", "wnid", "timm 1.0.31, timm/data/_info/imagenet12k_synsets.txt"],
        "imagenet21k-p-fall11": ["imagenet21k-p-fall11", "11221", "wnid",
                                 "timm 1.0.31, timm/data/_info/imagenet21k_miil_synsets.txt"],
        "imagenet21k-p-winter21": ["imagenet21k-p-winter21", "10450", "wnid",
                                   "timm 1.0.31, timm/data/_info/imagenet21k_miil_w21_synsets.txt"],
        "imagenet22k-ms": ["imagenet22k-ms", "21842", "its own", "timm 1.0.31, timm/data/_info/imagenet22k_ms_synsets.txt"],
        "imagenet21k-goog": ["imagenet21k-goog", "21843", "wnid", "timm 1.0.31, timm/data/_info/imagenet21k_goog_synsets.txt"],
    }
    listed = json.loads(curate_cli("lists", "--json").stdout)
    assert [(row["name"], row["classes"]) for row in listed] == [(name, int(row[1])) for name, row in rows.items()]


@pytest.mark.parametrize("name", ["presets", "recipes"])  # recipes: its old name, hidden from --help
def test_presets_lists_every_preset_with_its_label_count_and_command(curate_cli, name):
    result = curate_cli(name)
    assert result.exit_code == 0
    lines = [line.split("\t") for line in result.stdout.splitlines()]  # not a terminal: TSV, one preset a line
    assert lines == [["file", "labels", "command", "what"]] + [
        [f"{p.name}.parquet", str(p.label_count), p.command, p.about] for p in PRESETS]
    assert ["down-up-918.parquet", "918", "curate coarsen --depth 15", "bottom-up cut at depth 15 (Huh et al.)"] in lines
    assert "recipes" not in curate_cli("--help").stdout


@pytest.mark.parametrize("preset", [p for p in PRESETS if p.spec != "identity"], ids=lambda preset: preset.name)
def test_each_presets_command_makes_it(curate_cli, preset, hierarchy, tmp_path):
    """A preset's recipe is written in the CLI's own words: run as a curate command, it gives the same rows."""
    assert preset.command == f"curate {preset.spec}"
    out = tmp_path / "x.parquet"
    result = curate_cli(*shlex.split(preset.spec), "-o", out)
    assert result.exit_code == 0, result.stderr
    assert labels_hash(read_labels(out)) == labels_hash(preset.build(hierarchy))
    assert read_labels(out) == read_labels(MANIFESTS / f"{preset.name}.parquet")


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_diff_shows_moved_classes(curate_cli, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    monkeypatch.chdir(repo)
    setup = curate_cli("git-setup", "--quiet")
    assert (setup.exit_code, setup.stdout, setup.stderr) == (0, "", "")
    assert (repo / ".gitattributes").read_text() == "*.parquet diff=curate\n"
    assert curate_cli("git-setup").stderr.startswith("git config diff.curate.textconv: curate show, by ")
    assert curate_cli("coarsen", "--depth", "3", "-o", "labels.parquet").exit_code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "depth 3")
    assert curate_cli("coarsen", "--depth", "4", "-o", "labels.parquet").exit_code == 0
    diff = git(repo, "diff")
    assert "Binary files differ" not in diff
    assert "-n02085620  Chihuahua  ->  n00003553  whole" in diff.splitlines()
    assert "+n02085620  Chihuahua  ->  n00004258  living thing" in diff.splitlines()
    assert "-# recipe: down-up depth=3" in diff.splitlines()


def test_git_setup_outside_a_repository(curate_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = curate_cli("git-setup")
    assert (result.exit_code, result.stderr.strip()) == (1, f"Error: {tmp_path} is not inside a git repository.")


@pytest.mark.parametrize("inside", [False, True], ids=["out is a file", "out inside a file"])
def test_out_that_is_or_is_inside_a_file(curate_cli, tmp_path, inside):
    afile = tmp_path / "a.txt"
    afile.write_text("x")
    out, where = (afile / "sub", f"{afile} is") if inside else (afile, "it is")
    result = curate_cli("build", "-o", out)
    assert (result.exit_code, result.stderr.strip()) == (1, f"Error: Cannot write manifests into {out}: {where} a file, not a folder.")
    assert afile.read_text() == "x"
