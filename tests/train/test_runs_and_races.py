"""Nothing lost under races and signals: one run at a time in a folder (a crashed one's claim taken over), one
grid at a time in a grid's folder, interrupts from the first line of `python -m train` on, quiet data-loader
workers, and options that would be ignored in silence refused in one sentence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from commands import FAST, REPO, error_of, run, tables

SHORT = [*FAST, "--lr", "0.05", "--lr-scheduler", "cosine"]

# `python -m train` whose epochs start slowly (a second each), and which says when an epoch is saved.
SLOW_EPOCHS = """
import runpy, sys, time
from train import checkpoint, runs
real_epoch, real_save = runs.train_one_epoch, checkpoint.save
def slow_epoch(*args, **kwargs):
    time.sleep(1)
    return real_epoch(*args, **kwargs)
def said_save(path, **state):
    real_save(path, **state)
    print("saved", state["epoch"], file=sys.stderr, flush=True)
runs.train_one_epoch, checkpoint.save = slow_epoch, said_save
sys.argv = ["train", *sys.argv[1:]]
runpy.run_module("train", run_name="__main__")
"""


def train(*argv: str, script: str | None = None) -> subprocess.Popen:
    """`python -m train ARGV` in a process of its own (and its own process group)."""
    command = ["-c", script] if script else ["-m", "train"]
    return subprocess.Popen([sys.executable, *command, *argv], cwd=REPO, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


# --- one run at a time in a folder ---------------------------------------------------------------------------


def test_two_runs_started_together_into_one_folder_one_runs_and_one_is_refused(data, tmp_path):
    folder = tmp_path / "run"
    argv = ["pretrain", *tables(data["coarse"]), *SHORT, "--epochs", "2", "--output-dir", str(folder)]
    first, second = train(*argv, script=SLOW_EPOCHS), train(*argv, script=SLOW_EPOCHS)
    ends = {process.pid: (process.wait(timeout=300), process.communicate()[1]) for process in (first, second)}
    assert sorted(code for code, _ in ends.values()) == [0, 1]
    winner = next(pid for pid, (code, _) in ends.items() if code == 0)
    err = next(err for code, err in ends.values() if code == 1)
    assert last_line(err) == (f"Error: {folder} is being used by another run (process {winner}): wait for it to end, "
                              "or give another --output-dir.")
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert [json.loads(line)["epoch"] for line in (folder / "metrics.jsonl").read_text().splitlines()] == [1, 2]


def test_a_killed_run_leaves_no_claim_in_the_way_of_its_resume(data, tmp_path):
    folder = tmp_path / "run"
    process = train("pretrain", *tables(data["coarse"]), *SHORT, "--epochs", "3", "--output-dir", str(folder),
                    script=SLOW_EPOCHS)
    while "saved 0" not in (line := process.stderr.readline()):
        assert line, "the run ended before its first save"
    os.killpg(process.pid, signal.SIGKILL)  # a crash: nothing of it cleans up
    process.wait(timeout=60)
    code, result = run(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "3",
                        "--resume", str(folder / "checkpoint.pt")])
    assert code == 0 and result["epoch"] == 3


# A process that holds a folder's claim, as a live grid does, until it is told to stop.
HOLD = """
import sys, time
from pathlib import Path
from train.claims import claim
claim(Path(sys.argv[1]), "grid")
print("holding", flush=True)
time.sleep(120)
"""


def test_a_grid_refuses_a_folder_another_grid_is_running_in(tmp_path, capsys):
    from commands import SMALL_WORLD

    file = tmp_path / "tiny.toml"
    file.write_text(SMALL_WORLD + '[[pretrain]]\nname = "a"\nlabels = "identity"\nmodel = "tiny"\nepochs = 1\n')
    out = tmp_path / "grid"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], cwd=REPO, text=True, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "holding"
        line = error_of(["grid", str(file), "--output-dir", str(out), "-q"], capsys)
    finally:
        holder.kill()
        holder.wait()
    assert line == (f"Error: {out} is being used by another grid (process {holder.pid}): wait for it to end, or give "
                    "another --output-dir.")
    assert not out.exists()


# --- interrupts ------------------------------------------------------------------------------------------------

# `python -m train`, sent the signal ARGV[1] by itself while it imports its flags (start-up, before torch).
SIGNAL_AT_START_UP = """
import os, runpy, sys
signum = int(sys.argv[1])
class SignalOnImport:
    def find_spec(self, name, path=None, target=None):
        if name == "train.flags":
            os.kill(os.getpid(), signum)
