"""Image manifests: index ImageNet-style data once, derive per-class subsets and budgets, label the images.

An image index (kind "images", `IMAGE_SCHEMA`) has one row per image: `path` relative to the root recorded
in the metadata, `wnid`, `split`, file `size`, and for a member of a `<wnid>.tar` archive the archive and the
byte offset of the member's data. Indexes come from four layouts:

- class folders, `ROOT/<wnid>/**/<image>` (ILSVRC-2012 train, ImageNet fall 2011);
- a flat validation folder plus its labels (`LOC_val_solution.csv`, or `filename,wnid` lines);
- a file list without the images (`train_cls.txt` style: `n01440764/n01440764_10026 1`);
- per-synset tar archives, `ROOT/<wnid>.tar`, listed without extracting.

What cannot be indexed (folders that are not wnids, files that are not images, empty classes, unreadable
files, and with `verify` images that do not decode) is counted and listed in an `IndexReport`, never dropped
silently. Inputs that cannot be used at all raise `BadImages` with one sentence.

Subsets rank each class's images by a seeded 64-bit hash of the path (`path_scores`), the same on every
machine, Python and library version: the first N of a class are its N-image subset, so subsets nest
(50 within 125 within 250 within 500 for one seed) and adding images never reorders the images already there.

The table training reads (kind "table", `TABLE_SCHEMA`) is an index joined with a label manifest.

Pure functions over pyarrow tables; files are read and written only by the functions that say so.
"""

from __future__ import annotations

import io
import json
import mmap
import os
import statistics
import tarfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import BadImages, BadWnid
from curate.labelset import LabelSet
from curate.manifest import IMAGE_SCHEMA, TABLE_SCHEMA, labels_hash, read_table, strictly_increasing, write_table
from curate.wordnet import WNID_PATTERN

IMAGES_KIND = "images"
TABLE_KIND = "table"
IMAGE_SUFFIXES = frozenset(".jpeg .jpg .png .bmp .gif .webp .tif .tiff .ppm .pgm .pbm".split())
WNID_LENGTH = 9  # "n" and eight digits
LIST_SUFFIX = ".JPEG"  # what a file-list entry without an extension names (ILSVRC's own files)
THREADS = min(8, os.cpu_count() or 1)  # class folders listed at once while indexing
SHOWN = 5  # how many items of a list a sentence names

# progress(description, total) -> advance(n); the CLI passes a rich progress bar, the library defaults to none.
Progress = Callable[[str, int | None], Callable[[int], None]]


def no_progress(description: str, total: int | None) -> Callable[[int], None]:
    return lambda n=1: None


def is_image_name(name: str) -> bool:
    """Whether a file name (or a tar member's path) ends in an image suffix, as `os.path.splitext` reads
    suffixes (a name's leading dots start no suffix), in under half its time: indexing calls this per file."""
    stem, _, suffix = name.rpartition("/")[2].rpartition(".")
    return bool(stem.lstrip(".")) and "." + suffix.lower() in IMAGE_SUFFIXES


def some(items: list[str], shown: int = SHOWN) -> str:
    """'a, b, c' or 'a, b, c and 7 more'."""
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown:,} more"


def plural(count: int, word: str) -> str:
    many = word + ("es" if word.endswith(("s", "x")) else "s")
    return f"{count:,} {word if count == 1 else many}"


# --- the report ------------------------------------------------------------------------------------------


@dataclass
class IndexReport:
    """What indexing found besides the images. Every list is sorted; entries are paths relative to the root."""

    layout: str = ""
    images: int = 0
    classes: int = 0
    not_wnid: list[str] = field(default_factory=list)  # folders, archives or list entries not named by a wnid
    not_image: list[str] = field(default_factory=list)  # files (and stray folders) that are not images
    empty: list[str] = field(default_factory=list)  # class folders or archives without a single image
    unreadable: list[str] = field(default_factory=list)  # files or folders that could not be read
    unlabelled: list[str] = field(default_factory=list)  # images whose class is not known
    missing: list[str] = field(default_factory=list)  # labelled or listed files that are not there
    broken: list[str] = field(default_factory=list)  # images that do not decode (verify only)

    PROBLEMS = {
        "not_wnid": "not a wnid",
        "not_image": "not an image",
        "empty": "empty class",
        "unreadable": "unreadable",
        "unlabelled": "no class label",
        "missing": "labelled but missing",
        "broken": "broken image",
    }

    def problems(self) -> dict[str, list[str]]:
        return {key: getattr(self, key) for key in self.PROBLEMS}

    def counts(self) -> dict[str, int]:
        return {"images": self.images, "classes": self.classes, **{k: len(v) for k, v in self.problems().items()}}

    def sort(self) -> IndexReport:
        for items in self.problems().values():
            items.sort()
        return self


