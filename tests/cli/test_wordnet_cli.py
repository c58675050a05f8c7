"""`curate wordnet ...` where NLTK's WordNet is missing: one clear sentence, no traceback."""

import os
import subprocess
import sys

import pytest


def test_nltk_backend_without_wordnet_is_one_clear_error(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(home), "NLTK_DATA": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "curate", "wordnet", "snapshot", "--check", "-q"], env=env, capture_output=True, text=True
    )
    if result.returncode == 0:
        pytest.skip("WordNet is installed system-wide, outside HOME")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error: NLTK cannot find WordNet 3.0: run `curate wordnet install`")
    assert "Traceback" not in result.stderr


def test_install_says_where_wordnet_is_unless_quiet(curate_cli, tmp_path):
    data = tmp_path / "nltk_data"
    (data / "corpora" / "wordnet").mkdir(parents=True)
    said = curate_cli("wordnet", "install", "--nltk-data", data)
    assert (said.exit_code, said.stdout, said.stderr) == (0, "", f"WordNet is already installed in {data}\n")
    quiet = curate_cli("wordnet", "install", "--nltk-data", data, "-q")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
