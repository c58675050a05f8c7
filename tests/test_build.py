"""`curate build`: every preset, freshness of the committed manifests, and review in git."""

import shutil
import subprocess
from pathlib import Path

import pytest

from curate.labels.manifest import read_labels
from curate.labels.presets import PRESETS

MANIFESTS = Path(__file__).parent.parent / "manifests"
EXPECTED_FILES = {
    "in1k": 1000, "down-up-918": 918, "down-up-753": 753, "down-up-486": 486, "down-up-79": 79, "down-up-9": 9,
    "coarse-127": 127, "coarse-262": 262, "coarse-491": 491, "pascal-removed-771": 771, "oquab-1512": 1512,
    "random-1000": 1000, "natural-449": 449, "manmade-551": 551, "random-half-a": 500, "random-half-b": 500,
}


def test_build_writes_every_preset_with_its_count(curate_cli, tmp_path):
    result = curate_cli("build", "--out", tmp_path / "m")
    assert result.exit_code == 0, result.stderr
    assert {p.name for p in PRESETS} == set(EXPECTED_FILES)
    for name, count in EXPECTED_FILES.items():
        labels = read_labels(tmp_path / "m" / f"{name}.parquet")
        assert len(labels.label_wnids) == count, name
        assert (tmp_path / "m" / f"{name}.txt").read_text().startswith("# recipe: ")
    assert len(result.stdout.splitlines()) == 2 * len(EXPECTED_FILES)


def test_committed_manifests_are_current(curate_cli):
    result = curate_cli("build", "--check", "--out", MANIFESTS)
    assert result.exit_code == 0, result.stderr


def test_check_names_stale_files(curate_cli, tmp_path):
    out = tmp_path / "m"
    shutil.copytree(MANIFESTS, out)
    (out / "coarse-127.txt").write_text("edited\n")
    (out / "in1k.parquet").unlink()
    result = curate_cli("build", "--check", "--out", out)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: 2 files are not what `curate build` writes ({out}/in1k.parquet, {out}/coarse-127.txt): "
        f"run `curate build --out {out}`."
    )


def test_recipes_lists_every_preset(curate_cli):
    result = curate_cli("recipes")
    assert all(f"{p.name}.parquet" in result.stdout for p in PRESETS)


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
    assert curate_cli("git-setup").exit_code == 0
    assert (repo / ".gitattributes").read_text() == "*.parquet diff=curate\n"
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


def test_out_inside_a_file(curate_cli, tmp_path):
    afile = tmp_path / "a.txt"
    afile.write_text("x")
    for out, where in ((afile, "it is"), (afile / "sub", f"{afile} is")):
        result = curate_cli("build", "--out", out)
        assert (result.exit_code, result.stderr.strip()) == (1, f"Error: Cannot write manifests into {out}: {where} a file, not a folder.")
    assert afile.read_text() == "x"
