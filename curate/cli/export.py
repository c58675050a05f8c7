"""`curate export class-map`, `labels-table`, `imagefolder`: a label set or image table in other tools' formats."""

from __future__ import annotations

from pathlib import Path

import typer

from curate.cli.common import QUIET_OPTION, App, say

app = App(help="Write a label set or an image table in the formats other tools read; never replaces a file.")
MANIFEST = typer.Argument(..., help="A label manifest (.parquet).")


def output_option(what: str):
    return typer.Option(..., "--output", "-o", help=f"The {what} to write; it must not exist yet.")


def export_manifest(manifest: Path, kind: str, output: Path, quiet: bool) -> None:
    """Check the target before reading anything, write the export, print its path (and a summary on stderr)."""
    from curate.labels.exports import check_export, export_labels
    from curate.labels.manifest import read_labels

    check_export(output, kind)
    labels = read_labels(manifest)
    export_labels(labels, kind, output)
    typer.echo(str(output))
    say(f"{labels.label_count:,} labels of {manifest}.", quiet)


@app.command("class-map")
def class_map(manifest: Path = MANIFEST, output: Path = output_option("class map (.txt)"), quiet: bool = QUIET_OPTION):
    """Write a timm `--class-map` file: one label wnid per line, line i holding label i.

    With `curate export imagefolder`'s class folders, timm then uses curate's label numbers.

    Example:
    $ curate export class-map coarse-127.parquet -o coarse-127-classes.txt
    """
    export_manifest(manifest, "class-map", output, quiet)


@app.command("labels-table")
def labels_table(manifest: Path = MANIFEST, output: Path = output_option("table"), quiet: bool = QUIET_OPTION):
    """Write `index<TAB>wnid<TAB>name` per label, so a checkpoint's output index maps back to a class.

    Example:
    $ curate export labels-table coarse-127.parquet -o coarse-127-labels.tsv
    """
    export_manifest(manifest, "labels-table", output, quiet)


@app.command()
def imagefolder(
    table: Path = typer.Argument(..., help="A labelled image table (curate images apply)."),
    output: Path = output_option("folder"),
    quiet: bool = QUIET_OPTION,
):
    """Write an ImageFolder tree `<label_wnid>/<image>` of symlinks to a table's images.

    Folders sort in label order. Images inside tar archives or Parquet shards cannot be symlinked: index extracted folders.

    Example:
    $ curate export imagefolder train-127.parquet -o train-127
    """
    from curate.fileio import check_absent
    from curate.images.imagefolder import export_imagefolder
    from curate.images.table import ImageTable

    check_absent(output)
    links = export_imagefolder(ImageTable.read(table), output)
    typer.echo(str(output))
    say(f"{links:,} links to images of {table}.", quiet)
