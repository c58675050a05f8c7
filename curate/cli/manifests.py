"""`curate build`, `presets`, `show`, `diff`, `git-setup`: the preset manifests, and reading manifests as text."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from curate.cli.common import QUIET_OPTION, App, flag, say, stderr_console

app = App()

@app.command()
def build(
    out: Path = typer.Option(Path("manifests"), "--out", help="Folder to write the preset manifests into."),
    check: bool = flag("--check", help="Write nothing; fail if any file under --out differs from a fresh build."),
    quiet: bool = QUIET_OPTION,
):
    """Write every preset manifest (see `curate presets`) with its text sidecar, or check they are current."""
    from curate.labels.presets import PRESETS, build_presets, check_presets
    from curate.progress import progress_bar
    from curate.wordnet.snapshot import load_hierarchy

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


def presets():
    """List the preset manifests that `curate build` writes: each one's label count, the command that makes it,
    and what it is."""
    from rich.console import Console
    from rich.table import Table

    from curate.labels.presets import PRESETS

    table = Table(title="Presets written by `curate build` into manifests/", title_justify="left")
    for column in ("file", "labels", "command", "what"):
        table.add_column(column, justify="right" if column == "labels" else "left", no_wrap=column != "what")
    for preset in PRESETS:
        table.add_row(f"{preset.name}.parquet", str(preset.label_count), preset.command, preset.about)
    Console().print(table)


app.command()(presets)
app.command("recipes", hidden=True)(presets)  # its name before, though it never listed recipes; still works


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
    path: Path = typer.Argument(..., help="A label manifest, an image index or an image table (.parquet)."),
    as_json: bool = flag("--json", help="Print the record as JSON: a manifest's recipe and every class with its label id; an index's or table's provenance, hash and images per class or label."),
):
    """Print a curate file as text. A manifest: sorted lines, one per class: `n02085620  Chihuahua  ->
    n02084071  dog` (a git textconv driver: see `curate git-setup`). An image index or table: where its images
    are and came from, its content hash, and its images per class or per label.
    """
    from curate.fileformat import kind_of

    kind = kind_of(path)
    if kind in ("images", "table"):
        from curate.images.describe import image_file_record, record_lines

        record = image_file_record(path, kind)
        typer.echo(json.dumps(record, indent=2) if as_json else "\n".join(record_lines(record)))
        return
    from curate.labels.manifest import read_labels
    from curate.labels.summary import manifest_record
    from curate.labels.textform import show_lines

    labels = read_labels(path)
    typer.echo(json.dumps(manifest_record(labels), indent=2, ensure_ascii=False) if as_json else "\n".join(show_lines(labels)))


@app.command()
def diff(old: Path = typer.Argument(..., help="The manifest before."), new: Path = typer.Argument(..., help="The manifest after.")):
    """Show which classes changed label (from → to), which labels appeared or went, and the counts."""
    from curate.labels.manifest import read_labels
    from curate.labels.textform import diff_lines

    typer.echo("\n".join(diff_lines(read_labels(old), read_labels(new))))
