"""`curate coarsen`, `exclude`, `extend`, `sample`, `split`: make a label set, print it or write it."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from curate.cli.common import QUIET_OPTION, App, check_output, flag, say
from curate.cli.output import print_rows, stdout_console
from curate.labels.classlists import BRANCH_SETS, BUILTIN_LISTS, TARGET_SETS
from curate.labels.commands import coarsen_labels, exclude_labels, extend_labels, sample_labels, split_labels
from curate.labels.recipes import SPLITS
from curate.wordnet.hierarchy import TREE_RULES

app = App()


def defaults(function) -> dict:
    """The defaults of a recipe command's parameters, as the library declares them: the options take them."""
    import inspect

    return {name: p.default for name, p in inspect.signature(function).parameters.items() if p.default is not p.empty}


COARSEN, EXCLUDE, EXTEND, SAMPLE, SPLIT = map(defaults, (coarsen_labels, exclude_labels, extend_labels, sample_labels,
                                                        split_labels))

BASE_HELP = f"Base classes: {', '.join(BUILTIN_LISTS)}, a text file of wnids (one per line), or a label manifest."
TreeRule = Enum("TreeRule", {name: name for name in TREE_RULES}, type=str)
TREE_OPTION = typer.Option(
    COARSEN["tree"],
    "--tree",
    help="Parent rule that turns the WordNet DAG into a tree: "
    + "; ".join(f"{name}: {text}" for name, text in TREE_RULES.items()),
)


OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="Write the manifest here (Parquet); without it, print a summary.")
SUMMARY_JSON_OPTION = flag("--json", help="Without -o: print the summary (every label) as JSON.")


def prepare(output: Path | None, *inputs: Path | str | None):
    """Check the output path before any work (writable, and none of the command's input files); return the
    hierarchy."""
    from curate.wordnet.snapshot import load_hierarchy

    check_output(output, *inputs)
    return load_hierarchy()


