"""The `curate` command line: one module per command group; each command parses, makes one library call
and renders. No logic lives here.

  common.py     error translation, the stderr console, the progress bar
  labels.py     coarsen, exclude, extend, sample, split
  manifests.py  build, recipes, git-setup, show, diff
  wordnet.py    curate wordnet install / snapshot
  images.py     curate images index / subset / apply
  explore.py    find, path, tree
  export.py     curate export class-map / labels-table / imagefolder
  output.py     data on stdout: --json, a table on a terminal, else TSV
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from curate import __version__
from curate.cli import explore, export, images, labels, manifests, wordnet
from curate.cli.common import OPTIONS, App, flag

HELP = """Curate ImageNet label sets from the WordNet 3.0 noun hierarchy.

Every label set is computed from the embedded WordNet 3.0 snapshot, written as a Parquet manifest with its
recipe, tree rule and content hash, and readable in a git diff.

Start with:  curate coarsen --depth 3
"""


def verbose_first(args: list[str]) -> list[str]:
    """The arguments with `--verbose` moved in front of the subcommand, wherever it was given (before `--`)."""
    end = args.index("--") if "--" in args else len(args)
    if "--verbose" not in args[:end]:
        return args
    return ["--verbose", *(arg for arg in args[:end] if arg != "--verbose"), *args[end:]]


class RootGroup(TyperGroup):
    """`curate`: takes its own options after a subcommand as well (`curate show x.parquet --verbose`)."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        return super().parse_args(ctx, verbose_first(args))


app = App(help=HELP, cls=RootGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(labels.app)
app.add_typer(manifests.app)
app.add_typer(wordnet.app, name="wordnet")
app.add_typer(images.app, name="images")
app.add_typer(explore.app)
app.add_typer(export.app, name="export")


def print_version(value: bool) -> None:
    if value:
        typer.echo(f"curate {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: bool = flag("--verbose", help="Show the traceback of an error (before or after the command)."),
    version: bool = flag("--version", callback=print_version, is_eager=True, help="Print curate's version and exit."),
):
    OPTIONS["verbose"] = verbose


def main() -> None:
    from curate.interrupts import raise_on_sigterm

    raise_on_sigterm()
    app()
