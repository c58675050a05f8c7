"""curate in a pipe: a reader that leaves early (`| head -2`) ends the command quietly with exit 0, and what
goes down a pipe is data alone (TSV, no boxes, no key lines before a table)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from image_world import GOLDFISH, TENCH, index_of

from curate.images.index import ImageIndex

MANIFESTS = Path(__file__).parents[2] / "manifests"
CURATE = [sys.executable, "-m", "curate"]


def into_a_closed_pipe(*argv) -> subprocess.CompletedProcess:
    """Run curate with its stdout a pipe whose reader has already gone: every write to stdout fails."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([*CURATE, *map(str, argv)], stdout=write, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)


@pytest.mark.parametrize("argv,stderr", [
    (["find", "dog"], ""),
    (["path", "n02084071"], ""),
    (["tree", "n02084071", "--json"], ""),
    (["coarsen", "--depth", "3"], "9 labels over 1,000 classes: down-up depth=3, tree first-name\n"),
    (["exclude", "--json"], ""),
    (["show", MANIFESTS / "coarse-127.parquet"], ""),
    (["diff", MANIFESTS / "in1k.parquet", MANIFESTS / "coarse-127.parquet"], ""),
    (["presets"], ""),
], ids=lambda value: " ".join(map(str, value))[:40] if isinstance(value, list) else None)
def test_a_reader_that_has_gone_ends_the_command_quietly(argv, stderr):
    done = into_a_closed_pipe(*argv)
    assert (done.returncode, done.stderr) == (0, stderr)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_head_takes_its_lines_and_curate_exits_0():
    script = f"{' '.join(CURATE)} tree n00001740 | head -2; echo \"exit ${{PIPESTATUS[0]}}\""  # every noun: MBs of lines
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert done.stdout.splitlines() == ["level\twnid\tname\tilsvrc2012\timagenet22k", "0\tn00001740\tentity\t1000\t21841",
                                        "exit 0"]
    assert done.stderr == ""


def test_a_broken_pipe_that_is_not_stdout_is_no_success():
    """Only stdout's reader leaving is a quiet end: a broken pipe anywhere else still fails the command."""
    script = ("import sys, curate.explore as explore\n"
              "def find(*args): raise BrokenPipeError(32, 'Broken pipe')\n"
              "explore.find = find\n"
              "sys.argv = ['curate', 'find', 'dog']\n"
              "from curate.cli import main\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""


def test_show_of_an_index_in_a_pipe_is_its_table_alone(curate_cli, tmp_path, monkeypatch):
    index = index_of(tmp_path, {TENCH: 3, GOLDFISH: 2})
    keys = ["kind: image index", f"root: {tmp_path / 'nowhere'}", f"content_hash: {ImageIndex.read(index).content_hash}",
            "images: 5", "splits: train 5"]
    result = curate_cli("show", index)
    assert result.stdout.splitlines() == ["wnid\timages", f"{TENCH}\t3", f"{GOLDFISH}\t2"]
    assert [line for line in result.stderr.splitlines() if not line.startswith(("layout: ", "origin_hash: "))] == keys
    cut = subprocess.run(f"{' '.join(CURATE)} show {index} 2>/dev/null | cut -f2", shell=True, capture_output=True, text=True)
    assert cut.stdout == "images\n3\n2\n"

    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then takes stdout for a terminal: the key lines come first there
    on_terminal = curate_cli("show", index)
    assert on_terminal.stderr == "" and on_terminal.stdout.splitlines()[:2] == keys[:2]
    assert on_terminal.stdout.splitlines()[-3:] == ["wnid\timages", f"{TENCH}\t3", f"{GOLDFISH}\t2"]


def test_presets_on_a_terminal_is_a_table(curate_cli, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "250")
    result = curate_cli("presets")
    assert "┏" in result.stdout and "\t" not in result.stdout
    assert "Presets written by `curate build` into manifests/" in result.stdout
