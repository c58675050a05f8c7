"""Manifests under git, with real git: the textconv finds curate when git runs it (the environment that set
it up may be gone), a merge of a manifest both branches changed, and line counts of a change."""

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from curate.gitdiff import NOT_FOUND
from curate.labels.commands import coarsen_labels
from curate.labels.manifest import labels_hash, read_labels, write_labels
from curate.labels.textform import show_lines

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
CHIHUAHUA_3, CHIHUAHUA_4 = "n02085620  Chihuahua  ->  n00003553  whole", "n02085620  Chihuahua  ->  n00004258  living thing"


def git(repo: Path, *args: str, path: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """`git ARGS` in `repo`; with `path`, under that PATH alone (what git's textconv finds there)."""
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(["git", *args], cwd=repo, env=env, check=check, capture_output=True, text=True)


def commit_depth(curate_cli, repo: Path, depth: int) -> None:
    """`curate coarsen --depth DEPTH` written to labels.parquet in `repo` and committed."""
    assert curate_cli("coarsen", "--depth", str(depth), "-o", repo / "labels.parquet").exit_code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"depth {depth}")


@pytest.fixture
def repo(tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.email", "t@example.com")
    git(folder, "config", "user.name", "t")
    return folder


@pytest.fixture
def throwaway_venv(tmp_path):
    """A virtual environment with curate in it that a test may move away: its own folder, holding links to
    the interpreter and the packages of the environment that runs the tests."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("the tests do not run in a virtual environment")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    shutil.copy(Path(sys.prefix) / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "lib").symlink_to(Path(sys.prefix) / "lib")
    return venv


def only_these(folder: Path, **programs: str | None) -> str:
    """A PATH of one folder holding links to just `programs` (name -> the program's path)."""
    folder.mkdir()
    for name, program in programs.items():
        (folder / name).symlink_to(program)
    return str(folder)


@pytest.mark.parametrize("finder", ["curate on PATH", "uv"])
def test_git_diff_shows_class_lines_after_the_environment_set_up_is_moved(curate_cli, repo, throwaway_venv, tmp_path,
                                                                             monkeypatch, finder):
    monkeypatch.chdir(repo)
    python = throwaway_venv / "bin" / "python"
    subprocess.run([python, "-m", "curate", "git-setup", "-q"], cwd=repo, check=True)
    assert str(python) in git(repo, "config", "diff.curate.textconv").stdout
    commit_depth(curate_cli, repo, 3)
    assert curate_cli("coarsen", "--depth", "4", "-o", "labels.parquet").exit_code == 0
    bare = only_these(tmp_path / "bare", git=shutil.which("git"), cksum=shutil.which("cksum"))
    assert f"+{CHIHUAHUA_4}" in git(repo, "diff", path=bare).stdout.splitlines()  # by the python it recorded

    throwaway_venv.rename(tmp_path / "moved")
    if finder == "uv":
        uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in UV
        if uv is None:
            pytest.skip("uv is not installed")
        path = only_these(tmp_path / "with-uv", git=shutil.which("git"), uv=uv)
    else:
        path = only_these(tmp_path / "with-curate", git=shutil.which("git"), curate=Path(sys.executable).parent / "curate")
    diff = git(repo, "diff", path=path)
    assert (diff.returncode, diff.stderr) == (0, "")
    assert {f"-{CHIHUAHUA_3}", f"+{CHIHUAHUA_4}", "-# recipe: down-up depth=3", "+# recipe: down-up depth=4"} <= set(
        diff.stdout.splitlines())


def test_where_no_curate_is_found_git_diff_says_so_and_still_runs(curate_cli, repo, throwaway_venv, tmp_path, monkeypatch):
    monkeypatch.chdir(repo)
    subprocess.run([throwaway_venv / "bin" / "python", "-m", "curate", "git-setup", "-q"], cwd=repo, check=True)
    commit_depth(curate_cli, repo, 3)
    before = subprocess.run(["cksum"], stdin=open("labels.parquet", "rb"), capture_output=True, text=True).stdout.strip()
    assert curate_cli("coarsen", "--depth", "4", "-o", "labels.parquet").exit_code == 0
    after = subprocess.run(["cksum"], stdin=open("labels.parquet", "rb"), capture_output=True, text=True).stdout.strip()
    shutil.rmtree(throwaway_venv)
    diff = git(repo, "diff", path=only_these(tmp_path / "bare", git=shutil.which("git"), cksum=shutil.which("cksum")))
    assert (diff.returncode, diff.stderr) == (0, "")
    assert diff.stdout.splitlines()[-4:] == ["@@ -1,2 +1,2 @@", f" {NOT_FOUND}", f"-{before}", f"+{after}"]


def test_a_curate_error_in_git_diff_names_its_cause(curate_cli, repo, monkeypatch):
    """A Parquet file that is not curate's: git stops, as for any textconv that fails, with curate's sentence."""
    monkeypatch.chdir(repo)
    assert curate_cli("git-setup", "-q").exit_code == 0
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1]}), repo / "other.parquet")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "other")
    pq.write_table(pa.table({"x": [2]}), repo / "other.parquet")
    diff = git(repo, "diff", check=False)
    assert diff.returncode == 128
    first = diff.stderr.splitlines()[0]  # git names the old side by a temporary copy of its blob
    assert first.startswith("Error: /") and first.endswith(
        "/other.parquet is a Parquet file but not a curate manifest (it has no curate metadata).")


