"""The `curate` command line: parse, call the library, render. No logic lives here."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from curate.classlists import BUILTIN_LISTS, DEFAULT_BASE
from curate.cliutil import OPTIONS, QUIET_OPTION, App, stderr_console
from curate.hierarchy import DEFAULT_TREE_RULE, TREE_RULES


HELP = """Curate ImageNet label sets from the WordNet 3.0 noun hierarchy.

Every label set is computed from the embedded WordNet 3.0 snapshot, written as a Parquet manifest with its
recipe, tree rule and content hash, and readable in a git diff.

Start with:  curate coarsen --depth 3
"""

app = App(help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
wordnet_app = App(help="Install WordNet 3.0 for NLTK; rebuild or check the embedded snapshot.", no_args_is_help=True)
app.add_typer(wordnet_app, name="wordnet")

BASE_HELP = f"Base classes: {', '.join(BUILTIN_LISTS)}, a text file of wnids (one per line), or a label manifest."
TreeRule = Enum("TreeRule", {name: name for name in TREE_RULES}, type=str)
TREE_OPTION = typer.Option(
    DEFAULT_TREE_RULE,
    "--tree",
    help="Parent rule that turns the WordNet DAG into a tree: "
    + "; ".join(f"{name}: {text}" for name, text in TREE_RULES.items()),
)


@app.callback()
def main_options(verbose: bool = typer.Option(False, "--verbose", help="Show the traceback of an error.")):
    OPTIONS["verbose"] = verbose


@app.command()
def coarsen(
    depth: Optional[int] = typer.Option(None, "--depth", "-d", help="Map each class to its ancestor at depth D (0 = entity); the paper's bottom-up cut."),
    lift: Optional[int] = typer.Option(None, "--lift", "-l", help="Lift to the parent and absorb nested labels, K times; the paper's top-down (1 gives 127 classes)."),
    classes: Optional[int] = typer.Option(None, "--classes", "-n", help="Balanced refinement of the one-lift set to exactly N classes (e.g. 262, 491)."),
    base: str = typer.Option(DEFAULT_BASE, "--base", "-b", help=BASE_HELP),
    tree: TreeRule = TREE_OPTION,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the manifest here (Parquet); without it, print a summary."),
    quiet: bool = QUIET_OPTION,
):
    """Coarsen a class list into fewer labels along the WordNet tree.

    Examples:  curate coarsen --depth 3    curate coarsen --lift 1 -o coarse-127.parquet    curate coarsen --classes 262
    """
    from curate.classlists import load_class_list
    from curate.fileio import check_writable
    from curate.recipes import coarsen as coarsen_recipe
    from curate.wordnet import load_hierarchy

    if output is not None:
        check_writable(output)
    labels = coarsen_recipe(load_hierarchy(), load_class_list(base), depth=depth, lifts=lift, classes=classes, rule=tree.value)
    if output is None:
        from rich.console import Console

        render_summary(Console(), labels)
        return
    write_and_report(labels, output, quiet)


def write_and_report(labels, output: Path, quiet: bool) -> None:
    """Write a label manifest, print its path on stdout and a one-line summary on stderr."""
    from curate.manifest import write_labels

    digest = write_labels(labels, output)
    typer.echo(str(output))
    stderr_console(quiet).print(
        f"{len(labels.label_wnids)} labels over {len(labels.kept)} classes ({labels.describe()}), {digest[:19]}…",
        highlight=False,
    )


def render_summary(console, labels, largest: int = 15) -> None:
    from rich.table import Table

    groups = labels.members()
    sizes = sorted(groups, key=lambda wnid: (-len(groups[wnid]), wnid))
    singletons = [wnid for wnid in sizes if len(groups[wnid]) == 1]
    table = Table(
        title=f"{len(groups)} labels over {len(labels.kept)} classes: {labels.describe()}, tree {labels.tree_rule}",
        title_justify="left",
    )
    table.add_column("label", no_wrap=True)
    table.add_column("name")
    table.add_column("classes", justify="right")
    table.add_column("for example")
    for wnid in sizes[:largest]:
        members = groups[wnid]
        table.add_row(wnid, members[0].label_name, str(len(members)), ", ".join(row.name for row in members[:3]))
    console.print(table)
    if len(sizes) > largest:
        console.print(f"… and {len(sizes) - largest} smaller labels; {len(singletons)} labels hold a single class.", highlight=False)


@app.command()
def show(path: Path = typer.Argument(..., help="A label manifest (.parquet).")):
    """Print a manifest as sorted text, one line per class: `n02085620  Chihuahua  ->  n02084071  dog`.

    Works as a git textconv driver (see `curate git-setup`).
    """
    from curate.manifest import read_labels, show_lines

    typer.echo("\n".join(show_lines(read_labels(path))))


@app.command()
def diff(old: Path = typer.Argument(..., help="The manifest before."), new: Path = typer.Argument(..., help="The manifest after.")):
    """Show which classes changed label (from → to), which labels appeared or went, and the counts."""
    from curate.manifest import diff_lines, read_labels

    typer.echo("\n".join(diff_lines(read_labels(old), read_labels(new))))


NLTK_DATA_OPTION = typer.Option(None, "--nltk-data", help="An nltk_data folder to use (default: NLTK's search path; install writes ~/nltk_data).")


@wordnet_app.command("install")
def wordnet_install(nltk_data: Optional[Path] = NLTK_DATA_OPTION):
    """Make WordNet 3.0 available to NLTK: download it, or copy Debian's wordnet-base package where offline."""
    from curate.wordnet import DEFAULT_NLTK_DATA, install_wordnet

    target = nltk_data or DEFAULT_NLTK_DATA
    how = install_wordnet(target)
    messages = {
        "present": "WordNet is already installed in",
        "download": "WordNet 3.0 downloaded into",
        "debian": "WordNet 3.0 copied from Debian's wordnet-base into",
    }
    stderr_console().print(f"{messages[how]} {target}", highlight=False)


@wordnet_app.command("snapshot")
def wordnet_snapshot(
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write the snapshot (default: the one shipped with curate)."),
    check: bool = typer.Option(False, "--check", help="Write nothing; fail if the shipped snapshot differs from NLTK's WordNet."),
    nltk_data: Optional[Path] = NLTK_DATA_OPTION,
    quiet: bool = QUIET_OPTION,
):
    """Rebuild the embedded noun snapshot from NLTK's WordNet 3.0 (takes a minute), or check it."""
    from rich.progress import track

    from curate.wordnet import NOUN_SYNSET_COUNT, SNAPSHOT_PATH, compare_snapshot, nltk_wordnet, synsets_from_nltk, write_snapshot

    console = stderr_console(quiet)
    wordnet = nltk_wordnet(nltk_data)
    synsets = synsets_from_nltk(wordnet, lambda items: track(items, "Reading WordNet", total=NOUN_SYNSET_COUNT, console=console))
    if check:
        compare_snapshot(synsets, output or SNAPSHOT_PATH)
        console.print(f"{output or SNAPSHOT_PATH} matches NLTK's WordNet 3.0: {len(synsets):,} noun synsets.", highlight=False)
        return
    write_snapshot(synsets, output or SNAPSHOT_PATH)
    typer.echo(str(output or SNAPSHOT_PATH))


def main() -> None:
    app()
