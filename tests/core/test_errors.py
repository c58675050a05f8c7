"""Library sentences name parameters by the library's names, in backticks; each caller words them once."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from curate.errors import BadRecipe, CurateError, worded
from curate.labels import recipes

CURATE = Path(__file__).parents[2] / "curate"


def test_worded_puts_the_callers_words_for_the_names_it_knows():
    error = BadRecipe("`lift` must be 1 or more, not 0; `depth` too, see `curate build` and `other_name`.")
    words = {"lift": "--lift", "depth": "depth in [[pretrain]] coarse"}
    assert error.worded(words) == ("--lift must be 1 or more, not 0; depth in [[pretrain]] coarse too, "
                                   "see `curate build` and `other_name`.")
    assert str(error) == "`lift` must be 1 or more, not 0; `depth` too, see `curate build` and `other_name`."
    assert worded("`Lift` and `2x` are not names", {"Lift": "x", "2x": "y"}) == "`Lift` and `2x` are not names"


def test_a_python_caller_reads_the_librarys_names(hierarchy, ilsvrc):
    with pytest.raises(BadRecipe) as raised:
        recipes.coarsen(hierarchy.tree(), ilsvrc, lift=0)
    assert str(raised.value) == "`lift` must be 1 or more, not 0."
    note = recipes.coarsen(hierarchy.tree(), ilsvrc, lift=7).note
    assert note.startswith("`lift` is 7, but lifting stops at the fixed point after 3:")


def library_sentences():
    """Each string written into a raise or a `note=` under curate/ (not curate/cli/), with where it is."""
    for path in sorted(CURATE.rglob("*.py")):
        if "cli" in path.relative_to(CURATE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) or (isinstance(node, ast.keyword) and node.arg == "note"):
                parts = list(ast.walk(node))
                in_fstrings = {id(v) for part in parts if isinstance(part, ast.JoinedStr) for v in part.values}
                for part in parts:
                    if isinstance(part, ast.JoinedStr):  # an f-string: its text, each value as {}
                        text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in part.values)
                        yield f"{path.relative_to(CURATE)}:{part.lineno}", text
                    elif isinstance(part, ast.Constant) and isinstance(part.value, str) and id(part) not in in_fstrings:
                        yield f"{path.relative_to(CURATE)}:{part.lineno}", part.value


def test_library_sentences_name_parameters_not_command_line_options():
    """`--lift` in a library sentence would reach a Python or experiment-file user as an option they never had."""
    options = [(where, text) for where, text in library_sentences()
               if re.search(r"(^|[\s(])--?[a-z]", re.sub(r"`[^`]*`", "", text))]
    assert options == []
    assert sum(1 for _ in library_sentences()) > 100  # the scan does see the library's sentences


def test_the_cli_words_an_option_by_its_long_name_and_an_argument_as_help_shows_it():
    import typer
    from typer.testing import CliRunner

    from curate.cli.common import App

    app = App()

    @app.command()
    def look(index_path: Path = typer.Argument(..., metavar="index"), per_class: int = typer.Option(1, "-n", "--per-class")):
        """A command whose library call fails."""
        raise CurateError("`index_path` has no `per_class` to give, nor `other`.")

    result = CliRunner().invoke(app, ["x.parquet"])
    assert (result.exit_code, result.stderr) == (1, "Error: index has no --per-class to give, nor `other`.\n")