# --- indexing --------------------------------------------------------------------------------------------


def index_images(
    root: Path,
    *,
    val_labels: Path | None = None,
    file_list: Path | None = None,
    split: str | None = None,
    verify: bool = False,
    progress: Progress | None = None,
) -> tuple[pa.Table, IndexReport]:
    """Index the images under `root`: an IMAGE_SCHEMA table (rows unsorted) and what else was found.

    With `file_list`, the list is indexed and `root` need not exist (it is where the images would be);
    with `val_labels`, `root` is a flat validation folder; otherwise `root` holds class folders and/or
    `<wnid>.tar` archives. `split` defaults to "val" for a validation folder and "train" otherwise.
    """
    progress = progress or no_progress
    root = Path(root)
    if file_list is not None and val_labels is not None:
        raise BadImages("Give either a file list or validation labels, not both.")
    if file_list is not None:
        if verify:
            raise BadImages("--verify needs the images; a file list indexes images that are not there.")
        table, report = index_file_list(Path(file_list), split or "train")
    else:
        if not root.exists():
            raise BadImages(f"{root} does not exist.")
        if not root.is_dir():
            raise BadImages(f"{root} is not a folder.")
        if val_labels is not None:
            table, report = index_val_folder(root, Path(val_labels), split or "val", progress)
        else:
            table, report = index_tree(root, split or "train", progress)
        if verify and table.num_rows:
            table = verify_images(root, table, report, progress)
    report.images = table.num_rows
    report.classes = len(pc.unique(table["wnid"])) if table.num_rows else 0
    report.sort()
    if not table.num_rows:
        raise BadImages(no_images_sentence(root if file_list is None else Path(file_list), report))
    return table, report


def no_images_sentence(source: Path, report: IndexReport) -> str:
    found = [f"{report.PROBLEMS[key]}: {len(items):,}" for key, items in report.problems().items() if items]
    what = f" ({'; '.join(found)})" if found else ""
    if report.layout == "file list":
        return f"{source} lists no images{what}."
    if report.layout == "validation folder":
        return f"{source} holds no image that its labels file names{what}."
    return f"{source} holds no images: no <wnid> class folders or <wnid>.tar archives of images{what}."


def image_rows(paths: list[str], wnids: list[str], split: str, sizes: list[int | None],
               archives: list[str | None] | None = None, offsets: list[int | None] | None = None) -> pa.Table:
    n = len(paths)
    return pa.table(
        {
            "path": pa.array(paths, pa.string()),
            "wnid": pa.array(wnids, pa.string()),
            "split": pa.array([split] * n, pa.string()),
            "size": pa.array(sizes, pa.int64()),
            "archive": pa.array(archives if archives is not None else [None] * n, pa.string()),
            "offset": pa.array(offsets if offsets is not None else [None] * n, pa.int64()),
        },
        schema=IMAGE_SCHEMA,
    )


def known_wnids(names: Iterable[str]) -> set[str]:
    """The names that are WordNet 3.0 noun ids (shaped like one, and in the embedded snapshot)."""
    from curate.wordnet import load_hierarchy

    shaped = [name for name in names if WNID_PATTERN.fullmatch(name)]
    if not shaped:
        return set()
    hierarchy = load_hierarchy()
    known = set()
    for name in shaped:
        try:
            hierarchy.node(name)
        except BadWnid:
            continue
        known.add(name)
    return known


