"""Training runs are never lost and never silent: a run's folder, resume that continues the same run, real
signals during a checkpoint save, every option checked before any work, and options that conflict."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from commands import FAST, REPO, SIZES, error_of, run, tables

from train import checkpoint

SHORT = [*FAST, "--lr", "0.05", "--lr-scheduler", "cosine"]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def two_epochs(data, tmp_path):
    """A finished 2-epoch cosine run on the coarse labels, in tmp_path/run."""
    code, result = run(["pretrain", *tables(data["coarse"]), *SHORT, "--epochs", "2", "--output-dir", str(tmp_path / "run")])
    assert code == 0
    return tmp_path / "run"


# --- the run's folder --------------------------------------------------------------------------------------


def test_a_run_without_output_dir_gets_a_folder_of_its_own(data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["pretrain", *tables(data["coarse"]), *SHORT, "--epochs", "1"]
    argv.remove("-q")
    code, result = run(argv)
    assert code == 0
    folder = Path(result["output_dir"])
    assert folder.parent == Path("runs") and folder.name.startswith("pretrain-")
    assert listing(tmp_path / folder) == ["checkpoint.pt", "metrics.jsonl"]
    assert f"the run goes to {folder}" in capsys.readouterr().err


def test_a_folder_holding_a_checkpoint_is_not_written_over(data, two_epochs, capsys):
    before = {name: (two_epochs / name).read_bytes() for name in listing(two_epochs)}
    line = error_of(["pretrain", *tables(data["coarse"]), *SHORT, "--epochs", "2", "--output-dir", str(two_epochs)], capsys)
    assert line == (f"Error: {two_epochs} already holds a run (checkpoint.pt): continue it with --resume "
                    f"{two_epochs / 'checkpoint.pt'}, replace it with --overwrite, or give another --output-dir.")
    assert {name: (two_epochs / name).read_bytes() for name in listing(two_epochs)} == before


def test_overwrite_starts_the_run_afresh(data, two_epochs):
    code, _ = run(["pretrain", *tables(data["coarse"]), *SHORT, "--epochs", "1", "--output-dir", str(two_epochs), "--overwrite"])
    assert code == 0
    assert torch.load(two_epochs / "checkpoint.pt", weights_only=True)["epoch"] == 0
    assert len((two_epochs / "metrics.jsonl").read_text().splitlines()) == 1


def test_a_failed_start_leaves_no_folder(data, tmp_path, capsys):
    error_of(["pretrain", *tables(data["coarse"]), "--root", str(tmp_path / "elsewhere"), *SHORT, "--epochs", "1",
              "--output-dir", str(tmp_path / "new")], capsys)
    assert not (tmp_path / "new").exists()


# --- resume continues the same run ---------------------------------------------------------------------------


def test_resume_takes_the_settings_of_the_checkpoint(data, two_epochs):
    # none of the first run's flags but the sizes: its lr, schedule and batch size come from the checkpoint
    code, result = run(["pretrain", *tables(data["coarse"]), "--device", "cpu", "-j", "0", "-q", *SIZES, "--epochs", "3",
                        "--resume", str(two_epochs / "checkpoint.pt")])
    assert code == 0 and result["output_dir"] == str(two_epochs)
    saved = torch.load(two_epochs / "checkpoint.pt", weights_only=True)
    assert (saved["epoch"], saved["config"]["lr"], saved["config"]["batch_size"], saved["config"]["model"]) == (2, 0.05, 32, "tiny")
    assert [json.loads(line)["epoch"] for line in (two_epochs / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]


@pytest.mark.parametrize("flags,given,trained", [(["-b", "7"], "-b/--batch-size 7", "-b/--batch-size 32"),
                                                 (["--lr", "5"], "--lr 5.0", "--lr 0.05"),
                                                 (["--amp"], "--amp", "no --amp")])
def test_a_flag_that_contradicts_the_checkpoint_is_refused(data, two_epochs, capsys, flags, given, trained):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, *flags, "--epochs", "4", "--resume", str(two_epochs / "checkpoint.pt")], capsys)
    assert line == (f"Error: {given} contradicts {two_epochs / 'checkpoint.pt'}, which was trained with {trained}: "
                    "a resumed run keeps the settings it started with (leave it out, or start a new run).")


def test_fewer_epochs_than_done_is_refused(data, two_epochs, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "2", "--resume", str(two_epochs / "checkpoint.pt")], capsys)
    assert line == (f"Error: {two_epochs / 'checkpoint.pt'} has trained 2 epochs already: --epochs 2 leaves nothing to train; "
                    "give more than 2 to go on.")


def test_a_longer_run_lays_its_cosine_schedule_out_again_and_says_so(data, two_epochs, capsys):
    capsys.readouterr()
    code, result = run(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "4", "--resume", str(two_epochs / "checkpoint.pt")])
    assert code == 0
    # cosine over 4 epochs from 0.05: epoch 3 starts at 0.05 * (1 + cos(pi * 2 / 4)) / 2 = 0.025
    assert ("Note: --epochs 4 changes the run's length from 2 epochs: the cosine schedule is laid out again over 4 "
            "epochs, and epoch 3 starts at LR 0.025.") in capsys.readouterr().err
    history = [json.loads(line) for line in (two_epochs / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert [h["lr"] for h in history[2:]] == pytest.approx([0.025, 0.05 * (1 + math.cos(math.pi * 3 / 4)) / 2])


def test_another_number_of_processes_is_refused(data, two_epochs, tmp_path, capsys):
    saved = torch.load(two_epochs / "checkpoint.pt", weights_only=True)
    saved["rng"] = saved["rng"] * 2  # as if trained on two processes
    checkpoint.save(tmp_path / "two.pt", **saved)
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "4", "--resume", str(tmp_path / "two.pt"),
                     "--output-dir", str(tmp_path / "again")], capsys)
    assert line == (f"Error: {tmp_path / 'two.pt'} was trained on 2 processes and this run has 1: resume it on 2 "
                    "(torchrun --nproc-per-node 2), since each process takes -b/--batch-size images a step.")


def test_a_damaged_checkpoint_is_refused_before_the_table_is_read(tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    line = error_of(["pretrain", "--table", str(tmp_path / "no-such-table.parquet"), *FAST, "--resume", str(tmp_path / "bad.pt")], capsys)
    assert line == f"Error: {tmp_path / 'bad.pt'} is not a checkpoint this module can read (foreign or damaged file)."


# --- interrupts: real signals on a real training process --------------------------------------------------

# `python -m train` whose second checkpoint save writes half a file, then waits for the test's signal.
SLOW_SAVE = """
import runpy, sys, time, torch
from train import checkpoint
saves = []
def slow(state, path):
    saves.append(path)
    if len(saves) == 2:
        path.write_bytes(b"half a checkpoint")
        print("saving", file=sys.stderr, flush=True)
        time.sleep(60)
    torch.save(state, path)
