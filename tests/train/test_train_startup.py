"""How `python -m train` starts: its help and its usage errors come from the flag declarations alone, so they
print without importing torch or torchvision (seconds of start-up: bench/RESULTS.md)."""

import json
import subprocess
import sys

import pytest

from train.flags import COMMANDS

LOADED = """
import json, runpy, sys
sys.argv = ["train", *sys.argv[1:]]
try:
    runpy.run_module("train", run_name="__main__", alter_sys=True)
except SystemExit as end:
    code = end.code
heavy = [m for m in ("torch", "torchvision", "numpy", "polars", "matplotlib") if m in sys.modules]
print(json.dumps({"code": code, "loaded": heavy}), file=sys.stderr)
"""


def start(*args: str) -> tuple[int, list[str], str]:
    """Exit status, the heavy modules imported, and stderr, of `python -m train ARGS` in a fresh process."""
    run = subprocess.run([sys.executable, "-c", LOADED, *args], capture_output=True, text=True)
    *text, last = run.stderr.splitlines()
    outcome = json.loads(last)
    return outcome["code"], outcome["loaded"], "\n".join(text)


@pytest.mark.parametrize("args", [["--help"], *([name, "--help"] for name in COMMANDS)], ids=" ".join)
def test_help_imports_no_torch(args):
    code, loaded, _ = start(*args)
    assert (code, loaded) == (0, [])


@pytest.mark.parametrize(("args", "says"), [
    (["pretrain", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["pretrain", "--epochs", "many"], "argument --epochs: invalid int value: 'many'"),
    (["grid"], "the following arguments are required: file"),
    (["no-such-command"], "invalid choice: 'no-such-command'"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_a_usage_error_imports_no_torch(args, says):
    code, loaded, stderr = start(*args)
    assert (code, loaded) == (2, [])
    assert says in stderr