sys.meta_path.insert(0, SignalOnImport())
sys.argv = ["train", *sys.argv[2:]]
runpy.run_module("train", run_name="__main__")
"""


@pytest.mark.parametrize("signum,code,sentence", [(signal.SIGINT, 130, "Interrupted."), (signal.SIGTERM, 143, "Terminated.")])
def test_an_interrupt_during_start_up_is_one_line(tmp_path, signum, code, sentence):
    process = train(str(int(signum)), "pretrain", "--table", str(tmp_path / "t.parquet"), "--output-dir",
                    str(tmp_path / "run"), script=SIGNAL_AT_START_UP)
    out, err = process.communicate(timeout=120)
    assert (process.returncode, out, err) == (code, "", f"{sentence}\n")
    assert sorted(tmp_path.iterdir()) == []


def test_sigterm_to_the_process_group_with_loader_workers_says_terminated_once(data, tmp_path):
    folder = tmp_path / "run"
    argv = ["pretrain", *tables(data["coarse"]), *SHORT, "--epochs", "3", "--output-dir", str(folder)]
    process = train(*argv[:argv.index("-j") + 1], "2", *argv[argv.index("-j") + 2:], script=SLOW_EPOCHS)
    while "saved 0" not in (line := process.stderr.readline()):
        assert line, "the run ended before its first save"
    time.sleep(1.2)  # past the slow start of the next epoch: the workers are loading its batches
    os.killpg(process.pid, signal.SIGTERM)  # as a scheduler or `kill -- -PGID` does: the workers get it too
    _, err = process.communicate(timeout=120)
    assert (process.returncode, last_line(err)) == (143, "Terminated.")
    assert "Traceback" not in err and "DataLoader worker" not in err
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["epoch"] >= 0


# `python -m train` whose summary (shown after every output is written) waits for the test's signal.
SLOW_SUMMARY = """
import runpy, sys, time
from train import pretrain
def slow(final, output):
    print("summary", file=sys.stderr, flush=True)
    time.sleep(60)
