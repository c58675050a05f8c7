import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.labels.classlists import builtin_list
from curate.cli import app
from curate.wordnet.snapshot import load_hierarchy


@pytest.fixture(scope="session")
def hierarchy():
    return load_hierarchy()


@pytest.fixture(scope="session")
def ilsvrc():
    return builtin_list("ilsvrc2012")


@pytest.fixture
def curate_cli():
    """Run `curate ARGS...` in-process; stdout and stderr kept apart."""
    runner = CliRunner()

    def run(*args: str | Path):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def nltk_wordnet():
    """NLTK's WordNet reader. Skipped where WordNet is not installed, except in CI, where it must be."""
    from curate.errors import WordNetMissing
    from curate.wordnet.nltk_backend import nltk_wordnet as load

    try:
        return load()
    except WordNetMissing:
        if os.environ.get("CI"):
            raise
        pytest.skip("NLTK's WordNet 3.0 is not installed (run `curate wordnet install`)")


@pytest.fixture(scope="session")
def nltk_synsets(nltk_wordnet):
    """Every noun synset as NLTK reports it (read once: it takes a while)."""
    from curate.wordnet.nltk_backend import synsets_from_nltk

    return synsets_from_nltk(nltk_wordnet)