def index_tree(root: Path, split: str, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """Class folders `ROOT/<wnid>/` (searched recursively) and archives `ROOT/<wnid>.tar`."""
    report = IndexReport()
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        raise BadImages(f"{root} cannot be read (permission denied?).") from None
    folders, archives, stray = [], [], []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            report.unreadable.append(entry.name)
            continue
        if is_dir:
            folders.append(entry)
        elif entry.name.endswith(".tar"):
            archives.append(entry)
        elif is_image_name(entry.name):
            stray.append(entry.name)
        else:
            report.not_image.append(entry.name)
    known = known_wnids([e.name for e in folders] + [e.name[: -len(".tar")] for e in archives])
    report.not_wnid.extend(e.name + "/" for e in folders if e.name not in known)
    report.not_wnid.extend(e.name for e in archives if e.name[: -len(".tar")] not in known)
    classes = [(e, False) for e in folders if e.name in known]
    classes += [(e, True) for e in archives if e.name[: -len(".tar")] in known]

    def index_class(job: tuple[os.DirEntry, bool]) -> pa.Table:
        entry, archive = job
        if archive:
            members = list_tar(Path(entry.path), entry.name, entry.name[: -len(".tar")], split, report)
        else:
            paths, sizes = walk_class_folder(Path(entry.path), entry.name, report)
            members = image_rows(paths, [entry.name] * len(paths), split, sizes)
        if not members.num_rows:
            report.empty.append(entry.name + ("" if archive else "/"))
        return members

    advance = progress("Indexing classes", len(classes))
    tables = []
    with ThreadPoolExecutor(max_workers=THREADS) as pool:  # listing folders waits on the disk, not the GIL
        for members in pool.map(index_class, classes):
            tables.append(members)
            advance(1)
    if stray and not any(t.num_rows for t in tables):
        raise BadImages(
            f"{root} holds {plural(len(stray), 'image')} but no class folders: "
            "for a validation folder, give its labels with --val-labels."
        )
    report.unlabelled.extend(stray)
    layouts = [name for name, present in (("class folders", folders), ("tar archives", archives)) if present]
    report.layout = " and ".join(layouts) or "class folders"
    return pa.concat_tables([image_rows([], [], split, []), *tables]), report


def walk_class_folder(folder: Path, wnid: str, report: IndexReport) -> tuple[list[str], list[int]]:
    """The paths (relative to the root) and sizes of every image under a class folder; the rest goes to the
    report. Zero-byte files count as unreadable."""
    paths: list[str] = []
    sizes: list[int] = []
    pending = [(str(folder), wnid + "/")]
    while pending:
        current, prefix = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError:
            report.unreadable.append(prefix)
            continue
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir():
                    pending.append((entry.path, prefix + name + "/"))
                    continue
                if not is_image_name(name):
                    report.not_image.append(prefix + name)
                    continue
                size = entry.stat().st_size
            except OSError:
                size = 0
            if size:
                paths.append(prefix + name)
                sizes.append(size)
            else:
                report.unreadable.append(prefix + name)
    return paths, sizes


def list_tar(path: Path, relative: str, wnid: str, split: str, report: IndexReport) -> pa.Table:
    """The image members of a plain tar archive, with the offset and size of their data; not extracted.

    Raises BadImages for an archive that is not a plain tar, is truncated, or names a member twice."""
    names, sizes, offsets = [], [], []
    try:
        file_size = path.stat().st_size
        with tarfile.open(path, mode="r:") as tar:
            for info in tar:
                if info.isdir():
                    continue
                member = f"{relative}/{info.name}"
                if not info.isfile() or not is_image_name(info.name):
                    report.not_image.append(member)
                    continue
                if info.offset_data + info.size > file_size:
                    raise BadImages(f"{relative} is a damaged tar archive: it ends inside {info.name}.")
                names.append(member)
                sizes.append(info.size)
                offsets.append(info.offset_data)
            end = tar.offset
        with open(path, "rb") as handle:  # tarfile stops quietly at a damaged header; a real end is zeros
            handle.seek(end)
            if handle.read(512).strip(b"\0"):
                raise BadImages(f"{relative} is a damaged tar archive: it holds data tarfile cannot read after byte {end:,}.")
    except tarfile.TarError as error:
        raise BadImages(f"{relative} is not a readable tar archive ({error}).") from None
    except OSError:
        raise BadImages(f"{relative} cannot be read (permission denied?).") from None
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = next(name for name in names if name in seen or seen.add(name))
        raise BadImages(f"{relative} holds the member {twice[len(relative) + 1:]} twice.")
    n = len(names)
    return image_rows(names, [wnid] * n, split, sizes, [relative] * n, offsets)


def read_text(path: Path, what: str) -> str:
    if not path.is_file():
        raise BadImages(f"{path} does not exist.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadImages(f"{path} is not a text file, so it cannot be {what}.") from None
    except OSError:
        raise BadImages(f"{path} cannot be read (permission denied?).") from None


def read_first_fields(path: Path, separator: str):
    """A text file as a polars frame with one row per line: column `entry`, the line up to the first
    `separator` (null for an empty line, or one that starts with `separator`)."""
    import polars as pl

    if path.is_dir():
        raise BadImages(f"{path} is a folder, not a file list.")
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


def index_val_folder(root: Path, labels_path: Path, split: str, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """A flat folder of images and a labels file naming each image's class (with or without extension)."""
    report = IndexReport(layout="validation folder")
    labels = read_val_labels(labels_path)
    files: dict[str, tuple[str, int]] = {}  # stem and name -> (name, size)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        raise BadImages(f"{root} cannot be read (permission denied?).") from None
    advance = progress("Indexing images", len(entries))
    for entry in entries:
        try:
            if entry.is_dir():
                report.not_image.append(entry.name + "/")
            elif entry.name == labels_path.name and root.joinpath(entry.name).samefile(labels_path):
                pass
            elif not is_image_name(entry.name):
                report.not_image.append(entry.name)
            else:
                size = entry.stat().st_size
                if size == 0:
                    report.unreadable.append(entry.name)
                else:
                    files[entry.name] = files[os.path.splitext(entry.name)[0]] = (entry.name, size)
        except OSError:
            report.unreadable.append(entry.name)
        advance(1)
    paths, wnids, sizes = [], [], []
    labelled = set()
    for key, wnid in labels.items():
        if key not in files:
            report.missing.append(key)
            continue
        name, size = files[key]
        if name in labelled:
            raise BadImages(f"{labels_path} labels {name} twice (as {key} and by another name).")
        labelled.add(name)
        paths.append(name)
        wnids.append(wnid)
        sizes.append(size)
    report.unlabelled.extend(sorted({name for name, _ in files.values()} - labelled))
    return image_rows(paths, wnids, split, sizes), report


def read_val_labels(path: Path) -> dict[str, str]:
    """filename -> wnid, from ILSVRC's LOC_val_solution.csv (`ImageId,PredictionString`, the first word of the
    prediction string is the class) or from `filename,wnid` lines (commas or whitespace; a header is allowed)."""
    text = read_text(path, "read as image labels")
    labels: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        fields = line.split(",", 1) if "," in line else line.split(None, 1)
        words = fields[1].split() if len(fields) == 2 else []
        if not words:
            raise BadImages(f"Line {number} of {path} is not `filename,wnid`: {line[:60]!r}.")
        name, wnid = fields[0].strip(), words[0]
        if not WNID_PATTERN.fullmatch(wnid):
            if number == 1 and not labels:
                continue  # a header: "ImageId,PredictionString" or "filename,wnid"
            raise BadImages(f"{wnid!r} on line {number} of {path} is not a WordNet 3.0 noun id: ids look like n01440764.")
        if name in labels:
            raise BadImages(f"{name} is listed twice in {path}, on lines {lines[name]} and {number}.")
        labels[name] = wnid
        lines[name] = number
    if not labels:
        raise BadImages(f"{path} labels no images.")
    unknown = sorted(set(labels.values()) - known_wnids(set(labels.values())))
    if unknown:
        raise BadImages(f"{path} names {plural(len(unknown), 'class')} WordNet 3.0 does not have: {some(unknown)}.")
    return labels


def index_file_list(path: Path, split: str) -> tuple[pa.Table, IndexReport]:
    """A `train_cls.txt`-style list: one `<wnid>/<name>[.ext] [number]` per line; the first folder is the class.

    Entries without an extension name ILSVRC's `.JPEG` files. The images need not exist; `size` is null."""
    import polars as pl

    report = IndexReport(layout="file list")
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
    known = pl.Series(sorted(known_wnids(classes.to_list())), dtype=pl.String)
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
        schema=IMAGE_SCHEMA,
    )
    return table, report


# --- verifying -------------------------------------------------------------------------------------------


def verify_images(root: Path, table: pa.Table, report: IndexReport, progress: Progress) -> pa.Table:
    """Decode every image of `table`; drop the ones that do not read or decode, and report them."""
    try:
        from PIL import Image
    except ImportError:
        raise BadImages("--verify decodes images with Pillow, which is not installed: pip install pillow.") from None

    columns = table.select(["path", "archive", "offset", "size"]).to_pydict()
    rows = list(zip(columns["path"], columns["archive"], columns["offset"], columns["size"]))

    def check(row) -> str | None:
        path, archive, offset, size = row
        try:
            if archive is None:
                data = (root / path).read_bytes()
            else:
                with open(root / archive, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read(size)
        except OSError:
            return "unreadable"
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
        except Exception:  # Pillow raises many kinds for damaged data: any of them means broken
            return "broken"
        return None

    advance = progress("Decoding images", len(rows))
    verdicts: list[str | None] = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Pillow decodes without the GIL
        for start in range(0, len(rows), 256):
            verdicts.extend(pool.map(check, rows[start : start + 256]))
            advance(len(rows[start : start + 256]))
    for (path, *_), verdict in zip(rows, verdicts):
        if verdict == "unreadable":
            report.unreadable.append(path)
        elif verdict == "broken":
            report.broken.append(path)
    return table.filter(pa.array([verdict is None for verdict in verdicts]))


# --- files -----------------------------------------------------------------------------------------------


def write_index(table: pa.Table, path: Path, root: Path | str, metadata: dict[str, str] | None = None) -> str:
    """Write an image index (sorted by path, atomically); `root` is what its paths are relative to. Returns
    the content hash."""
    meta = {**(metadata or {}), "kind": IMAGES_KIND, "root": str(root)}
    return write_table(table, Path(path), IMAGE_SCHEMA, "path", meta)


def read_index(path: Path) -> tuple[pa.Table, dict[str, str]]:
    """An image index and its metadata (with "root" and "content_hash"), validated."""
    table, metadata = read_table(Path(path), IMAGES_KIND, IMAGE_SCHEMA, "path")
    if "root" not in metadata:
        raise BadImages(f"{path} is an image index without a root folder in its metadata.")
    return table, metadata


def index_metadata(report: IndexReport, file_list: Path | None, val_labels: Path | None) -> dict[str, str]:
    meta = {"layout": report.layout, "report": json.dumps(report.counts(), sort_keys=True)}
    if file_list is not None:
        meta["file_list"] = Path(file_list).name
    if val_labels is not None:
        meta["val_labels"] = Path(val_labels).name
    return meta


def write_image_table(table: pa.Table, path: Path, metadata: dict[str, str]) -> str:
    """Write the table training reads (sorted by path, atomically); `metadata` must hold "root"."""
    if "root" not in metadata:
        raise ValueError("an image table's metadata needs the images' root")
    return write_table(table, Path(path), TABLE_SCHEMA, "path", {**metadata, "kind": TABLE_KIND})


def read_image_table(path: Path) -> tuple[pa.Table, dict[str, str]]:
    """The table training reads and its metadata (root, labels_hash, images_hash, labels_recipe, classes)."""
    table, metadata = read_table(Path(path), TABLE_KIND, TABLE_SCHEMA, "path")
    if "root" not in metadata:
        raise BadImages(f"{path} is an image table without a root folder in its metadata.")
    return table, metadata


# --- the seeded path hash --------------------------------------------------------------------------------
# score(path) = mix(poly(path) ^ mix(seed)): poly is the polynomial hash sum(byte[i] * P**i) mod 2**64 of the
# path's UTF-8 bytes, mix the splitmix64 finalizer. Computed with pyarrow kernels: with W[j] = P**j, a
# running sum of byte * W over a chunk's bytes gives each path's sum times P**start, undone by P**-start
# (P is odd, so it has an inverse mod 2**64). `score` below is the same function in plain Python.

MASK = (1 << 64) - 1
P = 0x100000001B3  # the FNV-64 prime
P_INVERSE = pow(P, -1, 1 << 64)
CHUNK = 1 << 14
U64 = pa.uint64()


def mix(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def score(path: str, seed: int) -> int:
    """The rank key of one path (plain Python; `path_scores` computes the same for a column)."""
    h = 0
    for byte in reversed(path.encode()):  # Horner's rule for sum(byte[i] * P**i)
        h = (h * P + byte) & MASK
    return mix(h ^ mix(seed & MASK))


def mix_column(x: pa.Array) -> pa.Array:
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, pa.scalar(shift, U64))), pa.scalar(factor, U64))
    return pc.bit_wise_xor(x, pc.shift_right(x, pa.scalar(31, U64)))


def powers(base: int, count: int) -> pa.Array:
    """base**0 .. base**(count-1) mod 2**64."""
    return pc.cumulative_prod(pa.repeat(pa.scalar(base, U64), count), start=pa.scalar(pow(base, -1, 1 << 64), U64))


def path_scores(paths: pa.Array | pa.ChunkedArray, seed: int) -> pa.ChunkedArray:
    """`score(path, seed)` of every path, as uint64."""
    paths = paths.combine_chunks() if isinstance(paths, pa.ChunkedArray) else paths
    paths = paths.cast(pa.large_string())
    n = len(paths)
    if n == 0:
        return pa.chunked_array([], U64)
    _, offset_buffer, data = paths.buffers()
    offsets = pa.Array.from_buffers(pa.int64(), n + 1, [None, offset_buffer], offset=paths.offset)
    bounds = [offsets[i].as_py() for i in range(0, n, CHUNK)] + [offsets[n].as_py()]
    widest = max(b - a for a, b in zip(bounds, bounds[1:])) + 1
    forward, backward = powers(P, widest), powers(P_INVERSE, widest)
    data_bytes = pa.Array.from_buffers(pa.uint8(), bounds[-1], [None, data])
    seed_mix = pa.scalar(mix(seed & MASK), U64)
    chunks = []
    for number, start in enumerate(range(0, n, CHUNK)):
        lo, hi = bounds[number], bounds[number + 1]
        values = data_bytes.slice(lo, hi - lo).cast(U64)
        running = pa.concat_arrays([pa.array([0], U64), pc.cumulative_sum(pc.multiply(values, forward.slice(0, hi - lo)))])
        local = pc.subtract(offsets.slice(start, min(CHUNK, n - start) + 1), lo)
        starts = local.slice(0, len(local) - 1)
        sums = pc.subtract(pc.take(running, local.slice(1)), pc.take(running, starts))
        chunks.append(mix_column(pc.bit_wise_xor(pc.multiply(sums, pc.take(backward, starts)), seed_mix)))
    return pa.chunked_array(chunks, U64)


# --- subsets ---------------------------------------------------------------------------------------------


def ranked(index: pa.Table, seed: int):
    """A polars frame of `row` (the index's row number), `wnid` and `rank`: 1 for the image of its class with
    the smallest seeded score, 2 for the next... Equal scores (a 2**-64 chance) keep the index's row order,
    which is path order for an index read from a file."""
    import polars as pl

    frame = pl.DataFrame({"wnid": pl.from_arrow(index["wnid"]), "score": pl.from_arrow(path_scores(index["path"], seed))})
    return frame.with_row_index("row").select("row", "wnid", rank=pl.col("score").rank("ordinal").over("wnid"))


def take_rows(index: pa.Table, frame) -> pa.Table:
    """The rows of `index` that `frame` (from `ranked`) still holds, in index order."""
    return index.take(frame.get_column("row").sort().to_arrow())


def class_counts(index: pa.Table) -> dict[str, int]:
    """Images per class, in wnid order."""
    counts = pc.value_counts(index["wnid"])
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())
    return dict(sorted(pairs))


