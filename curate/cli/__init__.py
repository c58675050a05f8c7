"""The `curate` command line: one module per command group; each command parses, makes one library call
and renders. No logic lives here.

  common.py     error translation (in the command's words), the stderr console, shared options
  labels.py     coarsen, exclude, extend, sample, split, breeds, import
  hierarchy.py  levels: nested label sets as one file, for one head per level
  manifests.py  build, presets (and its old name, recipes), lists, rebuild, git-setup, show, diff
  wordnet.py    curate wordnet install / snapshot
  images.py     curate images index / subset / apply / restrict / pack
  explore.py    find, path, tree
  export.py     curate export class-map / labels-table / imagefolder
  output.py     data on stdout: --json, a table on a terminal, else TSV
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

import typer
from typer.core import TyperGroup

from curate import __version__
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


# Every command and the module in curate.cli that holds it, in the order `curate --help` lists them; a
# module named like its command is a command group (`curate images index`).
COMMAND_MODULES = {
    **dict.fromkeys(["coarsen", "exclude", "extend", "sample", "split", "breeds", "import"], "labels"),
    "levels": "hierarchy",
    **dict.fromkeys(["build", "presets", "recipes", "lists", "rebuild", "git-setup", "show", "diff"], "manifests"),
    "wordnet": "wordnet",
    "images": "images",
    **dict.fromkeys(["find", "path", "tree"], "explore"),
    "export": "export",
}


class Commands(Mapping):
    """The commands by name, each module imported when one of its commands is first looked up: a command
    then loads its own module and libraries, not every command's (`curate coarsen` answers in a third of
    the time)."""

    def __init__(self):
        self._groups: dict[str, TyperGroup] = {}  # module -> the group of its commands, built once

    def __getitem__(self, name: str):
        module = COMMAND_MODULES[name]
        if module not in self._groups:
            self._groups[module] = typer.main.get_group(importlib.import_module(f"curate.cli.{module}").app)
            self._groups[module].name = module  # the name a command group (`images`) is listed by
        group = self._groups[module]
        return group if name == module else group.commands[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMAND_MODULES)

    def __len__(self) -> int:
        return len(COMMAND_MODULES)


class RootGroup(TyperGroup):
    """`curate`: loads a command's module only when that command runs, and takes its own options after a
    subcommand as well (`curate show x.parquet --verbose`)."""

    def __init__(self, **attrs):
        super().__init__(**attrs)
        self.commands = Commands()

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        return super().parse_args(ctx, verbose_first(args))


app = App(help=HELP, cls=RootGroup, no_args_is_help=True, pretty_exceptions_enable=False)


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