pretrain.summary = slow
sys.argv = ["train", *sys.argv[1:]]
runpy.run_module("train", run_name="__main__")
"""


def test_a_signal_after_the_outputs_are_complete_ends_well_and_says_so(data, tmp_path):
    folder = tmp_path / "run"
    argv = ["pretrain", *tables(data["coarse"]), *SHORT, "--epochs", "1", "--output-dir", str(folder)]
    argv.remove("-q")
    process = train(*argv, script=SLOW_SUMMARY)
    while "summary" not in (line := process.stderr.readline()):
        assert line, "the run ended before its summary"
    os.killpg(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0
    assert last_line(err) == f"Terminated after the run was complete: {folder} holds all its outputs."
    assert json.loads(out)["epoch"] == 1
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pt", "metrics.jsonl"]


# --- options that would be ignored in silence, and inputs refused in one sentence ------------------------------

TASK = ["finetune", "--random-init", "--model", "tiny", "--task", "imagefolder", "--data", "x"]
IGNORED = [
    (["pretrain", "--table", "t.parquet", "--output-dir", "-"],
     "--output-dir cannot be - (standard output): the outputs are files, so give a folder to write them into."),
    (["grid", "x.toml", "--output-dir", "-"], None),  # the same sentence, once the file is read
    (["pretrain", "--table", "t.parquet", "--amp-dtype", "float16"],
     ("--amp-dtype float16 is the type --amp autocasts to, and --amp is not given: give --amp too, or leave --amp-dtype "
      "out.")),
    ([*TASK, "--partition", "3"],
     "--partition picks one of SUN397's ten official splits: it applies to --task sun397 only, not imagefolder."),
    (["finetune", "--checkpoint", "c.pt", "--task", "imagefolder", "--data", "x", "--backbone-lr-scale", "0.5"],
     ("--backbone-lr-scale is the LR of the pretrained layers in --mode full, and --mode is linear (the default for "
      "imagefolder), which freezes them: give --mode full, or leave --backbone-lr-scale out.")),
    (["finetune", "--checkpoint", "c.pt", "--task", "imagefolder", "--data", "x", "--mode", "linear",
      "--backbone-lr-scale", "0.5"],
     ("--backbone-lr-scale is the LR of the pretrained layers in --mode full, and --mode is linear, which freezes them: "
      "give --mode full, or leave --backbone-lr-scale out.")),
]


@pytest.mark.parametrize("argv,sentence", IGNORED, ids=["pretrain output -", "grid output -", "amp dtype", "partition",
                                                        "backbone lr scale by default", "backbone lr scale"])
def test_an_option_that_would_be_ignored_or_misread_is_refused(tmp_path, monkeypatch, capsys, argv, sentence):
    monkeypatch.chdir(tmp_path)
    if argv[0] == "grid":
        Path("x.toml").write_text('[data]\nsynthetic = "factors"\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\n')
        sentence = IGNORED[0][1]
    assert error_of(argv, capsys) == f"Error: {sentence}"
    assert sorted(p.name for p in tmp_path.iterdir()) == (["x.toml"] if argv[0] == "grid" else [])


EXPERIMENT = '[data]\nsynthetic = "factors"\n[settings]\n{settings}\n[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\n'
EXPERIMENT_ERRORS = [
    ('nproc_per_node = "two"\n' + EXPERIMENT.format(settings=""), "{file}: nproc_per_node must be a whole number, not 'two'."),
    ("nproc_per_node = 0\n" + EXPERIMENT.format(settings=""), "{file}: nproc_per_node must be 1 or more, not 0."),
    (EXPERIMENT.format(settings='amp_dtype = "float16"'),
     ("{file} [[pretrain]] 'a': amp_dtype float16 is the type amp autocasts to, and amp is not given: give amp too, or "
      "leave amp_dtype out.")),
]


@pytest.mark.parametrize("text,sentence", EXPERIMENT_ERRORS, ids=["nproc_per_node a word", "nproc_per_node 0",
                                                                       "amp_dtype without amp"])
def test_an_experiment_file_goes_through_the_checks_the_flags_do(tmp_path, capsys, text, sentence):
    file = tmp_path / "x.toml"
    file.write_text(text)
    line = error_of(["grid", str(file), "--dry-run", "-q", "--output-dir", str(tmp_path / "grid")], capsys)
    assert line == "Error: " + sentence.format(file=file)


def test_an_experiment_file_that_begins_with_a_byte_order_mark_is_read(tmp_path):
    file = tmp_path / "x.toml"
    file.write_bytes(b"\xef\xbb\xbf" + EXPERIMENT.format(settings="").encode())
    code, plan = run(["grid", str(file), "--dry-run", "-q", "--output-dir", str(tmp_path / "grid")])
    assert code == 0 and plan["cells"] == 1


def test_a_plan_counts_a_run_given_in_steps_as_its_steps_times_its_batch(tmp_path):
    file = tmp_path / "x.toml"
    file.write_text('[data]\nsynthetic = "factors"\ntrain_per_class = 8\n[[pretrain]]\nname = "a"\nlabels = "identity"\n'
                    "iterations = 7\nbatch_size = 64\n")
    code, plan = run(["grid", str(file), "--dry-run", "-q", "--output-dir", str(tmp_path / "grid")])
    assert code == 0 and (plan["plan"][0]["images"], plan["images_left"]) == (448, 448)
