"""A value pasted by mistake (a whole file as an argument, a path past the system's limit) ends in one short
error line, never a 10,000-character one or a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from curate.wording import LONGEST

REPO = Path(__file__).resolve().parents[2]
LONG = "n" + "0" * 10_000


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert (result.exit_code if hasattr(result, "exit_code") else result.returncode) == 1
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[:500]
    return lines[0]


def test_an_echoed_value_is_cut_to_its_start_and_end(curate_cli):
    line = one_line(curate_cli("coarsen", "--depth", "3", "--under", LONG))
    assert len(line) <= len("Error: ") + LONGEST
    assert line.startswith("Error: 'n000") and "(8,158 characters left out)" in line
    assert line.endswith("' is not a WordNet 3.0 noun id: ids look like n01440764.")


def test_a_path_past_the_system_s_limit_is_one_sentence(curate_cli):
    line = one_line(curate_cli("show", LONG))
    assert line.startswith("Error: Cannot use n000") and line.endswith(": File name too long.")
    assert len(line) <= len("Error: ") + LONGEST


def test_train_says_the_same_of_a_path_past_the_limit():
    result = subprocess.run([sys.executable, "-m", "train", "evaluate", "--checkpoint", LONG], cwd=REPO,
                            capture_output=True, text=True)
    line = one_line(result)
    assert line.startswith("Error: ") and line.endswith("File name too long.") and len(line) <= len("Error: ") + LONGEST