def sample_per_class(index: pa.Table, per_class: int, seed: int = 0, allow_short: bool = False) -> pa.Table:
    """The first `per_class` images of every class by seeded rank (all of a smaller class with `allow_short`)."""
    import polars as pl

    if per_class < 1:
        raise BadImages(f"--per-class must be 1 or more, not {per_class}.")
    counts = class_counts(index)
    if not counts:
        raise BadImages("The index holds no images.")
    largest = max(counts, key=lambda wnid: (counts[wnid], wnid))
    if per_class > counts[largest]:
        raise BadImages(
            f"{per_class:,} images per class is more than the index holds: its largest class, {largest}, "
            f"has {counts[largest]:,}."
        )
    short = [wnid for wnid, count in counts.items() if count < per_class]
    if short and not allow_short:
        raise BadImages(
            f"{plural(len(short), 'class')} of the index {'has' if len(short) == 1 else 'have'} fewer than "
            f"{per_class:,} images: {some([f'{w} ({counts[w]:,})' for w in short])}; "
            "--allow-short takes all of theirs."
        )
    return take_rows(index, ranked(index, seed).filter(pl.col("rank") <= per_class))


def spread(total: int, capacities: list[int | None]) -> list[int]:
    """`total` split as evenly as possible over slots in order, none above its capacity (None: no limit).

    Slots that cannot take their share pass what they lack on to the others; an odd remainder goes to the
    first slots in order. Raises ValueError when the capacities cannot hold `total`."""
    n = len(capacities)
    if n == 0 or (None not in capacities and sum(capacities) < total):  # type: ignore[arg-type]
        raise ValueError("the slots cannot hold the total")
    shares = [0] * n
    remaining = total
    order = sorted(range(n), key=lambda i: (capacities[i] is None, capacities[i] or 0, i))
    for position, slot in enumerate(order):
        left = n - position
        fair = remaining // left
        capacity = capacities[slot]
        if capacity is not None and capacity <= fair:
            shares[slot] = capacity
            remaining -= capacity
            continue
        rest = sorted(order[position:])  # every slot left can take at least fair + 1
        for rank, other in enumerate(rest):
            shares[other] = fair + (rank < remaining - fair * left)
        break
    return shares


