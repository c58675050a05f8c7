"""Outputs, inputs and the disk: an output that is another output or an input by another spelling, `-` for a
folder, inputs that are named pipes, a full disk (a real 64 KB tmpfs, and RLIMIT_FSIZE, which needs no
privilege), WordNet folders, and error sentences that stay one short line whatever the input's size."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from image_world import TENCH, error, file_list, run

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"


def curate(*args, cwd: Path, limit: int | None = None) -> subprocess.CompletedProcess:
    """`curate ARGS...` in a process of its own (a named pipe that blocks it cannot hang the tests), its files
    no larger than `limit` bytes where given."""
    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "curate", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, preexec_fn=limited if limit else None)


def refused(result, sentence: str) -> None:
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"Error: {sentence}\n")


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` with its bytes (None for a folder): what a failed command must leave."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


# --- 1. outputs that are one file by two spellings -------------------------------------------------------


def test_report_naming_the_index_by_another_spelling_is_refused(tmp_path, monkeypatch):
    work = tmp_path / "w"
    work.mkdir()
    monkeypatch.chdir(work)
    listing = file_list(work / "list.txt", {TENCH: 3})
    index = work / "x.parquet"
    index.write_bytes(b"the user's old index")
    assert error(run("index", tmp_path, "--file-list", listing, "--report", "../w/x.parquet", "-o", "x.parquet")) == \
        "Error: --report and -o both name x.parquet: give the report another file."
    assert index.read_bytes() == b"the user's old index"


def test_report_a_symlink_to_the_index_is_refused(tmp_path):
    listing = file_list(tmp_path / "list.txt", {TENCH: 3})
    (tmp_path / "report.json").symlink_to(tmp_path / "index.parquet")  # dangling: the index is not written yet
    assert error(run("index", tmp_path, "--file-list", listing, "--report", tmp_path / "report.json",
                     "-o", tmp_path / "index.parquet")) == \
        f"Error: --report and -o both name {tmp_path / 'index.parquet'}: give the report another file."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.txt", "report.json"]


def test_an_output_that_is_an_input_by_a_hard_link_is_refused(tmp_path):
    listing = file_list(tmp_path / "list.txt", {TENCH: 3})
    os.link(listing, tmp_path / "out.parquet")
    assert error(run("index", tmp_path, "--file-list", listing, "-o", tmp_path / "out.parquet")) == \
        f"Error: {tmp_path / 'out.parquet'} is also an input of this command ({listing}): write to another file."
    assert listing.read_text() == f"{TENCH}/{TENCH}_0 1\n{TENCH}/{TENCH}_1 1\n{TENCH}/{TENCH}_2 1\n"


# --- 2. `-` for a folder -------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "sentence"), [
    (("build", "--out", "-"), "Cannot write manifests into '-': give a folder's name (a folder cannot go to stdout)."),
    (("build", "-o", "-", "--check"), "Cannot write manifests into '-': give a folder's name (a folder cannot go to stdout)."),
    (("wordnet", "install", "--nltk-data", "-"), "Cannot write WordNet into '-': give a folder's name (a folder cannot go to stdout)."),
])
def test_dash_for_a_folder_is_refused_and_makes_no_folder(curate_cli, tmp_path, monkeypatch, args, sentence):
    monkeypatch.chdir(tmp_path)
    result = curate_cli(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {sentence}\n")
    assert list(tmp_path.iterdir()) == []


# --- 3. inputs that are not regular files --------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("show", "pipe"),
    ("images", "subset", "pipe", "--per-class", "1", "-o", "out.parquet"),
    ("images", "index", ".", "--file-list", "pipe", "-o", "out.parquet"),
    ("images", "index", ".", "--val-labels", "pipe", "-o", "out.parquet"),
    ("images", "apply", "--labels", "pipe", "--images", "pipe", "-o", "out.parquet"),
])
def test_a_named_pipe_as_an_input_is_refused_without_opening_it(tmp_path, args):
    os.mkfifo(tmp_path / "pipe")
    refused(curate(*args, cwd=tmp_path), "pipe is not a regular file (a named pipe): give a file.")
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_manifest_without_its_suffix_is_read_as_a_manifest(curate_cli, tmp_path):
    shutil.copyfile(MANIFESTS / "coarse-127.parquet", tmp_path / "coarse-127")
    named = curate_cli("coarsen", "--depth", "3", "--base", MANIFESTS / "coarse-127.parquet", "--json")
    unnamed = curate_cli("coarsen", "--depth", "3", "--base", tmp_path / "coarse-127", "--json")
    assert (unnamed.exit_code, unnamed.stderr) == (0, "")
    assert unnamed.stdout.replace("coarse-127", "X") == named.stdout.replace("coarse-127.parquet", "X")


def test_a_parquet_file_without_its_suffix_that_is_no_manifest_says_so(curate_cli, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"wnid": [TENCH]}), tmp_path / "classes")
    result = curate_cli("coarsen", "--depth", "3", "--base", tmp_path / "classes")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {tmp_path / 'classes'} is a Parquet "
                                                                "file but not a curate manifest (it has no curate metadata).\n")


# --- 4. a full disk ---------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KB filesystem (a tmpfs), where mounting is allowed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", disk], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount refused'}); the RLIMIT_FSIZE tests stand in")
    yield disk
    subprocess.run(["umount", disk], check=True)


def index_root(tmp_path: Path, good: int, other: int) -> Path:
    """A class folder of `good` images and `other` files that are not images: a small index and a large --report."""
    folder = tmp_path / "images" / TENCH
    folder.mkdir(parents=True)
    for i in range(good):
        (folder / f"{TENCH}_{i}.JPEG").write_bytes(b"\xff\xd8 not really a jpeg")
    for i in range(other):
        (folder / f"{TENCH}_not_an_image_with_a_long_name_{i:05d}.txt").touch()
    return tmp_path / "images"


def test_build_on_a_full_disk_says_so_and_leaves_no_folder(small_disk, tmp_path):
    result = curate("build", "-o", small_disk / "manifests", "-q", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Error: Cannot write {small_disk / 'manifests'}/")
    assert result.stderr.endswith(": No space left on device.\n") and result.stderr.count("\n") == 1
    assert tree(small_disk) == {}


def test_coarsen_on_a_full_disk_says_so_and_leaves_what_was_there(small_disk, tmp_path):
    (small_disk / "filler").write_bytes(b"x" * 56_000)
    result = curate("coarsen", "--depth", "3", "-o", small_disk / "coarse.parquet", cwd=tmp_path)
    refused(result, f"Cannot write {small_disk / 'coarse.parquet'}: No space left on device.")
    assert tree(small_disk) == {"filler": b"x" * 56_000}


def test_index_whose_report_fills_the_disk_writes_neither(small_disk, tmp_path):
    root = index_root(tmp_path, good=3, other=2000)
    result = curate("images", "index", root, "-o", small_disk / "index.parquet", "--report", small_disk / "report.json",
                    "-q", cwd=tmp_path)
    refused(result, f"Cannot write {small_disk / 'report.json'}: No space left on device.")
    assert tree(small_disk) == {}


def test_build_past_the_file_size_limit_says_so_and_leaves_no_folder(tmp_path):
    result = curate("build", "-o", tmp_path / "new" / "manifests", "-q", cwd=tmp_path, limit=8192)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Error: Cannot write {tmp_path / 'new' / 'manifests'}/")
    assert result.stderr.endswith(": File too large.\n") and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_build_past_the_limit_leaves_every_old_manifest_as_it_was(tmp_path):
    shutil.copytree(MANIFESTS, tmp_path / "manifests")
    old = {name: b"old " + data for name, data in tree(tmp_path / "manifests").items()}
    for name, data in old.items():
        (tmp_path / "manifests" / name).write_bytes(data)
    result = curate("build", "-o", tmp_path / "manifests", "-q", cwd=tmp_path, limit=60_000)  # in1k fits, oquab does not
    assert result.returncode == 1 and result.stderr.endswith(": File too large.\n"), result.stderr
    assert tree(tmp_path / "manifests") == old


def test_index_whose_report_passes_the_limit_writes_neither(tmp_path):
    root = index_root(tmp_path, good=3, other=2000)
    out = tmp_path / "out"
    out.mkdir()
    result = curate("images", "index", root, "-o", out / "index.parquet", "--report", out / "report.json", "-q",
                    cwd=tmp_path, limit=16_384)
    refused(result, f"Cannot write {out / 'report.json'}: File too large.")
    assert tree(out) == {}


def test_coarsen_past_the_limit_says_so_and_leaves_nothing(tmp_path):
    result = curate("coarsen", "--depth", "3", "-o", tmp_path / "coarse.parquet", cwd=tmp_path, limit=4096)
    refused(result, f"Cannot write {tmp_path / 'coarse.parquet'}: File too large.")
    assert list(tmp_path.iterdir()) == []


# --- 5. WordNet folders ----------------------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch):
    """`curate wordnet install` copies Debian's package, whatever the network: NLTK's download fails."""
    import nltk

    def fail(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(nltk, "download", fail)


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").is_file(), reason="Debian's wordnet-base is not installed")
def test_install_makes_its_folder_as_the_umask_says(curate_cli, tmp_path, offline):
    old = os.umask(0o022)
    try:
        result = curate_cli("wordnet", "install", "--nltk-data", tmp_path / "nltk_data", "-q")
    finally:
        os.umask(old)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert oct((tmp_path / "nltk_data" / "corpora" / "wordnet").stat().st_mode & 0o777) == oct(0o755)
    assert [p.name for p in (tmp_path / "nltk_data" / "corpora").iterdir()] == ["wordnet"]  # no staging folder left


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").is_file(), reason="Debian's wordnet-base is not installed")
def test_install_on_a_full_disk_says_so_and_leaves_no_folder(curate_cli, small_disk, offline):
    result = curate_cli("wordnet", "install", "--nltk-data", small_disk / "nltk_data")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: Cannot copy WordNet into {small_disk / 'nltk_data' / 'corpora' / 'wordnet'}: No space left on device.\n")
    assert tree(small_disk) == {}


@pytest.mark.parametrize(("folder", "sentence"), [
    ("missing", "{path} is not a folder: give the nltk_data folder WordNet is installed in."),
    ("empty", "{path} holds no WordNet (no corpora/wordnet in it): give the nltk_data folder WordNet is installed "
              "in, or run `curate wordnet install --nltk-data {path}`."),
])
def test_snapshot_check_refuses_a_given_folder_without_wordnet(tmp_path, folder, sentence):
    (tmp_path / "empty").mkdir()
    result = curate("wordnet", "snapshot", "--check", "--nltk-data", tmp_path / folder, "-q", cwd=tmp_path)
    refused(result, sentence.format(path=tmp_path / folder))


# --- 6. error lines stay short ----------------------------------------------------------------------------


def test_a_check_of_a_folder_missing_every_manifest_names_a_few(curate_cli, tmp_path):
    result = curate_cli("build", "--check", "-o", tmp_path, "-q")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Error: 40 files are not what `curate build` writes ({tmp_path}/in1k.parquet, ")
    assert " and 35 more): run `curate build -o " in result.stderr
    assert result.stderr.count(str(tmp_path)) == 5 + 1  # five files named, and the folder in the command

