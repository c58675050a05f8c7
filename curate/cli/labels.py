"""`curate coarsen`, `exclude`, `extend`, `sample`, `split`, `breeds`, `import`: make a label set, print it or write it."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from curate.cli.common import QUIET_OPTION, App, check_output, flag, say
from curate.cli.output import print_rows, stdout_console
from curate.labels.classlists import BRANCH_SETS, BUILTIN_LISTS, TARGET_SETS
from curate.labels.breeds import BENCHMARKS, PARTS
from curate.labels.breeds import SPLITS as BREEDS_SPLITS
from curate.labels.commands import (
    COARSEN_TREES,
    breeds_labels,
    coarsen_labels,
    exclude_labels,
    import_labels,
    extend_labels,
    sample_labels,
    split_labels,
)
from curate.labels.recipes import SPLITS
from curate.wordnet.hierarchy import TREE_RULES
from curate.wording import plural

app = App()


def defaults(function) -> dict:
    """The defaults of a recipe command's parameters, as the library declares them: the options take them."""
    import inspect

    return {name: p.default for name, p in inspect.signature(function).parameters.items() if p.default is not p.empty}


COARSEN, EXCLUDE, EXTEND, SAMPLE, SPLIT, BREEDS = map(defaults, (coarsen_labels, exclude_labels, extend_labels,
                                                                sample_labels, split_labels, breeds_labels))

UNDER_OPTION = typer.Option(None, "--under", metavar="WNID", help="Keep only the classes under this synset (on any hypernym path) before the recipe runs, e.g. n02084071 for dogs.")
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


CoarsenTree = Enum("CoarsenTree", {name: name for name in COARSEN_TREES}, type=str)


