"""`python -m train pretrain`: learning, the checkpoint, exact resume, DDP, bf16, and bad input, on the CPU."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from commands import FAST, REPO, SIZES, error_of, run, straight_and_resumed, tables

from curate.images.table import ImageTable

def test_pretraining_learns_well_above_chance(coarse_run, data):
    result = coarse_run["result"]
    assert result["label_count"] == 4
    assert result["val_top1"] >= 50  # chance is 25%; this seed reaches 64% on 72 unseen images
    lines = (coarse_run["dir"] / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 17))  # as the epoch lines count them
    assert json.loads(lines[-1])["train_loss"] < json.loads(lines[0])["train_loss"]


def test_checkpoint_records_what_it_was_trained_on(coarse_run, data):
    checkpoint = torch.load(coarse_run["checkpoint"], map_location="cpu", weights_only=True)
    assert checkpoint["data"]["labels_hash"] == data["coarse"]["labels_hash"]
    assert checkpoint["data"]["labels_recipe"] == "up-down lift=1"
    assert checkpoint["model_name"] == "tiny" and checkpoint["epoch"] == 15
    assert set(checkpoint) >= {"model", "optimizer", "lr_scheduler", "scaler", "rng", "label_wnids"}
    assert checkpoint["label_wnids"] == sorted(checkpoint["label_wnids"])


# --- resume ----------------------------------------------------------------------------------------------


def test_resume_after_interruption_gives_the_same_weights(data, tmp_path, monkeypatch):
    args = ["pretrain", *tables(data["fine"]), *FAST, "--epochs", "4", "--lr", "0.05", "--lr-scheduler", "step",
            "--lr-step-size", "2", "--seed", "3", "-j", "1"]
    straight, resumed = straight_and_resumed(args, tmp_path, 3, monkeypatch)
    assert resumed["epoch"] == straight["epoch"] == 3
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    assert straight["optimizer"]["state"].keys() == resumed["optimizer"]["state"].keys()
    for key, state in straight["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], resumed["optimizer"]["state"][key]["momentum_buffer"])
    assert resumed["lr_scheduler"] == straight["lr_scheduler"]
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in straight["history"]]


def test_a_run_in_iterations_takes_exactly_that_many_steps_and_its_schedule_counts_steps(data, tmp_path):
    # 192 training images in batches of 32: 6 steps an epoch, so 8 steps are one epoch and two steps of a second
    code, result = run(["pretrain", *tables(data["coarse"]), *FAST, "--iterations", "8", "--lr", "0.05",
                        "--lr-scheduler", "step", "--lr-step-size", "7", "--output-dir", str(tmp_path)])
    assert code == 0 and (result["epochs"], result["iterations"]) == (2, 8)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert (saved["epoch"], saved["steps"], saved["lr_scheduler"]["last_epoch"]) == (1, 8, 8)
    assert [h["lr"] for h in saved["history"]] == [0.05, 0.05]  # the decay comes at step 7, inside the second epoch
    assert saved["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.005)


def test_a_run_in_iterations_resumes_exactly_in_its_last_short_epoch(data, tmp_path, monkeypatch):
    args = ["pretrain", *tables(data["coarse"]), *FAST, "--iterations", "14", "--lr", "0.05", "--lr-scheduler", "step",
            "--lr-step-size", "5", "--seed", "2"]
    straight, resumed = straight_and_resumed(args, tmp_path, 3, monkeypatch)  # epochs of 6, 6 and 2 steps
    assert (resumed["epoch"], resumed["steps"]) == (straight["epoch"], straight["steps"]) == (2, 14)
    # resumed after step 12, past the decays at steps 5 and 10: its last epoch starts at 0.05 / 100
    assert [h["lr"] for h in resumed["history"]] == pytest.approx([0.05, 0.005, 0.0005], rel=1e-12)
    assert resumed["lr_scheduler"] == straight["lr_scheduler"]
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name


def test_a_length_in_both_epochs_and_iterations_is_refused(data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "2", "--iterations", "8"], capsys)
    assert line == "Error: Give the run's length as --epochs or as --iterations, not both."


@pytest.mark.parametrize("scheduler", ["constant", "cosine"])
def test_a_resume_after_the_warm_up_goes_on_at_the_learning_rate_the_straight_run_had(data, tmp_path, monkeypatch, scheduler):
    args = ["pretrain", *tables(data["fine"]), *FAST, "--epochs", "3", "--lr", "0.05", "--lr-scheduler", scheduler,
            "--lr-warmup-epochs", "1", "--seed", "4"]
    straight, resumed = straight_and_resumed(args, tmp_path, 3, monkeypatch)  # interrupted in epoch 3, after the warm-up
    assert [h["lr"] for h in resumed["history"]] == [h["lr"] for h in straight["history"]]
    assert straight["history"][2]["lr"] == pytest.approx(0.05 if scheduler == "constant" else 0.025)
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name


def test_resume_refuses_a_checkpoint_of_another_manifest(coarse_run, data, capsys):
    line = error_of(["pretrain", *tables(data["fine"]), *FAST, "--epochs", "20", "--resume", str(coarse_run["checkpoint"])], capsys)
    assert "was trained on another label set (up-down lift=1" in line
    assert "start a new run instead of --resume" in line


def test_resume_refuses_a_checkpoint_of_another_model(coarse_run, data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--model", "resnet18", "--epochs", "20",
                     "--resume", str(coarse_run["checkpoint"])], capsys)
    assert line == (f"Error: --model resnet18 contradicts {coarse_run['checkpoint']}, which was trained with --model tiny: "
                    "a resumed run keeps the settings it started with (leave it out, or start a new run).")


# --- precision, memory format, distributed ---------------------------------------------------------------


def test_bf16_autocast_runs_on_cpu(data, tmp_path):
    from train.loops import autocast
    from train.models import build_model

    model = build_model("tiny", 4)
    images = torch.randn(2, 3, 32, 32)
    with autocast(torch.device("cpu"), torch.bfloat16):  # the network in bf16, the scores it gives in fp32
        assert model.features(images).dtype == torch.bfloat16 and model(images).dtype == torch.float32
    code, result = run(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "1", "--amp", "--channels-last",
                        "--output-dir", str(tmp_path)])
    assert code == 0
    assert result["train_loss"] == result["train_loss"] and result["train_loss"] < 10  # finite


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_gloo_two_processes_train_and_checkpoint(data, tmp_path):
    # 71 validation images in batches of 35: rank 0 scores 36 in two batches, rank 1 35 in one.
    whole = ImageTable.read(data["coarse"]["val_table"])
    val_table = tmp_path / "val-71.parquet"
    ImageTable(whole.rows.slice(1), {k: whole.metadata[k] for k in ("root", "labels_hash", "labels_recipe", "label_count")}).write(val_table)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "train", "pretrain",
               "--table", str(data["coarse"]["train_table"]), "--val-table", str(val_table), *FAST, "-b", "35",
               "--epochs", "2", "--output-dir", str(tmp_path / "run")]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 1  # rank 0 alone prints
    assert results[0]["val_images"] == 71  # every val image scored exactly once across the two ranks
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 1 and len(checkpoint["rng"]) == 2
    assert not any(key.startswith("module.") for key in checkpoint["model"])
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    # Each rank scored its shard with rank 0's batch-norm statistics, the checkpoint's: one network, whose
    # loss on the 71 images is the one evaluate gives in a single process.
    code, alone = run(["evaluate", "--checkpoint", str(tmp_path / "run" / "checkpoint.pt"), "--table",
                       str(data["coarse"]["train_table"]), "--val-table", str(val_table), "--device", "cpu", "-j", "0", "-q", *SIZES])
    assert code == 0 and alone["images"] == 71
    assert alone["loss"] == pytest.approx(results[0]["val_loss"], rel=1e-6)


# --- bad input: one sentence, exit status 1 --------------------------------------------------------------


def test_missing_images_say_how_many_and_show_one(data, tmp_path, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), "--root", str(tmp_path), *FAST, "--epochs", "1"], capsys)
    assert line.startswith(f"Error: 192 of the 192 images of {data['coarse']['train_table']} are missing under {tmp_path} (for example ")
    assert "n01530575/n01530575_0.JPEG" in line


def test_an_empty_label_is_refused(data, tmp_path, capsys):
    import pyarrow.compute as pc

    whole = ImageTable.read(data["coarse"]["train_table"])
    path = tmp_path / "holed.parquet"
    meta = {k: v for k, v in whole.metadata.items() if k != "content_hash"}
    ImageTable(whole.rows.filter(pc.not_equal(whole.rows["label"], 2)), meta).write(path)
    line = error_of(["pretrain", "--table", str(path), *FAST, "--epochs", "1"], capsys)
    assert line.startswith(f"Error: 1 of the 4 labels of {path} has no training images (label 2, ")


def test_unknown_model_lists_the_valid_ones(data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--model", "vgg16"], capsys)
    assert line == "Error: --model must be alexnet, caffenet, resnet18, resnet50 or tiny, not 'vgg16'."


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_asked_where_there_is_none(data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--device", "cuda"], capsys)
    assert line == "Error: --device cuda was asked for, but this torch sees no CUDA device: use --device cpu."


def test_the_real_command_line_prints_one_sentence_and_no_traceback(data):
    done = subprocess.run([sys.executable, "-m", "train", "pretrain", *tables(data["coarse"]), "--model", "vgg"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == "Error: --model must be alexnet, caffenet, resnet18, resnet50 or tiny, not 'vgg'.\n"
    assert done.stdout == ""


def test_test_only_scores_the_resumed_checkpoint(coarse_run, data):
    code, result = run(["pretrain", *tables(data["coarse"]), *FAST, "--resume", str(coarse_run["checkpoint"]), "--test-only"])
    assert code == 0
    assert result["top1"] == pytest.approx(coarse_run["result"]["val_top1"])


@pytest.mark.parametrize("workers", ["0", "1"])
def test_an_image_that_does_not_decode_is_named(data, tmp_path, capsys, workers):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(data["out"] / "images" / "train", root)
    (root / "n01530575" / "n01530575_3.JPEG").write_bytes(b"not a jpeg")
    line = error_of(["pretrain", *tables(data["coarse"]), "--root", str(root), *FAST, "--epochs", "1", "-j", workers], capsys)
    assert line.startswith(f"Error: n01530575/n01530575_3.JPEG under {root} cannot be read as an image (")


def test_an_output_dir_that_is_a_file(data, tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "1", "--output-dir", str(tmp_path / "taken")], capsys)
    assert line == f"Error: --output-dir {tmp_path / 'taken'} is a file, not a folder."


def test_inputs_too_small_for_the_network(data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--model", "alexnet", "--epochs", "1"], capsys)
    assert line == "Error: --model alexnet cannot take 32 px inputs: raise the crop sizes."


def test_a_run_without_validation_images_says_so_at_the_start(data, tmp_path, capsys):
    code, result = run(["pretrain", "--table", str(data["coarse"]["train_table"]), *FAST, "--epochs", "1",
                        "--output-dir", str(tmp_path / "run")])
    assert code == 0 and "val_top1" not in result
    err = capsys.readouterr().err  # under -q too
    assert (f"Warning: NO VALIDATION IMAGES: {data['coarse']['train_table']} has no val split and no --val-table was given, "
            "so this run will report no accuracy at any epoch;") in err
    run(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "1", "--output-dir", str(tmp_path / "validated")])
    assert "NO VALIDATION" not in capsys.readouterr().err