@app.command()
def coarsen(
    depth: Optional[int] = typer.Option(COARSEN["depth"], "--depth", "-d", help="Map each class to its ancestor at depth D (0 = entity); the paper's bottom-up cut."),
    lift: Optional[int] = typer.Option(COARSEN["lift"], "--lift", "-l", help="Lift to the parent and absorb nested labels, K times; the paper's top-down (1 gives 127 classes)."),
    classes: Optional[int] = typer.Option(COARSEN["classes"], "--classes", "-n", help="Balanced refinement of the one-lift set to exactly N classes (e.g. 262, 491)."),
    base: str = typer.Option(COARSEN["base"], "--base", help=BASE_HELP),
    tree: TreeRule = TREE_OPTION,
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """Coarsen a class list into fewer labels along the WordNet tree.

    Examples:
    $ curate coarsen --depth 3   # the paper's 9 labels, as a summary
    $ curate coarsen --lift 1 -o coarse-127.parquet
    $ curate coarsen --classes 262
    """
    labels = coarsen_labels(prepare(output, base), depth=depth, lift=lift, classes=classes, base=base, tree=tree.value)
    deliver(labels, output, quiet, as_json)


def deliver(labels, output: Path | None, quiet: bool, as_json: bool = False) -> None:
    """Without an output path, print the summary: a table of the largest labels on a terminal, else every
    label as TSV (its title on stderr) or JSON; with one, write the manifest, print its path on stdout and a
    one-line summary on stderr. A note on how the set came out goes to stderr either way, even with
    --quiet."""
    if labels.note:
        from curate.cli.common import command_words
        from curate.errors import worded

        typer.echo(f"Note: {worded(labels.note, command_words())}", err=True)
    if output is None:
        from curate.labels.summary import summarize

        console = stdout_console()
        if console is not None and not as_json:
            render_summary(console, labels)
            return
        summary = summarize(labels)
        if not as_json:
            removed = f"; {summary.removed} classes removed" if summary.removed else ""
            say(summary.title + removed, quiet)
        print_rows(summary.labels, summary, as_json=as_json)
        return
    from curate.labels.manifest import write_labels

    digest = write_labels(labels, output)
    typer.echo(str(output))
    say(f"{labels.label_count} labels over {len(labels.kept)} classes ({labels.describe()}), {digest[:19]}…", quiet)


def render_summary(console, labels, largest: int = 15) -> None:
    from rich.table import Table

    from curate.labels.summary import summarize

    summary = summarize(labels)
    table = Table(title=summary.title, title_justify="left")
    table.add_column("label", no_wrap=True)
    table.add_column("name")
    table.add_column("classes", justify="right")
    table.add_column("for example")
    for row in summary.labels[:largest]:
        table.add_row(row.label_wnid, row.name, str(row.classes), row.for_example)
    console.print(table)
    if summary.removed:
        console.print(f"{summary.removed} classes removed, e.g. {next(r for r in labels.rows if r.label_wnid is None).name}.", highlight=False)
    if len(summary.labels) > largest:
        singletons = sum(row.classes == 1 for row in summary.labels)
        console.print(f"… and {len(summary.labels) - largest} smaller labels; {singletons} labels hold a single class.", highlight=False)


@app.command()
def exclude(
    targets: Optional[str] = typer.Option(EXCLUDE["targets"], "--targets", "-t", help="A built-in target set: " + ", ".join(TARGET_SETS) + " (the default, unless --synset or --synsets-file names the targets)."),
    synset: Optional[list[str]] = typer.Option(EXCLUDE["synset"], "--synset", "-s", metavar="WNID", help="A target wnid instead of the built-in set; repeat it for more."),
    synsets_file: Optional[Path] = typer.Option(EXCLUDE["synsets_file"], "--synsets-file", help="A text file of target wnids."),
    base: str = typer.Option(EXCLUDE["base"], "--base", help=BASE_HELP),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """Remove every class that lies under a target synset on any hypernym path.

    The default, pascal-voc, removes the 229 ILSVRC-2012 classes under the 20 PASCAL VOC synsets and keeps
    771. coco, cifar10 and cifar100 map each category of those datasets to WordNet 3.0 synsets (files under
    curate/data/, which say why each synset was chosen). Each removed class says which target removed it.

    Examples:
    $ curate exclude --targets coco
    $ curate exclude -s n02084071   # every dog
    """
    hierarchy = prepare(output, base, synsets_file)
    labels = exclude_labels(hierarchy, targets=targets, synset=synset, synsets_file=synsets_file, base=base)
    deliver(labels, output, quiet, as_json)


@app.command()
def extend(
    add: int = typer.Option(..., "--add", "-a", help="How many classes to add."),
    branches: str = typer.Option(EXTEND["branches"], "--branches", help="A built-in branch set: " + ", ".join(BRANCH_SETS) + "."),
    branch: Optional[list[str]] = typer.Option(EXTEND["branch"], "--branch", metavar="WNID", help="A branch wnid instead of the built-in set; repeat it for more."),
    base: str = typer.Option(EXTEND["base"], "--base", help=BASE_HELP),
    pool: str = typer.Option(EXTEND["pool"], "--pool", "-p", help="Where added classes come from: " + ", ".join(BUILTIN_LISTS) + ", a file or a manifest."),
    seed: int = typer.Option(EXTEND["seed"], "--seed", help="Seed of the order within a branch."),
    images: Optional[Path] = typer.Option(EXTEND["images"], "--images", help="An image index (curate images index), to count images per synset."),
    min_images: Optional[int] = typer.Option(EXTEND["min_images"], "--min-images", help="With --images: skip synsets with fewer images (default 0)."),
    keep_base_order: bool = flag("--keep-base-order", help="Keep the base's labels 0..N-1 in the base's own order (a file's lines, a list's such as imagenet22k-ms, a manifest's labels; ILSVRC-2012's is its standard order) and number the added classes after them; without it all labels are in wnid order."),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """Add classes from a larger pool under chosen branches; the base stays intact.

    No added class is an ancestor or descendant of a base class or of another added class, so no two labels
    claim the same images. Classes are drawn round-robin over the branches, in seeded-hash order within
    each.

    Example (Oquab et al.'s PRE-1512):
    $ curate extend --add 512 --keep-base-order -o oquab-1512.parquet
    """
    hierarchy = prepare(output, base, pool, images)
    labels = extend_labels(hierarchy, add=add, branches=branches, branch=branch, base=base, pool=pool, seed=seed,
                           images=images, min_images=min_images, keep_base_order=keep_base_order)
    deliver(labels, output, quiet, as_json)


@app.command()
def sample(
    classes: int = typer.Option(..., "--classes", "-n", help="How many classes to draw."),
    seed: int = typer.Option(SAMPLE["seed"], "--seed", help="The seed of the draw."),
    pool: str = typer.Option(SAMPLE["pool"], "--pool", "-p", help="Where classes come from: " + ", ".join(BUILTIN_LISTS) + ", a file or a manifest."),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """Draw N classes at random (seeded), none an ancestor or descendant of another.

    Examples:
    $ curate sample --classes 1000 --seed 0   # Oquab et al.'s PRE-1000R
    $ curate sample --pool ilsvrc2012 --classes 100
    """
    deliver(sample_labels(prepare(output, pool), classes=classes, seed=seed, pool=pool), output, quiet, as_json)


SplitMethod = Enum("SplitMethod", {name: name for name in SPLITS}, type=str)


@app.command()
def split(
    method: SplitMethod = typer.Argument(..., help="random (seeded halves a and b) or natural-manmade (Yosinski et al.)."),
    part: str = typer.Option(..., "--part", help="Which part to keep: a or b; natural or manmade."),
    seed: Optional[int] = typer.Option(SPLIT["seed"], "--seed", help="Seed of the random split (default 0); natural-manmade takes none."),
    base: str = typer.Option(SPLIT["base"], "--base", help=BASE_HELP),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """Keep one part of a two-way split; the other part's classes are marked removed.

    natural-manmade on ILSVRC-2012 gives 449 natural and 551 man-made classes: artifacts are man-made,
    organisms natural, and 68 other classes follow Yosinski et al.'s hand assignment (shipped as a table).

    Example:
    $ curate split natural-manmade --part natural -o natural-449.parquet
    """
    labels = split_labels(prepare(output, base), method.value, part=part, seed=seed, base=base)
    deliver(labels, output, quiet, as_json)