def budget_quotas(labels: LabelSet, counts: dict[str, int], budget: int, allow_short: bool = False) -> dict[str, int]:
    """Images to take from each kept class of `labels`: `budget` spread evenly over the labels, and within a
    label evenly over its classes. Without `allow_short` a class with fewer images than its share is an
    error; with it, the share it cannot fill goes to the other classes of its label, then to other labels."""
    groups = labels.members()
    available = sum(counts.get(row.wnid, 0) for row in labels.kept)
    if budget < 1:
        raise BadImages(f"--budget must be 1 or more, not {budget}.")
    if budget > available:
        raise BadImages(
            f"A budget of {budget:,} images is more than the index holds for the manifest's classes ({available:,})."
        )
    members = [[row.wnid for row in rows] for rows in groups.values()]
    if allow_short:
        label_shares = spread(budget, [sum(counts.get(w, 0) for w in wnids) for wnids in members])
        class_shares = [spread(s, [counts.get(w, 0) for w in wnids]) for s, wnids in zip(label_shares, members)]
    else:
        label_shares = spread(budget, [None] * len(members))
        class_shares = [spread(s, [None] * len(wnids)) for s, wnids in zip(label_shares, members)]
    quotas = {w: q for wnids, shares in zip(members, class_shares) for w, q in zip(wnids, shares)}
    short = [w for w in sorted(quotas) if counts.get(w, 0) < quotas[w]]
    if short:
        raise BadImages(
            f"{plural(len(short), 'class')} {'has' if len(short) == 1 else 'have'} fewer images than "
            f"{'its' if len(short) == 1 else 'their'} share of the budget: "
            f"{some([f'{w} has {counts.get(w, 0):,} of {quotas[w]:,}' for w in short])}; "
            "--allow-short gives their share to other classes."
        )
    return quotas


