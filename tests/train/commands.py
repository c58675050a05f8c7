"""Running `python -m train` in this process, as the training tests do: flags, results, error sentences."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from train.__main__ import main

REPO = Path(__file__).resolve().parents[2]
SIZES = ["--train-crop-size", "32", "--val-resize-size", "32", "--val-crop-size", "32", "--min-scale", "0.35"]
FAST = ["--model", "tiny", "--device", "cpu", "-j", "0", "-b", "32", "-q", *SIZES]
# An experiment file's start for the tests' grids: a small synthetic world, the tiny CNN's settings.
SMALL_WORLD = """
[data]
synthetic = "factors"
train_per_class = 8
val_per_class = 3
[settings]
device = "cpu"
workers = 0
batch_size = 16
train_crop_size = 32
val_resize_size = 32
val_crop_size = 32
min_scale = 0.35
use_deterministic_algorithms = true
"""


def sizes(px: int) -> list[str]:
    """The synthetic images cropped (and evaluated) at `px`."""
    return ["--train-crop-size", str(px), "--val-resize-size", str(px), "--val-crop-size", str(px)]


def tables(info: dict) -> list[str]:
    """--table and --val-table of one label set of the synthetic data."""
    return ["--table", str(info["train_table"]), "--val-table", str(info["val_table"])]


def run(argv: list[str]) -> tuple[int, dict | None]:
    """`python -m train ARGV` in this process: its exit status and the JSON it prints on stdout."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(argv)
    text = stdout.getvalue().strip()
    return code, json.loads(text.splitlines()[-1]) if text else None


def error_of(argv: list[str], capsys) -> str:
    """The one stderr line of a command that must fail with exit status 1."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err and err[-1].startswith("Error: ")
    assert not any("Traceback" in line for line in err)
    return err[-1]


def straight_and_resumed(args: list[str], folder: Path, stop_in_epoch: int, monkeypatch) -> tuple[dict, dict]:
    """Run `args` straight through into folder/straight; run it again into folder/broken, interrupted
    (KeyboardInterrupt: the machine goes away) during epoch `stop_in_epoch`, and resume it there. Returns the
    two final checkpoints. Deterministic kernels for both, so they can be compared bit for bit. `args`
    start with the command: pretrain or finetune."""
    import torch

    from train import runs

    try:
        assert run([*args, "--use-deterministic-algorithms", "--output-dir", str(folder / "straight")])[0] == 0
        real, calls = runs.train_one_epoch, []

        def interrupted(*a, **kw):
            calls.append(1)
            if len(calls) == stop_in_epoch:
                raise KeyboardInterrupt
            return real(*a, **kw)

        monkeypatch.setattr(runs, "train_one_epoch", interrupted)
        assert run([*args, "--use-deterministic-algorithms", "--output-dir", str(folder / "broken")])[0] == 130
        monkeypatch.setattr(runs, "train_one_epoch", real)
        assert torch.load(folder / "broken" / "checkpoint.pt", weights_only=True)["epoch"] == stop_in_epoch - 2
        assert run([*args, "--resume", str(folder / "broken" / "checkpoint.pt")])[0] == 0
    finally:
        torch.use_deterministic_algorithms(False)
    return tuple(torch.load(folder / name / "checkpoint.pt", weights_only=True) for name in ("straight", "broken"))
