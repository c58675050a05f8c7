import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.labels.classlists import builtin_list
from curate.cli import app
from curate.wordnet.snapshot import load_hierarchy


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="Also run the tests marked slow (CI runs them all).")


def pytest_collection_modifyitems(config, items):
    """Leave out the slow tests unless --slow is given: a developer's `pytest` stays quick, CI runs them."""
    if config.getoption("--slow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(autouse=True)
def quiet_errors():
    """Each test starts without --verbose: a test that gives it must not turn later tests' errors into
    tracebacks (tests that run a sub-app such as `images` directly never pass through the option's callback)."""
    from curate.cli.common import OPTIONS

    yield
    OPTIONS["verbose"] = False


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


@pytest.fixture
def depth3(curate_cli, tmp_path):
    """A manifest written by `curate coarsen --depth 3`."""
    path = tmp_path / "depth3.parquet"
    assert curate_cli("coarsen", "--depth", "3", "-o", path).exit_code == 0
    return path


@pytest.fixture
def rewrite():
    """rewrite(source, target, change): copy a curate file as another tool would, with its metadata, after
    `change(table)`; pyarrow's default options, so the bytes (and the pages hash) differ from curate's."""
    import pyarrow.parquet as pq

    def copy(source, target, change=lambda table: table):
        table = pq.read_table(source)
        pq.write_table(change(table).replace_schema_metadata(table.schema.metadata), target)
        return target

    return copy