def sample_budget(index: pa.Table, labels: LabelSet, budget: int, seed: int = 0, allow_short: bool = False) -> pa.Table:
    """`budget` images over the labels of `labels` (see `budget_quotas`), each class's by seeded rank."""
    import polars as pl

    check_labels(labels)
    counts = class_counts(index)
    quotas = budget_quotas(labels, counts, budget, allow_short)
    quota = pl.col("wnid").replace_strict(quotas, default=0, return_dtype=pl.Int64)
    return take_rows(index, ranked(index, seed).filter(pl.col("rank") <= quota))


def subset_metadata(metadata: dict[str, str], **params) -> dict[str, str]:
    """The metadata of a subset of an index: its root, and where the subset came from."""
    keep = {key: metadata[key] for key in ("root", "layout") if key in metadata}
    return {**keep, "parent_hash": metadata.get("content_hash", ""), "subset": json.dumps(params, sort_keys=True)}


# --- labels ----------------------------------------------------------------------------------------------


def check_labels(labels: LabelSet) -> None:
    """Every wnid of a manifest must be a WordNet 3.0 noun id."""
    wnids = {row.wnid for row in labels.rows} | set(labels.label_wnids)
    unknown = sorted(wnids - known_wnids(wnids))
    if unknown:
        raise BadImages(
            f"The labels file names {plural(len(unknown), 'wnid')} WordNet 3.0 does not have: {some(unknown)}."
        )
    if not labels.kept:
        raise BadImages("The labels file keeps no classes.")