@app.command()
def coarsen(
    depth: Optional[int] = typer.Option(COARSEN["depth"], "--depth", "-d", help="Map each class to its ancestor at depth D (0 = entity); the paper's bottom-up cut."),
    lift: Optional[int] = typer.Option(COARSEN["lift"], "--lift", "-l", help="Lift to the parent and absorb nested labels, K times; the paper's top-down (1 gives 127 classes)."),
    classes: Optional[int] = typer.Option(COARSEN["classes"], "--classes", "-n", help="Balanced refinement of the one-lift set to exactly N classes (e.g. 262, 491)."),
    subclasses: Optional[int] = typer.Option(COARSEN["subclasses"], "--subclasses", help="With --depth: keep the labels at depth D that hold K classes or more, K classes of each drawn seeded (BREEDS' N x K form)."),
    superclasses: Optional[int] = typer.Option(COARSEN["superclasses"], "--superclasses", help="With --subclasses: keep N of those labels, drawn seeded (default: all)."),
    seed: Optional[int] = typer.Option(COARSEN["seed"], "--seed", help="Seed of the --subclasses and --superclasses draws (default 0)."),
    base: str = typer.Option(COARSEN["base"], "--base", help=BASE_HELP),
    under: Optional[str] = UNDER_OPTION,
    tree: CoarsenTree = typer.Option(COARSEN["tree"], "--tree", help="The tree to cut: WordNet by a parent rule, or "
                                     "BREEDS' calibrated hierarchy (whose classes alone it labels). "
                                     + "; ".join(f"{name}: {text}" for name, text in COARSEN_TREES.items())),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """Coarsen a class list into fewer labels along the WordNet tree.

    Examples:
    $ curate coarsen --depth 3   # the paper's 9 labels, as a summary
    $ curate coarsen --lift 1 -o coarse-127.parquet
    $ curate coarsen --classes 262
    $ curate coarsen --depth 3 --tree breeds   # BREEDS' level 3; 110 classes are not in its hierarchy
    $ curate coarsen --depth 6 --subclasses 10 --superclasses 8 --seed 0   # 8 superclasses x 10 classes
    $ curate coarsen --depth 14 --under n02084071   # the 118 dogs under 14 labels
    """
    labels = coarsen_labels(prepare(output, base), depth=depth, lift=lift, classes=classes, subclasses=subclasses,
                            superclasses=superclasses, seed=seed, base=base, under=under, tree=tree.value)
    deliver(labels, output, quiet, as_json)


def deliver(labels, output: Path | None, quiet: bool, as_json: bool = False) -> None:
    """Without an output path, print the summary: a table of the largest labels on a terminal, else every
    label as TSV (its title on stderr) or JSON; with one, write the manifest, print its path on stdout and a
    one-line summary on stderr. A note on how the set came out goes to stderr either way, even with
    --quiet."""
    if as_json and output is not None:
        from curate.errors import BadOutput

        raise BadOutput("`as_json` prints the summary without writing the manifest, and `output` writes the manifest "
                        "instead of the summary: give one or the other.")
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
            removed = f"; {plural(summary.removed, 'class')} removed" if summary.removed else ""
            say(summary.title + removed, quiet)
        print_rows(summary.labels, summary, as_json=as_json)
        return
    from curate.labels.manifest import write_labels

    digest = write_labels(labels, output)
    typer.echo(str(output))
    say(f"{plural(labels.label_count, 'label')} over {plural(len(labels.kept), 'class')} ({labels.describe()}), {digest[:19]}…", quiet)


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
        console.print(f"{plural(summary.removed, 'class')} removed, e.g. {next(r for r in labels.rows if r.label_wnid is None).name}.", highlight=False)
    if len(summary.labels) > largest:
        singletons = sum(row.classes == 1 for row in summary.labels)
        console.print(f"… and {plural(len(summary.labels) - largest, 'smaller label')}; {plural(singletons, 'label')} {'holds' if singletons == 1 else 'hold'} a single class.", highlight=False)


@app.command()
def exclude(
    targets: Optional[str] = typer.Option(EXCLUDE["targets"], "--targets", "-t", help="A built-in target set: " + ", ".join(TARGET_SETS) + " (the default, unless --synset or --synsets-file names the targets)."),
    synset: Optional[list[str]] = typer.Option(EXCLUDE["synset"], "--synset", "-s", metavar="WNID", help="A target wnid instead of the built-in set; repeat it for more."),
    synsets_file: Optional[Path] = typer.Option(EXCLUDE["synsets_file"], "--synsets-file", help="A text file of target wnids."),
    base: str = typer.Option(EXCLUDE["base"], "--base", help=BASE_HELP),
    under: Optional[str] = UNDER_OPTION,
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
    labels = exclude_labels(hierarchy, targets=targets, synset=synset, synsets_file=synsets_file, base=base, under=under)
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
    under: Optional[str] = typer.Option(EXTEND["under"], "--under", metavar="WNID", help="Keep only the classes of the base and of the pool under this synset (on any hypernym path)."),
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
                           images=images, min_images=min_images, keep_base_order=keep_base_order, under=under)
    deliver(labels, output, quiet, as_json)


@app.command()
def sample(
    classes: int = typer.Option(..., "--classes", "-n", help="How many classes to draw."),
    seed: int = typer.Option(SAMPLE["seed"], "--seed", help="The seed of the draw."),
    pool: str = typer.Option(SAMPLE["pool"], "--pool", "-p", help="Where classes come from: " + ", ".join(BUILTIN_LISTS) + ", a file or a manifest."),
    under: Optional[str] = typer.Option(SAMPLE["under"], "--under", metavar="WNID", help="Draw only among the classes of the pool under this synset (on any hypernym path)."),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """Draw N classes at random (seeded), none an ancestor or descendant of another.

    Examples:
    $ curate sample --classes 1000 --seed 0   # Oquab et al.'s PRE-1000R
    $ curate sample --pool ilsvrc2012 --classes 100
    $ curate sample --classes 50 --under n02084071   # 50 kinds of dog from the 22k list
    """
    deliver(sample_labels(prepare(output, pool), classes=classes, seed=seed, pool=pool, under=under), output, quiet, as_json)


SplitMethod = Enum("SplitMethod", {name: name for name in SPLITS}, type=str)


@app.command()
def split(
    method: SplitMethod = typer.Argument(..., help="random (seeded halves a and b), natural-manmade (Yosinski et al.) or superclass (whole superclasses to train, val and test, as tieredImageNet)."),
    part: str = typer.Option(..., "--part", help="Which part to keep: a or b; natural or manmade; train, val or test."),
    seed: Optional[int] = typer.Option(SPLIT["seed"], "--seed", help="Seed of the random and superclass splits (default 0); natural-manmade takes none."),
    depth: Optional[int] = typer.Option(SPLIT["depth"], "--depth", "-d", help="superclass: the superclasses are the labels at this depth of the first-name tree (as `curate coarsen --depth`)."),
    sizes: Optional[str] = typer.Option(SPLIT["sizes"], "--sizes", metavar="TRAIN,VAL,TEST", help="superclass: how many superclasses go to train, val and test (tieredImageNet: 20,6,8); they add up to the superclasses at --depth."),
    base: str = typer.Option(SPLIT["base"], "--base", help=BASE_HELP),
    under: Optional[str] = UNDER_OPTION,
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """Keep one part of a split; the other parts' classes are marked removed, each saying where it went.

    natural-manmade on ILSVRC-2012 gives 449 natural and 551 man-made classes: artifacts are man-made,
    organisms natural, and 68 other classes follow Yosinski et al.'s hand assignment (shipped as a table).
    superclass keeps each superclass whole in one part (seeded), so no part sees another's kinds of thing;
    its classes keep their own labels.

    Examples:
    $ curate split natural-manmade --part natural -o natural-449.parquet
    $ curate split superclass --depth 5 --sizes 20,8,8 --part train --seed 0
    """
    labels = split_labels(prepare(output, base), method.value, part=part, seed=seed, depth=depth, sizes=sizes,
                          base=base, under=under)
    deliver(labels, output, quiet, as_json)


BreedsBenchmark = Enum("BreedsBenchmark", {name: name for name in BENCHMARKS}, type=str)
BreedsSplit = Enum("BreedsSplit", {name: name for name in BREEDS_SPLITS}, type=str)
BreedsPart = Enum("BreedsPart", {name: name for name in PARTS}, type=str)


@app.command()
def breeds(
    benchmark: Optional[BreedsBenchmark] = typer.Argument(BREEDS["benchmark"], help="A BREEDS benchmark: entity13 (13 superclasses x 20 subclasses), entity30 (30 x 8), living17 (17 x 4), nonliving26 (26 x 4); without it, give --level."),
    level: Optional[int] = typer.Option(BREEDS["level"], "--level", help="The superclasses' level in BREEDS' calibrated hierarchy (longest path from entity, 0..8)."),
    subclasses: Optional[int] = typer.Option(BREEDS["subclasses"], "--subclasses", help="Subclasses per superclass; nodes with fewer are left out (default as BREEDS: the fewest any node has, made even)."),
    ancestor: Optional[str] = typer.Option(BREEDS["ancestor"], "--ancestor", metavar="WNID", help="Only superclasses under this node, e.g. n00004258 (living thing)."),
    split: BreedsSplit = typer.Option(BREEDS["split"], "--split", help="How subclasses are halved into source and target: rand (seeded), good, bad (BREEDS' three), or none."),
    seed: int = typer.Option(BREEDS["seed"], "--seed", help="The seed of BREEDS' draws (its benchmarks use 2)."),
    unbalanced: bool = flag("--unbalanced", help="Take every subclass of each superclass (made even with a split), as BREEDS' balanced=False."),
    part: BreedsPart = typer.Option(BREEDS["part"], "--part", help="Keep both parts (each class's reason says source or target), or only source or target."),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """BREEDS' subpopulation-shift benchmarks (Santurkar et al. 2021), exactly as BREEDS' code draws them.

    Superclasses are nodes at one level of BREEDS' calibrated hierarchy (shipped in curate/data/breeds/), each
    labelling some of the ILSVRC-2012 classes under it; the others are removed, saying why. Labels are numbered
    as BREEDS numbers them, the same in source and target.

    Examples:
    $ curate breeds entity13   # 13 x (10 source + 10 target) subclasses, split rand, seed 2
    $ curate breeds living17 --split good --part target -o living17-target.parquet
    $ curate breeds --level 4 --subclasses 6 --ancestor n00021939 --seed 0
    """
    labels = breeds_labels(prepare(output), benchmark.value if benchmark else None, level=level, subclasses=subclasses,
                           ancestor=ancestor, split=split.value, seed=seed, unbalanced=unbalanced, part=part.value)
    deliver(labels, output, quiet, as_json)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="wnid,label lines (TSV or CSV, a header optional; a label is an integer id, a wnid or a name), timm's class map (one wnid per line, label = line number from 0), or a manifest rewritten by pandas, duckdb or polars (Parquet)."),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
):
    """Make a label set of a grouping you bring: every wnid checked against WordNet 3.0, labels numbered.

    Integer labels keep their ids (they must run 0..K-1); a label given as a wnid is that synset; a label given
    by a name keeps it as its name and takes its first class's wnid (curate and training key labels by wnid).
    The manifest records the file's name and sha256.

    Examples:
    $ curate import my-grouping.tsv -o mine.parquet
    $ curate import class_map.txt -o timm-classes.parquet   # timm's --class-map file
    $ curate import edited-by-pandas.parquet -o fixed.parquet
    """
    deliver(import_labels(prepare(output, file), file), output, quiet, as_json)
