"""`curate images ...`: index images, take subsets, label them for training. Parse, call the library, render."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from curate.cli.common import QUIET_OPTION, App, check_output, flag, say, stderr_console
from curate.labels.classlists import NUMBERINGS
from curate.progress import progress_bar

app = App(
    help="Index ImageNet-style images once; take nested per-class subsets or fixed budgets; label them for training.",
    no_args_is_help=True,
)

OUTPUT_HELP = "Write the {} here (Parquet)."


@app.command("index")
def index(
    root: Path = typer.Argument(..., help="Class folders (ROOT/<wnid>/...), <wnid>.tar archives, a validation folder, where a --file-list's images live, Kaggle's ILSVRC download (LOC_synset_mapping.txt beside ILSVRC/Data/CLS-LOC), image-net.org's ILSVRC2012_img_train.tar, Hugging Face Parquet shards (ROOT/data/train-00000-of-00294.parquet, ROOT/default/train/0000.parquet, ROOT/train.parquet) or save_to_disk folders, or WebDataset shards (ROOT/imagenet1k-train-0000.tar); found by what ROOT holds."),
    output: Path = typer.Option(..., "--output", "-o", help=OUTPUT_HELP.format("image index")),
    val_labels: Optional[Path] = typer.Option(None, "--val-labels", help="ROOT is a flat validation folder labelled by this file: LOC_val_solution.csv, `filename,wnid` lines, the devkit's ILSVRC2012_validation_ground_truth.txt (beside its meta.mat) or torchvision's meta.bin."),
    file_list: Optional[Path] = typer.Option(None, "--file-list", help="Index this train_cls.txt-style list (`n01440764/n01440764_10026 1`) instead of the folder; the images need not exist."),
    classes: Optional[str] = typer.Option(None, "--classes", help=f"What the numbered labels of Hugging Face or WebDataset shards number: a built-in list ({', '.join(NUMBERINGS)}; `curate lists`), label i on its line i, or FILE, one wnid per line, label 0's first. Shards that declare their class names are read by them; these must agree."),
    split: Optional[str] = typer.Option(None, "--split", help="The split to record: train, val or test (default: val for --val-labels, else train). For Kaggle's download and for shards it also picks what to read: val reads ILSVRC/Data/CLS-LOC/val or the validation-* shards."),
    sizes: bool = flag("--sizes", help="Record each image file's size, and leave out and report empty files: one stat per file, most of the time of indexing class folders. Without it, an image file's size is null and an empty one is indexed (--verify finds empty and broken files). For class folders and validation folders; tar members have their sizes anyway."),
    verify: bool = flag("--verify", help="Decode every image (needs Pillow); leave out and report the broken ones."),
    strict: bool = flag("--strict", help="Fail, writing nothing, when anything cannot be indexed (by default it is reported and left out)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write every reported path, by problem, to this JSON file."),
    quiet: bool = QUIET_OPTION,
):
    """Index images: one row per image (path, wnid, split, size with --sizes; member offset and size for tar archives, row for Parquet shards).

    Examples:
    $ curate images index train/ -o train.parquet
    $ curate images index val/ --val-labels LOC_val_solution.csv -o val.parquet
    $ curate images index imagenet-object-localization-challenge/ --split val -o val.parquet
    $ curate images index imagenet-1k/ -o train.parquet
    $ curate images index imagenet-1k-wds/ --split val -o val.parquet
    $ curate images index imagenet-wds/ --classes imagenet1k -o train.parquet
    """
    from curate.errors import BadOutput
    from curate.fileio import same_file, together
    from curate.images.index import ImageIndex
    from curate.images.report import write_report

    check_output(output, file_list, val_labels, classes)
    check_output(report, file_list, val_labels, classes)
    if report is not None and same_file(report, output):
        raise BadOutput(f"--report and -o both name {output}: give the report another file.")
    console = stderr_console(quiet)
    with progress_bar(console) as progress:
        index = ImageIndex.build(root, val_labels=val_labels, file_list=file_list, split=split, classes=classes,
                                 sizes=sizes, verify=verify, strict=strict, progress=progress)
    with together():  # the index and its report, or neither
        digest = index.write(output)
        if report is not None:
            write_report(index.report, report)
    typer.echo(str(output))
    render_index_report(console, index.report, digest)


def render_index_report(console, report, digest: str) -> None:
    from rich.table import Table

    from curate.wording import plural, some

    console.print(f"{plural(report.images, 'image')} of {plural(report.classes, 'class')} ({report.layout}), {digest[:19]}…", highlight=False)
    problems = {key: items for key, items in report.problems().items() if items}
    if not problems:
        return
    table = Table(title="Not indexed", title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("for example")
    for key, items in problems.items():
        table.add_row(report.PROBLEMS[key], f"{len(items):,}", some(items, 3))
    console.print(table)
    if any(len(items) > 3 for items in problems.values()):
        console.print("--report FILE writes every one of them.", highlight=False)


@app.command("subset")
def subset(
    index_path: Path = typer.Argument(..., metavar="index", help="An image index (from `curate images index`)."),
    output: Path = typer.Option(..., "--output", "-o", help=OUTPUT_HELP.format("subset (an image index)")),
    per_class: Optional[int] = typer.Option(None, "--per-class", help="Take N images of every class."),
    budget: Optional[int] = typer.Option(None, "--budget", help="Take TOTAL images, spread evenly over the labels of --labels, then over each label's classes."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="A label manifest, for --budget."),
    holdout: Optional[int] = typer.Option(None, "--holdout", help="Keep every image, and move the first K of each class to split val: a validation set cut from the training images (ImageNet-21K-P holds out 50)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the path hash that ranks each class's images."),
    allow_short: bool = flag("--allow-short", help="Take all images of a class that has fewer than asked (with --budget: give its share to other classes; with --holdout: keep all of a class of K images or fewer in train)."),
    quiet: bool = QUIET_OPTION,
):
    """Take a reproducible subset: each class's images ranked by a seeded hash of their path.

    Subsets nest (50 within 125 within 500 per class, for one seed), and adding images does not reshuffle them;
    a hold-out of 50 lies within the hold-out of 100.

    Examples:
    $ curate images subset train.parquet --per-class 500 -o train-500.parquet
    $ curate images subset train.parquet --budget 500000 --labels coarse-127.parquet -o b500k.parquet
    $ curate images subset train.parquet --holdout 50 -o train-val50.parquet
    """
    from curate.images.index import ImageIndex
    from curate.labels.manifest import read_labels
    from curate.wording import plural

    check_output(output, index_path, labels)
    whole = ImageIndex.read(index_path)
    label_set = read_labels(labels) if labels is not None else None
    chosen = whole.subset(per_class=per_class, budget=budget, labels=label_set, holdout=holdout, seed=seed,
                          allow_short=allow_short)
    digest = chosen.write(output)
    typer.echo(str(output))
    held = f", {chosen.split_counts().get('val', 0):,} of them held out in val" if holdout is not None else ""
    say(f"{len(chosen):,} of {plural(len(whole), 'image')}{held}, {digest[:19]}…", quiet)


@app.command("apply")
def apply(
    labels: Path = typer.Option(..., "--labels", help="A label manifest (from `curate coarsen` and friends)."),
    images: Path = typer.Option(..., "--images", help="An image index or subset."),
    output: Path = typer.Option(..., "--output", "-o", help=OUTPUT_HELP.format("training table")),
    allow_missing: bool = flag("--allow-missing", help="Go on when some of the manifest's classes have no images."),
    quiet: bool = QUIET_OPTION,
):
    """Label the images: the table training reads, one row per image with its integer label.

    Example:
    $ curate images apply --labels coarse-127.parquet --images train-500.parquet -o train-127.parquet
    """
    from curate.images.index import ImageIndex
    from curate.labels.manifest import read_labels

    check_output(output, labels, images)
    label_set = read_labels(labels)
    index = ImageIndex.read(images)
    table = index.label(label_set, allow_missing=allow_missing)
    digest = table.write(output)
    typer.echo(str(output))
    render_table_summary(stderr_console(quiet), table.summary(label_set, len(index)), digest)


def render_table_summary(console, summary, digest: str) -> None:
    """The summary of a labelled table on stderr: a table on a terminal, else its title and a `what<TAB>count`
    line each (a box would be drawn into a log, and wrapped)."""
    from curate.wording import plural, some

    title = f"{plural(summary.images, 'image')} under {plural(summary.labels, 'label')}, {digest[:19]}…"
    counts = {
        "images per label: min": f"{summary.per_label_min:,}",
        "images per label: median": f"{summary.per_label_median:,.1f}".removesuffix(".0"),
        "images per label: max": f"{summary.per_label_max:,}",
        "classes with no images": f"{len(summary.classes_without_images):,}",
        "labels with no images": f"{len(summary.labels_without_images):,}",
        "images left out (class removed or not in the manifest)": f"{summary.dropped_images:,}",
    }
    if console.is_terminal:
        from rich.table import Table

        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column("what")
        table.add_column("count", justify="right")
        for what, count in counts.items():
            table.add_row(what, count)
        console.print(table)
    else:
        say("\n".join([title, *(f"{what}\t{count}" for what, count in counts.items())]), console.quiet)
    if summary.classes_without_images:
        console.print(f"Classes with no images: {some(summary.classes_without_images, 10)}", highlight=False)


@app.command("restrict")
def restrict(
    labels: Path = typer.Option(..., "--labels", help="A label manifest (from `curate coarsen` and friends)."),
    images: Path = typer.Option(..., "--images", help="An image index: the classes it holds images of are kept."),
    min_images: Optional[int] = typer.Option(None, "--min-images", help="Keep only classes with at least N images in the index (ImageNet-21K-P: 500)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the restricted manifest here (Parquet); without it, print a summary."),
    quiet: bool = QUIET_OPTION,
):
    """Restrict a label set to the classes an image index has, for training on part of ImageNet.

    Classes without images (or with fewer than --min-images) are removed, each saying how many it had; the
    labels that still hold a class are numbered afresh, and the manifest records what it was restricted from.

    Examples:
    $ curate images restrict --labels manifests/coarse-127.parquet --images train.parquet -o coarse-mine.parquet
    $ curate images restrict --labels manifests/random-1000.parquet --images w21.parquet --min-images 500 -o mine.parquet
    """
    from curate.cli.labels import deliver
    from curate.images.index import ImageIndex
    from curate.labels.manifest import read_labels

    check_output(output, labels, images)
    restricted = ImageIndex.read(images).restrict(read_labels(labels), Path(labels).name, Path(images).name, min_images)
    deliver(restricted, output, quiet)


@app.command("pack")
def pack(
    index_path: Path = typer.Argument(..., metavar="index", help="An image index (or subset) whose images to pack."),
    output: Path = typer.Option(..., "--output", "-o", help="The store's folder: new, empty, or an unfinished pack of the same settings (it goes on)."),
    fmt: str = typer.Option("jpeg", "--format", "-f", help="jpeg: re-encoded JPEGs in tar shards; raw: uint8 pixels in one memory-mappable array."),
    size: int = typer.Option(160, "--size", help="jpeg: the short side in px (never enlarged); raw: the side of the square."),
    quality: Optional[int] = typer.Option(None, "--quality", help="JPEG quality of the jpeg format (default 90)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Processes that decode and encode (default: one per core)."),
    overwrite: bool = flag("--overwrite", help="Replace a finished store (or one being packed with other settings)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write every image that could not be packed, and why, to this JSON file."),
    quiet: bool = QUIET_OPTION,
):
    """Pack an index's images into a store, once: decoded, resized, and written where training reads them fast.

    The store's index keeps each image's path, so every subset and label set of the index selects the same
    images from it. Interrupted, the same command goes on where it stopped.

    Examples:
    $ curate images pack train.parquet -o train-jpeg160
    $ curate images pack train.parquet -f raw --size 64 -o train-raw64
    """
    import json

    from curate.images.index import ImageIndex
    from curate.images.pack import pack as pack_store
    from curate.wording import plural, some

    check_output(report, index_path)
    source = ImageIndex.read(index_path)
    console = stderr_console(quiet)
    with progress_bar(console) as progress:
        store, found = pack_store(source, output, fmt=fmt, size=size, quality=quality, workers=workers,
                                  overwrite=overwrite, progress=progress)
    if report is not None:
        from curate.fileio import atomic_path

        with atomic_path(report) as tmp:
            tmp.write_text(json.dumps({"packed": found.packed, "failed": dict(sorted(found.failed.items()))}, indent=1) + "\n")
    typer.echo(str(output))
    again = f", going on from {plural(found.resumed_parts, 'part')} packed before" if found.resumed_parts else ""
    console.print(f"{found.packed:,} of {plural(len(source), 'image')} packed ({store.index.metadata['store_resize']}){again}, "
                  f"{store.index.content_hash[:19]}…", highlight=False)
    if found.failed:
        console.print(f"{len(found.failed):,} could not be packed: {some(sorted(found.failed), 3)}"
                      + ("" if report else "; --report FILE lists them all, with why."), highlight=False)


@app.command("verify")
def verify(
    store: Path = typer.Argument(..., metavar="store", help="A store's folder, made by `curate images pack`."),
    quiet: bool = QUIET_OPTION,
):
    """Read every byte of a packed store against the digests recorded when it was packed.

    Opening a store (to train from it) checks only that its files are all there, as long as they were packed;
    this finds bytes changed inside them.

    Examples:
    $ curate images verify val-jpeg160
    """
    from curate.images.store import ImageStore

    opened = ImageStore.open(store)
    console = stderr_console(quiet)
    with progress_bar(console) as progress:
        opened.verify(progress)
    typer.echo(str(store))
    console.print(f"{len(opened.index):,} images in {store}: every byte as packed.", highlight=False)