checkpoint.torch = type("T", (), {"save": staticmethod(slow), "load": torch.load})
sys.argv = ["train", *sys.argv[1:]]
runpy.run_module("train", run_name="__main__")
"""


@pytest.mark.parametrize("signum,code,sentence", [(signal.SIGINT, 130, "Interrupted."), (signal.SIGTERM, 143, "Terminated.")])
def test_a_signal_during_a_checkpoint_save_keeps_the_last_checkpoint_and_leaves_no_debris(data, tmp_path, signum, code, sentence):
    folder = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, "pretrain", *tables(data["coarse"]), *SHORT, "--epochs", "3",
                                "--output-dir", str(folder)], cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while "saving" not in (line := process.stderr.readline()):
        assert line, "the run ended before its second save"
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert (process.returncode, err.strip().splitlines()[-1]) == (code, sentence)
    assert listing(folder) == ["checkpoint.pt", "metrics.jsonl"]
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["epoch"] == 0
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 1  # never ahead of the checkpoint


# --- every option checked before any work ------------------------------------------------------------------


BAD_OPTIONS = [
    (["-b", "0"], "-b/--batch-size must be 1 or more, not 0."),
    (["-b", "-4"], "-b/--batch-size must be 1 or more, not -4."),
    (["-j", "-1"], "-j/--workers must be 0 or more, not -1."),
    (["--lr", "-1"], "--lr must be 0 or more, not -1.0."),
    (["--momentum", "-1"], "--momentum must be at least 0 and below 1, not -1.0."),
    (["--label-smoothing", "2"], "--label-smoothing must be at least 0 and below 1, not 2.0."),
    (["--epochs", "0"], "--epochs must be 1 or more, not 0."),
    (["--epochs", "-3"], "--epochs must be 1 or more, not -3."),
    (["--min-scale", "0"], "--min-scale must be above 0 and at most 1, not 0.0."),
    (["--lr-warmup-epochs", "5", "--epochs", "5"],
     "--lr-warmup-epochs 5 leaves no epoch after the warm-up of a 5-epoch run: give fewer warm-up epochs."),
    (["--device", "tpu"], "--device must be auto, cpu or cuda, not 'tpu' (did you mean 'cpu'?)."),
    (["--seed", "-1"], "--seed must be 0 or more, not -1."),
    (["--augment", "caffe", "--train-crop-size", "40"],
     "--train-crop-size 40 is larger than the --val-resize-size 32 square that --augment caffe crops it from."),
]


@pytest.mark.parametrize("flags,sentence", BAD_OPTIONS, ids=[" ".join(f) for f, _ in BAD_OPTIONS])
def test_a_bad_training_option_is_one_sentence_before_any_work(data, tmp_path, capsys, flags, sentence):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, *flags, "--output-dir", str(tmp_path / "run")], capsys)
    assert line == f"Error: {sentence}"
    assert listing(tmp_path) == []


@pytest.mark.parametrize("argv,sentence", [
    (["finetune", "--random-init", "--model", "tiny", "--task", "imagefolder", "--data", "x", "--backbone-lr-scale", "-1"],
     "--backbone-lr-scale must be 0 or more, not -1.0."),
    (["grid", "x.toml", "--nproc-per-node", "0"], "--nproc-per-node must be 1 or more, not 0."),
    (["evaluate", "--checkpoint", "c.pt", "--knn-k", "0"], "--knn-k must be 1 or more, not 0."),
    (["finetune", "--random-init", "--model", "tiny", "--task", "imagefolder", "--data", "x", "--augment", "caffe"],
     "finetune crops as --augment rrc does (--augment caffe is for pretrain and evaluate): leave it out."),
    (["finetune", "--random-init", "--model", "tiny", "--task", "imagefolder", "--data", "x", "--val-fraction", "1"],
     "--val-fraction must be at least 0 and below 1, not 1.0."),
], ids=["finetune backbone lr scale", "grid processes", "evaluate knn-k", "finetune augment caffe", "val fraction"])
def test_bad_options_of_the_other_commands(tmp_path, monkeypatch, capsys, argv, sentence):
    monkeypatch.chdir(tmp_path)
    assert error_of(argv, capsys) == f"Error: {sentence}"
    assert listing(tmp_path) == []


def test_test_only_on_a_table_without_a_val_split(data, two_epochs, capsys):
    line = error_of(["pretrain", "--table", str(data["coarse"]["train_table"]), *FAST, "--resume",
                     str(two_epochs / "checkpoint.pt"), "--test-only"], capsys)
    assert line == f"Error: {data['coarse']['train_table']} has no images in the val split to test on: give one with --val-table."


@pytest.mark.parametrize("where", ["a file", "in /proc"])
def test_demo_output_dir_that_cannot_be_used(tmp_path, capsys, where):
    target = tmp_path / "taken" if where == "a file" else Path("/proc/demo")
    if where == "a file":
        target.write_text("")
    sentence = (f"--output-dir {target} is a file, not a folder." if where == "a file" else
                "Cannot write the run into /proc/demo: the folder /proc takes no new files (No such file or directory).")
    assert error_of(["demo", "--output-dir", str(target), "-q"], capsys) == f"Error: {sentence}"


# --- options that conflict ------------------------------------------------------------------------------


def test_pretrain_with_both_a_table_and_labels(data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), "--labels", str(data["coarse"]["labels"]), *FAST], capsys)
    assert line == "Error: Give the images either as --table, or as --labels with --images, not both."


def test_finetune_with_both_a_checkpoint_and_random_init(coarse_run, shapes_task, capsys):
    line = error_of(["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--random-init", "--task", "imagefolder",
                     "--data", str(shapes_task), *FAST], capsys)
    assert line == ("Error: Give either --checkpoint (transfer a pretrained network) or --random-init (the untrained "
                    "baseline), not both.")


def test_finetune_with_a_model_other_than_the_checkpoint_s(coarse_run, shapes_task, tmp_path, capsys):
    argv = ["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "imagefolder", "--data", str(shapes_task),
            *FAST, "--output-dir", str(tmp_path / "ft")]
    argv[argv.index("tiny")] = "resnet50"
    assert error_of(argv, capsys) == (f"Error: --model resnet50 contradicts {coarse_run['checkpoint']}, which holds a tiny "
                                      "network: leave --model out (the network comes from the checkpoint).")
    assert not (tmp_path / "ft").exists()


def test_knn_with_a_label_set_that_barely_overlaps_the_data(coarse_run, data, tmp_path, capsys):
    from image_world import labels_file

    one = labels_file(tmp_path, {"n02085620": "n02085620", "n00001740": "n00001740"})  # Chihuahua, and a class not in the data
    line = error_of(["evaluate", "--checkpoint", str(coarse_run["checkpoint"]), *tables(data["coarse"]), "--knn-labels", str(one),
                     "--device", "cpu", "-j", "0", *SIZES], capsys)
    assert line == (f"Error: --knn-labels {one} labels the val images with 1 of its 2 labels: top-1 over one label is 100% "
                    "whatever the features; give a label set of the data's classes.")


def test_a_held_out_share_that_leaves_one_training_sample_is_refused(tmp_path, capsys):
    from train.world import NEW_COMBINATIONS, make_images

    make_images(tmp_path / "task", dict(list(NEW_COMBINATIONS.items())[:2]), {"train": 1, "val": 2}, seed=0)
    line = error_of(["finetune", "--random-init", "--task", "imagefolder", "--data", str(tmp_path / "task"), *FAST,
                     "--mode", "linear", "--val-fraction", "0.9", "--output-dir", str(tmp_path / "ft")], capsys)
    assert line == (f"Error: {tmp_path / 'task'} cannot train imagefolder: --val-fraction 0.9 leaves 1 of its 2 training "
                    "samples, and a training batch needs 2: give a smaller --val-fraction.")
    assert not (tmp_path / "ft").exists()
