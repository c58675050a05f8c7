"""The `curate` command line: parse, call the library, render. No logic lives here."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from curate.classlists import BRANCH_SETS, BUILTIN_LISTS, DEFAULT_BASE, TARGET_SETS, named_set
from curate.cli_images import images_app
from curate.cliutil import OPTIONS, QUIET_OPTION, App, stderr_console
from curate.hierarchy import DEFAULT_TREE_RULE, TREE_RULES
from curate.recipes import SPLITS


HELP = """Curate ImageNet label sets from the WordNet 3.0 noun hierarchy.

Every label set is computed from the embedded WordNet 3.0 snapshot, written as a Parquet manifest with its
recipe, tree rule and content hash, and readable in a git diff.

Start with:  curate coarsen --depth 3
"""

app = App(help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
wordnet_app = App(help="Install WordNet 3.0 for NLTK; rebuild or check the embedded snapshot.", no_args_is_help=True)
app.add_typer(wordnet_app, name="wordnet")
app.add_typer(images_app, name="images")

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


OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="Write the manifest here (Parquet); without it, print a summary.")


def prepare(output: Path | None):
    """Check the output path before any work; return the hierarchy."""
    from curate.fileio import check_writable
    from curate.wordnet import load_hierarchy

    if output is not None:
        check_writable(output)
    return load_hierarchy()


@app.command()
def coarsen(
    depth: Optional[int] = typer.Option(None, "--depth", "-d", help="Map each class to its ancestor at depth D (0 = entity); the paper's bottom-up cut."),
    lift: Optional[int] = typer.Option(None, "--lift", "-l", help="Lift to the parent and absorb nested labels, K times; the paper's top-down (1 gives 127 classes)."),
    classes: Optional[int] = typer.Option(None, "--classes", "-n", help="Balanced refinement of the one-lift set to exactly N classes (e.g. 262, 491)."),
    base: str = typer.Option(DEFAULT_BASE, "--base", "-b", help=BASE_HELP),
    tree: TreeRule = TREE_OPTION,
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
):
    """Coarsen a class list into fewer labels along the WordNet tree.

    Examples:  curate coarsen --depth 3    curate coarsen --lift 1 -o coarse-127.parquet    curate coarsen --classes 262
    """
    from curate.classlists import load_class_list
    from curate.recipes import coarsen as coarsen_recipe

    labels = coarsen_recipe(prepare(output), load_class_list(base), depth=depth, lifts=lift, classes=classes, rule=tree.value)
    deliver(labels, output, quiet)


def deliver(labels, output: Path | None, quiet: bool) -> None:
    """Without an output path, print the summary; with one, write the manifest, print its path on stdout
    and a one-line summary on stderr."""
    if output is None:
        from rich.console import Console

        render_summary(Console(), labels)
        return
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
        title=f"{len(groups)} labels over {len(labels.kept)} classes: {labels.describe()}"
        + (f", tree {labels.tree_rule}" if labels.tree_rule else ""),
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
    removed = len(labels.rows) - len(labels.kept)
    if removed:
        console.print(f"{removed} classes removed, e.g. {next(r for r in labels.rows if r.label_wnid is None).name}.", highlight=False)
    if len(sizes) > largest:
        console.print(f"… and {len(sizes) - largest} smaller labels; {len(singletons)} labels hold a single class.", highlight=False)


@app.command()
def exclude(
    targets: str = typer.Option("pascal-voc", "--targets", "-t", help="A built-in target set: " + ", ".join(TARGET_SETS) + "."),
    synset: Optional[list[str]] = typer.Option(None, "--synset", "-s", help="A target wnid instead of the built-in set (repeatable)."),
    synsets_file: Optional[Path] = typer.Option(None, "--synsets-file", help="A text file of target wnids."),
    base: str = typer.Option(DEFAULT_BASE, "--base", "-b", help=BASE_HELP),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
):
    """Remove every class that lies under a target synset on any hypernym path.

    The default, pascal-voc, removes the 229 ILSVRC-2012 classes under the 20 PASCAL VOC synsets and keeps
    771. Each removed class says which target removed it.  Example:  curate exclude -s n02084071 (all dogs)
    """
    from curate.classlists import load_class_list
    from curate.recipes import exclude as exclude_recipe

    h = prepare(output)
    custom = sorted(set(synset or []) | set(load_class_list(str(synsets_file)).wnids if synsets_file else []))
    if custom:
        wnids, name = custom, "custom: " + " ".join(custom)
    else:
        wnids, name = named_set(TARGET_SETS, targets, "target set", "--synset"), targets
    deliver(exclude_recipe(h, load_class_list(base), wnids, name), output, quiet)


@app.command()
def extend(
    add: int = typer.Option(..., "--add", "-a", help="How many classes to add."),
    branches: str = typer.Option("pascal-voc", "--branches", help="A built-in branch set: " + ", ".join(BRANCH_SETS) + "."),
    branch: Optional[list[str]] = typer.Option(None, "--branch", help="A branch wnid instead of the built-in set (repeatable)."),
    base: str = typer.Option(DEFAULT_BASE, "--base", "-b", help=BASE_HELP),
    pool: str = typer.Option("imagenet22k", "--pool", "-p", help="Where added classes come from: " + ", ".join(BUILTIN_LISTS) + ", a file or a manifest."),
    seed: int = typer.Option(0, "--seed", help="Seed of the order within a branch."),
    images: Optional[Path] = typer.Option(None, "--images", help="An image index (curate images index), to count images per synset."),
    min_images: int = typer.Option(0, "--min-images", help="With --images: skip synsets with fewer images."),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
):
    """Add classes from a larger pool under chosen branches; the base stays intact.

    No added class is an ancestor or descendant of a base class or of another added class, so no two labels
    claim the same images. Classes are drawn round-robin over the branches, in seeded-hash order within
    each.  Example (Oquab et al.'s PRE-1512):  curate extend --add 512 -o oquab-1512.parquet
    """
    from curate.classlists import load_class_list
    from curate.recipes import extend as extend_recipe

    h = prepare(output)
    wnids = sorted(set(branch)) if branch else named_set(BRANCH_SETS, branches, "branch set", "--branch")
    counts = None
    if images is not None:
        from curate.images import class_counts, read_index

        counts = class_counts(read_index(images)[0])
    labels = extend_recipe(h, load_class_list(base), load_class_list(pool), wnids, add, seed, counts, min_images)
    deliver(labels, output, quiet)


@app.command()
def sample(
    classes: int = typer.Option(..., "--classes", "-n", help="How many classes to draw."),
    seed: int = typer.Option(0, "--seed", help="The seed of the draw."),
    pool: str = typer.Option("imagenet22k", "--pool", "-p", help="Where classes come from: " + ", ".join(BUILTIN_LISTS) + ", a file or a manifest."),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
):
    """Draw N classes at random (seeded), none an ancestor or descendant of another.

    Example (Oquab et al.'s PRE-1000R):  curate sample --classes 1000 --seed 0.  From a base list:
    curate sample --pool ilsvrc2012 --classes 100
    """
    from curate.classlists import load_class_list
    from curate.recipes import sample as sample_recipe

    deliver(sample_recipe(prepare(output), load_class_list(pool), classes, seed), output, quiet)


SplitMethod = Enum("SplitMethod", {name: name for name in SPLITS}, type=str)


@app.command()
def split(
    method: SplitMethod = typer.Argument(..., help="random (seeded halves a and b) or natural-manmade (Yosinski et al.)."),
    part: str = typer.Option(..., "--part", help="Which part to keep: a or b; natural or manmade."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random split."),
    base: str = typer.Option(DEFAULT_BASE, "--base", "-b", help=BASE_HELP),
    output: Optional[Path] = OUTPUT_OPTION,
    quiet: bool = QUIET_OPTION,
):
    """Keep one part of a two-way split; the other part's classes are marked removed.

    natural-manmade on ILSVRC-2012 gives 449 natural and 551 man-made classes: artifacts are man-made,
    organisms natural, and 68 other classes follow Yosinski et al.'s hand assignment (shipped as a table).
    Example:  curate split natural-manmade --part natural -o natural-449.parquet
    """
    from curate.classlists import load_class_list
    from curate.recipes import split as split_recipe

    deliver(split_recipe(prepare(output), load_class_list(base), method.value, part, seed), output, quiet)


@app.command()
def build(
    out: Path = typer.Option(Path("manifests"), "--out", help="Folder to write the preset manifests into."),
    check: bool = typer.Option(False, "--check", help="Write nothing; fail if any file under --out differs from a fresh build."),
    quiet: bool = QUIET_OPTION,
):
    """Write every preset manifest (see `curate recipes`) with its text sidecar, or check they are current."""
    from rich.progress import track

    from curate.presets import PRESETS, build_presets, stale_presets
    from curate.wordnet import load_hierarchy

    console = stderr_console(quiet)

    def progress(items):
        return track(items, "Building presets", console=console, transient=True)

    if check:
        stale = stale_presets(load_hierarchy(), out, progress)
        if stale:
            from curate.errors import StaleManifests

            raise StaleManifests(f"{len(stale)} files are not what `curate build` writes ({', '.join(stale)}): run `curate build --out {out}`.")
        console.print(f"All {len(PRESETS)} presets in {out} are current.", highlight=False)
        return
    for path in build_presets(load_hierarchy(), out, progress):
        typer.echo(str(path))


@app.command()
def recipes():
    """List the preset manifests that `curate build` writes, with their recipes and class counts."""
    from rich.console import Console
    from rich.table import Table

    from curate.presets import PRESETS

    table = Table(title="Presets written by `curate build` into manifests/", title_justify="left")
    for column in ("file", "classes", "what"):
        table.add_column(column, justify="right" if column == "classes" else "left")
    for preset in PRESETS:
        table.add_row(f"{preset.name}.parquet", str(preset.classes), preset.describe)
    Console().print(table)


@app.command("git-setup")
def git_setup():
    """Make `git diff` show changed manifests as class lines, in the git repository of this folder.

    Sets the `curate` diff driver's textconv to `curate show` (in .git/config) and, where no attribute
    routes *.parquet to it yet, adds `*.parquet diff=curate` to .gitattributes.
    """
    from curate.gitdiff import configure_textconv

    for line in configure_textconv(Path.cwd()):
        stderr_console().print(line, highlight=False)


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