def apply_labels(labels: LabelSet, index: pa.Table, *, allow_missing: bool = False) -> pa.Table:
    """One TABLE_SCHEMA row per image of a class the manifest keeps, with its label; images of removed or
    unlisted classes are dropped. A kept class without images is an error unless `allow_missing`."""
    check_labels(labels)
    label_index = labels.label_index
    kept = labels.kept
    position = pc.index_in(index["wnid"], value_set=pa.array([row.wnid for row in kept], pa.string()))
    if not allow_missing:
        present = set(pc.unique(position).drop_null().to_pylist())
        missing = [row.wnid for number, row in enumerate(kept) if number not in present]
        if missing:
            raise BadImages(
                f"{plural(len(missing), 'class')} of the labels file {'has' if len(missing) == 1 else 'have'} "
                f"no images in the index: {some(missing)}; --allow-missing trains without them."
            )
    if position.null_count:  # images of classes the manifest removes or does not list
        index, position = index.filter(pc.is_valid(position)), position.drop_null()
    if not index.num_rows:
        raise BadImages("None of the index's images belongs to a class the labels file keeps.")
    label = pa.array([label_index[row.label_wnid] for row in kept], pa.int32()).take(position)
    label_wnid = pa.array([row.label_wnid for row in kept], pa.string()).take(position)
    table = index.select(IMAGE_SCHEMA.names).append_column("label", label).append_column("label_wnid", label_wnid)
    return table.cast(TABLE_SCHEMA)


