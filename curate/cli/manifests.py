"""`curate build`, `presets`, `lists`, `rebuild`, `show`, `diff`, `git-setup`: the preset manifests and built-in lists, and reading manifests
as text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from curate.cli.common import QUIET_OPTION, App, flag, say, stderr_console
from curate.cli.output import JSON_OPTION, print_rows, stdout_console

app = App()


@app.command()
def build(
    output: Path = typer.Option(Path("manifests"), "--output", "-o", help="Folder to write the preset manifests into."),
    old_output: Optional[Path] = typer.Option(None, "--out", hidden=True),  # its name before -o/--output; still works
    check: bool = flag("--check", help="Write nothing; fail if any file under --output differs from a fresh build."),
    quiet: bool = QUIET_OPTION,
):
    """Write every preset manifest (see `curate presets`) with its text sidecar, or check they are current."""
    from curate.labels.presets import PRESETS, build_presets, check_presets
    from curate.progress import progress_bar
    from curate.wordnet.snapshot import load_hierarchy

    out = old_output or output
    console = stderr_console(quiet)
    if check:
        with progress_bar(console) as progress:
            check_presets(load_hierarchy(), out, progress)
        console.print(f"All {len(PRESETS)} presets in {out} are current.", highlight=False)
        return
    with progress_bar(console) as progress:
        written = build_presets(load_hierarchy(), out, progress)
    for path in written:
        typer.echo(str(path))


def presets(as_json: bool = JSON_OPTION):
    """List the preset manifests that `curate build` writes: each one's label count, the command that makes it,
    and what it is."""
    from curate.labels.presets import preset_rows

    print_rows(preset_rows(), as_json=as_json, title="Presets written by `curate build` into manifests/")


app.command()(presets)
app.command("recipes", hidden=True)(presets)  # its name before, though it never listed recipes; still works


@app.command()
def lists(as_json: bool = JSON_OPTION):
    """List the built-in class lists: the name `--base` and `--pool` take, the numbering `--classes` and
    `curate export class-map` take (label i is line i of the list), the classes, the order, and the timm file
    each was copied from.

    Examples:
    $ curate lists
    $ curate lists --json
    """
    from curate.labels.classlists import builtin_rows

    print_rows(builtin_rows(), as_json=as_json, title="Built-in class lists (curate/data/, copied from timm)")


@app.command()
def rebuild(
    path: Path = typer.Argument(..., help="A label manifest: its recipe is run again and the file rewritten."),
    quiet: bool = QUIET_OPTION,
):
    """Run again the recipe a manifest records (its parameters, tree rule and base list) and write the result
    over it: the rows and content hash `curate build` or the recipe's command gives today.

    After a merge in which both branches changed a manifest, keep one side's file (`git checkout --theirs
    FILE`) and rebuild it. A base list that is not built in must lie beside the manifest, as it was.

    Example:
    $ curate rebuild manifests/coarse-127.parquet
    """
    from curate.labels.rebuild import rebuild_manifest
    from curate.wording import plural
    from curate.wordnet.snapshot import load_hierarchy

    rebuilt = rebuild_manifest(load_hierarchy(), path)
    typer.echo(str(path))
    say(f"Ran `{rebuilt.spec}` on {rebuilt.base}: {plural(rebuilt.labels.label_count, 'label')}, "
        f"{plural(rebuilt.changed, 'class')} changed label, {rebuilt.content_hash[:19]}…", quiet)


@app.command("git-setup")
def git_setup(quiet: bool = QUIET_OPTION):
    """Make `git diff` show changed manifests as class lines, in the git repository of this folder.

    Sets the `curate` diff driver's textconv to `curate show` (in .git/config) and, where no attribute
    routes *.parquet to it yet, adds `*.parquet diff=curate` to .gitattributes.
    """
    from curate.gitdiff import configure_textconv

    for line in configure_textconv(Path.cwd()):
        say(line, quiet)


@app.command()
def show(
    path: Path = typer.Argument(..., help="A label manifest, a level manifest, an image index or an image table (.parquet)."),
    as_json: bool = flag("--json", help="Print the record as JSON: a manifest's recipe and every class with its label id; an index's or table's provenance, hash and images per class or label."),
):
    """Print a curate file as text. A manifest: sorted lines, one per class: `n02085620  Chihuahua  ->
    n02084071  dog` (a git textconv driver: see `curate git-setup`). A level manifest: one line per class with
    its label at every level, coarse to fine. An image index or table: where its images
    are and came from, its content hash, and its images per class or per label.
    """
    from curate.fileformat import kind_of

    kind = kind_of(path)
    if kind in ("images", "table"):
        from curate.images.describe import image_file_record, record_lines

        record = image_file_record(path, kind)
        if as_json:
            typer.echo(json.dumps(record, indent=2))
            return
        keys, table = record_lines(record)  # in a pipe the table alone on stdout, for `cut` and `sort`
        typer.echo("\n".join(keys), err=stdout_console() is None)
        typer.echo("\n".join(table))
        return
    if kind == "levels":
        from curate.labels.levels import levels_lines, levels_record, read_levels

        levels, meta = read_levels(path)
        typer.echo(json.dumps(levels_record(levels, meta), indent=2, ensure_ascii=False) if as_json else "\n".join(levels_lines(levels)))
        return
    from curate.labels.manifest import read_labels
    from curate.labels.summary import manifest_record
    from curate.labels.textform import show_lines

    labels = read_labels(path)
    typer.echo(json.dumps(manifest_record(labels), indent=2, ensure_ascii=False) if as_json else "\n".join(show_lines(labels)))


@app.command()
def diff(
    old: Path = typer.Argument(..., help="The manifest before."),
    new: Path = typer.Argument(..., help="The manifest after."),
    as_json: bool = flag("--json", help="Print the change as JSON: every class that changed label (its label id, wnid and name before and after) and the labels created and dropped (of level manifests: a list, one such change per level)."),
):
    """Show which classes changed label (from → to), which labels appeared or went, and the counts. Of two level
    manifests (`curate levels`): the same, level by level."""
    from curate.fileformat import kind_of

    if kind_of(old) == kind_of(new) == "levels":
        from curate.labels.levels import levels_diff_lines, read_levels
        from curate.labels.textform import diff_labels

        (before, _), (after, _) = read_levels(old), read_levels(new)
        if as_json:
            from curate.cli.output import to_json

            pairs = zip(before.levels, after.levels)
            typer.echo(json.dumps([to_json(diff_labels(b.labels, a.labels)) for b, a in pairs], indent=2, ensure_ascii=False))
            return
        typer.echo("\n".join(levels_diff_lines(before, after)))
        return
    from curate.labels.manifest import read_labels
    from curate.labels.textform import diff_labels, diff_lines

    before, after = read_labels(old), read_labels(new)
    if as_json:
        from curate.cli.output import to_json

        typer.echo(json.dumps(to_json(diff_labels(before, after)), indent=2, ensure_ascii=False))
        return
    typer.echo("\n".join(diff_lines(before, after)))
