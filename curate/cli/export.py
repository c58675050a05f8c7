"""`curate export class-map`, `labels-table`, `imagefolder`, `webdataset`: a label set or image table in other tools' formats."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from curate.cli.common import QUIET_OPTION, App, flag, say, stderr_console
from curate.wording import plural, some

app = App(help="Write a label set or an image table in the formats other tools read; never replaces a file.")
LABELS = typer.Argument(..., metavar="MANIFEST", help="A label manifest (.parquet), or a built-in numbering (imagenet1k, imagenet12k, imagenet22k-ms, ...: `curate lists`): its classes in its order.")
TABLE = typer.Argument(..., help="A labelled image table (curate images apply).")


def output_option(what: str):
    return typer.Option(..., "--output", "-o", help=f"The {what} to write; it must not exist yet.")


def export_manifest(manifest: str, kind: str, output: Path, quiet: bool) -> None:
    """Check the target before reading anything, write the export, print its path (and a summary on stderr)."""
    from curate.labels.exports import check_export, export_labels, exported_labels

    check_export(output, kind)
    labels = exported_labels(manifest)
    export_labels(labels, kind, output)
    typer.echo(str(output))
    say(f"{plural(labels.label_count, 'label')} of {manifest}.", quiet)


@app.command("class-map")
def class_map(manifest: str = LABELS, output: Path = output_option("class map (.txt)"), quiet: bool = QUIET_OPTION):
    """Write a timm `--class-map` file: one label wnid per line, line i holding label i.

    With `curate export imagefolder`'s class folders, timm then uses curate's label numbers. A built-in
    numbering writes the classes of a checkpoint trained on it, in its order (`curate lists`).

    Examples:
    $ curate export class-map coarse-127.parquet -o coarse-127-classes.txt
    $ curate export class-map imagenet22k-ms -o in22k-ms-classes.txt
    """
    export_manifest(manifest, "class-map", output, quiet)


@app.command("labels-table")
def labels_table(manifest: str = LABELS, output: Path = output_option("table"), quiet: bool = QUIET_OPTION):
    """Write `index<TAB>wnid<TAB>name` per label, so a checkpoint's output index maps back to a class.

    Examples:
    $ curate export labels-table coarse-127.parquet -o coarse-127-labels.tsv
    $ curate export labels-table imagenet12k -o in12k-labels.tsv   # a timm in12k checkpoint's 11,821 outputs
    """
    export_manifest(manifest, "labels-table", output, quiet)


@app.command()
def imagefolder(
    table: Path = TABLE,
    output: Path = output_option("folder"),
    copy: bool = flag("--copy", help="Copy each image's bytes (out of tar archives, Parquet shards or a store too) instead of linking to it."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="The label manifest the table was made with: names the (empty) folders of labels without images."),
    quiet: bool = QUIET_OPTION,
):
    """Write an ImageFolder tree `<label folder>/<image>` of a table's images, numbered by ImageFolder readers as curate numbers them.

    Label folders are the label wnids, sorted in label order; where label order is not wnid order (extend --keep-base-order) the label comes first, zero-padded (`0003-n04399382`). classes.txt lists them, label i on line i (timm's --class-map). Images are symlinks, or with --copy copies.

    Examples:
    $ curate export imagefolder val-127.parquet -o val-127
    $ curate export imagefolder val-127.parquet --copy -o val-127-files
    """
    from curate.images.exports.imagefolder import export_imagefolder

    written = export_table(export_imagefolder, table, output, quiet, labels=read_manifest(labels), copy=copy)
    say(f"{written.images:,} {'copies of' if copy else 'links to'} images of {table}.", quiet)
    if written.empty_folders:
        say(f"{len(written.empty_folders):,} label folders are empty ({some(written.empty_folders)}): read them with "
            "torchvision's ImageFolder(allow_empty=True), or timm's --class-map classes.txt.", quiet)


@app.command()
def webdataset(
    table: Path = TABLE,
    output: Path = output_option("folder of shards"),
    shard_size: int = typer.Option(1000, "--shard-size", help="Images per shard."),
    seed: int = typer.Option(0, "--seed", help="Seed of the order of each split's images (a fixed shuffle)."),
    quiet: bool = QUIET_OPTION,
):
    """Write a table as WebDataset shards: KEY.jpg, KEY.cls (the label) and KEY.json (wnid, label, path) per image.

    The shards of each split are `<split>-000000.tar`...; `_info.json` lists them as timm's WebDataset reader reads it (timm.data.create_dataset("wds/NAME", root=FOLDER, split="train")). Images come from wherever the table points, archives and stores included.

    Example:
    $ curate export webdataset train-127.parquet -o train-127-wds
    """
    from curate.images.exports.webdataset import export_webdataset

    shards = export_table(export_webdataset, table, output, quiet, shard_size=shard_size, seed=seed)
    say(", ".join(f"{split}: {plural(sum(n for _, n in files), 'image')} in {plural(len(files), 'shard')}" for split, files in shards.items())
        + f", from {table}.", quiet)


def read_manifest(path: Path | None):
    from curate.labels.manifest import read_labels

    return read_labels(path) if path is not None else None


def export_table(export, table: Path, output: Path, quiet: bool, **options):
    """Check the target before reading anything, `export` the table with a progress bar, print the target's path."""
    from curate.fileio import check_absent
    from curate.images.table import ImageTable
    from curate.progress import progress_bar

    check_absent(output)
    with progress_bar(stderr_console(quiet)) as progress:
        written = export(ImageTable.read(table), output, progress=progress, **options)
    typer.echo(str(output))
    return written