def table_metadata(labels: LabelSet, index_metadata: dict[str, str]) -> dict[str, str]:
    """The metadata of an image table: the images' root and both inputs' content hashes."""
    return {
        "root": index_metadata["root"],
        "images_hash": index_metadata.get("content_hash", ""),
        "labels_hash": labels_hash(labels),
        "labels_recipe": labels.describe(),
        "classes": str(len(labels.label_wnids)),
    }


@dataclass(frozen=True)
class TableSummary:
    images: int
    labels: int
    per_label_min: int
    per_label_median: float
    per_label_max: int
    classes_without_images: list[str]
    labels_without_images: list[str]
    dropped_images: int  # images of classes the manifest removes or does not list


def summarize_table(labels: LabelSet, table: pa.Table, index_rows: int) -> TableSummary:
    counts = class_counts(table)
    per_label = dict.fromkeys(labels.label_wnids, 0)
    for row in labels.kept:
        per_label[row.label_wnid] += counts.get(row.wnid, 0)
    sizes = list(per_label.values())
    return TableSummary(
        table.num_rows,
        len(per_label),
        min(sizes),
        statistics.median(sizes),
        max(sizes),
        [row.wnid for row in labels.kept if row.wnid not in counts],
        [wnid for wnid, count in per_label.items() if count == 0],
        index_rows - table.num_rows,
    )


def subset_index(
    index: pa.Table,
    metadata: dict[str, str],
    *,
    per_class: int | None = None,
    budget: int | None = None,
    labels: LabelSet | None = None,
    labels_digest: str = "",
    seed: int = 0,
    allow_short: bool = False,
) -> tuple[pa.Table, dict[str, str]]:
    """A subset of an index, `per_class` images of every class or a `budget` over the labels of `labels`;
    and the metadata to write it with."""
    if (per_class is None) == (budget is None):
        raise BadImages("Give either --per-class N, or --budget TOTAL with --labels MANIFEST.")
    if per_class is not None:
        if labels is not None:
            raise BadImages("--labels goes with --budget; --per-class takes N images of every class of the index.")
        table = sample_per_class(index, per_class, seed, allow_short)
        params = {"per_class": per_class, "seed": seed, "allow_short": allow_short}
    else:
        if labels is None:
            raise BadImages("--budget needs --labels MANIFEST: the budget is spread over the manifest's labels.")
        table = sample_budget(index, labels, budget, seed, allow_short)
        params = {"budget": budget, "seed": seed, "allow_short": allow_short, "labels_hash": labels_digest or labels_hash(labels)}
    return table, subset_metadata(metadata, **params)


def write_report(report: IndexReport, path: Path) -> None:
    """The full report as JSON: counts, and every listed path by problem."""
    from curate.fileio import atomic_path

    text = json.dumps({"layout": report.layout, "counts": report.counts(), **report.problems()}, indent=1, sort_keys=True)
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text + "\n")
