"""Hugging Face `save_to_disk` folders: a Dataset's `ROOT/state.json` and `dataset_info.json` beside its
`data-00000-of-00001.arrow` files, or a DatasetDict's `ROOT/dataset_dict.json` and one such folder per split.
The files are Arrow IPC streams (datasets writes them with pyarrow's RecordBatchStreamWriter) whose rows are
labelled as Parquet shards' are (`hf_features`); each row points into its file, which training memory-maps."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.images.layouts.hf_features import check_columns, check_image_files, label_classes, labelled_rows
from curate.images.layouts.listing import SHARD_SPLITS, read_text, readable_shards
from curate.images.layouts.tar_archive import DamagedArchive, UnreadableArchive
from curate.images.report import IndexReport
from curate.images.rows import image_rows
from curate.labels.classlists import class_numbering
from curate.progress import Progress

LAYOUT = "Hugging Face save_to_disk Arrow files"
NUMBERED = True  # labels are numbers: `classes` can say what they number
STATE = "state.json"  # a Dataset's: its split and its data files, in order
SPLITS = "dataset_dict.json"  # a DatasetDict's: its splits, each a Dataset folder of that name


def no_images(source, found: str) -> str:
    return f"{source.root} holds no labelled images in its save_to_disk Arrow files{found}."


def holds(root: Path) -> bool:
    """Whether `root` is a folder `save_to_disk` wrote."""
    return (root / STATE).is_file() or (root / SPLITS).is_file()


def index(source, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """Every row of the split's Arrow files whose label names a class; unlabelled rows (-1) go to the report,
    and so do files that are damaged or unreadable."""
    root, split = source.root, source.split
    numbering = class_numbering(source.classes) if source.classes else None
    report = IndexReport(layout=LAYOUT)
    folder = split_folder(root, split)
    files = data_files(root, folder)
    advance = progress("Indexing Arrow files", len(files))
    tables = [image_rows([], [], split, [])]
    tables += readable_shards(files, lambda name: file_rows(root, name, numbering, split, report), report, advance)
    return pa.concat_tables(tables), report


def file_rows(root: Path, name: str, numbering, split: str, report: IndexReport) -> pa.Table:
    """The labelled rows of one Arrow file, once its schema shows it holds images as datasets writes them."""
    table = read_stream(root / name, name)
    check_columns(table.schema, name)
    classes = label_classes(table.schema, name, numbering)
    images = table.column("image")
    if images.null_count or sum(chunk.field("bytes").null_count for chunk in images.chunks):
        check_image_files(images, root / name, name)
    return labelled_rows(name, table.column("label").to_pylist(), classes, split, report)


def split_folder(root: Path, split: str) -> str:
    """Where the split's Dataset folder is, relative to `root`: a DatasetDict's folder of the split's name, or
    ROOT, a Dataset saved alone (refused when its state names another split)."""
    if (root / SPLITS).is_file():
        saved = json_file(root / SPLITS).get("splits") or []
        folder = next((name for name in SHARD_SPLITS[split] if name in saved), None)
        if folder is None:
            raise BadImages(f"{root} is a DatasetDict of the splits {', '.join(map(str, saved))}, and `split` {split} "
                            f"reads the split {' or '.join(SHARD_SPLITS[split])}.")
        return folder
    saved = json_file(root / STATE).get("_split")
    other = next((name for name, names in SHARD_SPLITS.items() if saved in names and name != split), None)
    if other is not None:
        raise BadImages(f"{root} is save_to_disk's copy of the {saved} split: index it with `split` {other}.")
    return ""


def data_files(root: Path, folder: str) -> list[str]:
    """The Arrow files of a Dataset folder, in its state's order, relative to `root`."""
    state = json_file(root / folder / STATE)
    try:
        return [f"{folder}/{entry['filename']}" if folder else entry["filename"] for entry in state["_data_files"]]
    except (KeyError, TypeError):
        raise BadImages(f"{root / folder / STATE} does not list the dataset's `_data_files` as datasets does.") from None


def json_file(path: Path) -> dict:
    try:
        data = json.loads(read_text(path, "read as datasets' JSON"))
    except ValueError:
        raise BadImages(f"{path} is not JSON, so it cannot be read as datasets' {path.name}.") from None
    if not isinstance(data, dict):
        raise BadImages(f"{path} is not the object datasets writes as {path.name}.")
    return data


def read_stream(path: Path, name: str) -> pa.Table:
    """An Arrow IPC stream, memory-mapped: the columns are not read into memory."""
    try:
        return pa.ipc.open_stream(pa.memory_map(str(path))).read_all()
    except FileNotFoundError:
        raise BadImages(f"{name}, which the dataset's {STATE} lists, does not exist.") from None
    except pa.ArrowInvalid:
        raise DamagedArchive(f"{name} is not an Arrow IPC stream, as datasets writes its Arrow files.") from None
    except OSError:
        raise UnreadableArchive(f"{name} cannot be read (permission denied?).") from None
