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
