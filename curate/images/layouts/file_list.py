"""A `train_cls.txt`-style file list (the ILSVRC-2012 devkit's): one `<wnid>/<name>[.ext] [number]` per line,
the first folder naming the class. The images need not be present: `size` is null."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.fileio import not_regular, special_file
from curate.fileformat import strictly_increasing
from curate.images.report import IndexReport
from curate.images.rows import IMAGE_SUFFIXES, IMAGES
from curate.progress import Progress
from curate.wordnet.snapshot import load_hierarchy

LAYOUT = "file list"
WNID_LENGTH = 9  # "n" and eight digits
LIST_SUFFIX = ".JPEG"  # what an entry without an extension names (ILSVRC's own files)


def no_images(source, found: str) -> str:
    return f"{source.file_list} lists no images{found}."


def index(source, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """Every entry of the list whose first folder is a wnid and whose name is an image's (entries without an
    extension name ILSVRC's `.JPEG` files); the others go to the report. A path listed twice is an error."""
    import polars as pl

    path, split = Path(source.file_list), source.split
    report = IndexReport(layout=LAYOUT)
    entry, wnid = pl.col("entry"), pl.col("wnid")
    entries = list_entries(path)
    named = file_contains(path, b".")  # ILSVRC's own lists name no suffix: no need to look for one
    suffix = entry.str.extract(r"(\.[^./]*)$").str.to_lowercase()
    entries = entries.with_columns(
        wnid=pl.when(entry.str.find("/", literal=True) == WNID_LENGTH).then(entry.str.head(WNID_LENGTH)),
        path=pl.when(suffix.is_null()).then(entry + LIST_SUFFIX).otherwise(entry) if named else entry + LIST_SUFFIX,
        suffix=suffix if named else pl.lit(None, pl.String),
    )
    classes = entries.get_column("wnid").drop_nulls().unique()
    known = pl.Series(sorted(load_hierarchy().known_wnids(classes.to_list())), dtype=pl.String)
    if named or entries.get_column("wnid").null_count() or len(known) < len(classes):
        problem = (
            pl.when(~wnid.is_in(known.implode()).fill_null(False))
            .then(pl.lit("not_wnid"))
            .when(~pl.col("suffix").is_in(sorted(IMAGE_SUFFIXES)))
            .then(pl.lit("not_image"))
        )
        entries = entries.with_columns(problem=problem)
        for key, group in entries.filter(pl.col("problem").is_not_null()).group_by("problem"):
            getattr(report, key[0]).extend(group.get_column("entry").to_list())
        entries = entries.filter(pl.col("problem").is_null())
    paths = entries.get_column("path").to_arrow().cast(pa.string())
    if not strictly_increasing(paths) and entries.get_column("path").n_unique() != entries.height:
        repeated = entries.filter(pl.col("path").is_duplicated())
        first = repeated.sort("number").row(0, named=True)
        numbers = repeated.filter(pl.col("path") == first["path"]).get_column("number").to_list()
        raise BadImages(f"{first['path']} is listed twice in {path}, on lines {numbers[0]} and {numbers[1]}.")
    n = len(paths)
    table = pa.table(
        {
            "path": paths,
            "wnid": entries.get_column("wnid").to_arrow().cast(pa.string()),
            "split": pa.repeat(pa.scalar(split, pa.string()), n),
            "size": pa.nulls(n, pa.int64()),
            "archive": pa.nulls(n, pa.string()),
            "offset": pa.nulls(n, pa.int64()),
        },
        schema=IMAGES.schema,
    )
    return table, report




def read_first_fields(path: Path, separator: str):
    """A text file as a polars frame with one row per line: column `entry`, the line up to the first
    `separator` (null for an empty line, or one that starts with `separator`)."""
    import polars as pl

    if path.is_dir():
        raise BadImages(f"{path} is a folder, not a file list.")
    if special_file(path):
        raise BadImages(not_regular(path))
    if not path.is_file():
        raise BadImages(f"{path} does not exist.")
    if path.stat().st_size == 0:
        return pl.DataFrame({"entry": []}, schema={"entry": pl.String})
    try:
        frame = pl.read_csv(path, separator=separator, has_header=False, quote_char=None, infer_schema=False,
                            columns=[0], truncate_ragged_lines=True)
    except pl.exceptions.PolarsError:
        raise BadImages(f"{path} is not a text file, so it cannot be read as a file list.") from None
    except OSError:
        raise BadImages(f"{path} cannot be read (permission denied?).") from None
    return frame.rename({frame.columns[0]: "entry"})


def file_contains(path: Path, needle: bytes) -> bool:
    """Whether `needle` occurs in a readable file, searched in place (a memchr over the mapped file)."""
    with open(path, "rb") as file:
        if not os.fstat(file.fileno()).st_size:
            return False  # an empty file cannot be mapped
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(needle) >= 0


def list_entries(path: Path):
    """The first word of every line of a file list (column `entry`), with its line number (`number`); blank
    lines dropped."""
    import polars as pl

    entry = pl.col("entry")
    words = read_first_fields(path, " ")
    if not words.get_column("entry").null_count() and not file_contains(path, b"\t"):
        return words.with_row_index("number", offset=1)  # every line starts with a word ended by a space
    # blank or indented lines, or tabs: split each whole line (\x1f does not occur in file lists)
    spaced = entry.str.replace_all("\t", " ", literal=True).str.strip_chars_start()
    words = read_first_fields(path, "\x1f").select(entry=spaced.str.splitn(" ", 2).struct.field("field_0"))
    return words.with_row_index("number", offset=1).filter(entry.is_not_null() & (entry != ""))