def test_a_manifest_both_branches_changed_merges_by_rebuilding_one_side(curate_cli, repo, hierarchy, monkeypatch):
    monkeypatch.chdir(repo)
    assert curate_cli("git-setup", "-q").exit_code == 0
    commit_depth(curate_cli, repo, 3)
    git(repo, "checkout", "-qb", "theirs")
    depth5 = coarsen_labels(hierarchy, depth=5)  # as an older curate made it: one class elsewhere
    stale = tuple(replace(row, label_wnid="n00002684", label_name="object") if row.wnid == "n02085620" else row
                  for row in depth5.rows)
    write_labels(replace(depth5, rows=stale), repo / "labels.parquet")
    git(repo, "commit", "-qam", "depth 5")
    git(repo, "checkout", "-q", "main")
    assert curate_cli("coarsen", "--depth", "4", "-o", "labels.parquet").exit_code == 0
    git(repo, "commit", "-qam", "depth 4")

    merge = git(repo, "merge", "theirs", check=False)
    assert merge.returncode == 1 and "CONFLICT (content): Merge conflict in labels.parquet" in merge.stdout
    ours = git(repo, "diff", "--base", "labels.parquet").stdout.splitlines()  # what this branch changed
    assert {f"-{CHIHUAHUA_3}", f"+{CHIHUAHUA_4}"} <= set(ours)
    theirs = git(repo, "diff", "HEAD...MERGE_HEAD", "--", "labels.parquet").stdout.splitlines()
    assert "+n02085620  Chihuahua  ->  n00002684  object" in theirs
    git(repo, "checkout", "--theirs", "labels.parquet")
    rebuilt = curate_cli("rebuild", "labels.parquet")
    assert rebuilt.exit_code == 0 and "1 class changed label" in rebuilt.stderr
    assert labels_hash(read_labels(repo / "labels.parquet")) == labels_hash(depth5)
    git(repo, "add", "labels.parquet")
    git(repo, "commit", "-q", "--no-edit")
    assert git(repo, "status", "--short").stdout == ""
    merged = git(repo, "diff", "HEAD~1", "HEAD").stdout.splitlines()
    assert {"-# recipe: down-up depth=4", "+# recipe: down-up depth=5", f"-{CHIHUAHUA_4}"} <= set(merged)


def test_git_apply_stat_counts_the_class_lines_that_git_diff_stat_cannot(curate_cli, repo, hierarchy, monkeypatch):
    monkeypatch.chdir(repo)
    assert curate_cli("git-setup", "-q").exit_code == 0
    commit_depth(curate_cli, repo, 3)
    assert curate_cli("coarsen", "--depth", "4", "-o", "labels.parquet").exit_code == 0
    assert " labels.parquet | Bin " in git(repo, "diff", "--stat").stdout  # git's --stat never runs a textconv
    before = show_lines(coarsen_labels(hierarchy, depth=3))
    after = show_lines(coarsen_labels(hierarchy, depth=4))
    changed = sum(a != b for a, b in zip(before, after))
    counted = subprocess.run("git diff | git apply --numstat", shell=True, cwd=repo, capture_output=True, text=True)
    assert counted.stdout == f"{changed}\t{changed}\tlabels.parquet\n" and changed > 900


def test_git_diff_of_an_image_index_keeps_its_key_lines(curate_cli, repo, tmp_path, monkeypatch):
    """`curate show` sends an index's key lines to stderr in a pipe; the textconv keeps them in the text."""
    from image_world import GOLDFISH, TENCH, index_of

    from curate.images.index import ImageIndex

    monkeypatch.chdir(repo)
    assert curate_cli("git-setup", "-q").exit_code == 0
    old, new = index_of(tmp_path, {TENCH: 3}, "old.parquet"), index_of(tmp_path, {TENCH: 3, GOLDFISH: 2}, "new.parquet")
    shutil.copy(old, repo / "index.parquet")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "index")
    shutil.copy(new, repo / "index.parquet")
    diff = git(repo, "diff")
    assert diff.stderr == ""
    assert {f"-content_hash: {ImageIndex.read(old).content_hash}", f"+content_hash: {ImageIndex.read(new).content_hash}",
            "-images: 3", "+images: 5", f"+{GOLDFISH}\t2"} <= set(diff.stdout.splitlines())
