"""What Hugging Face `datasets` declares of a table it writes (Parquet shards, `save_to_disk`'s Arrow files),
shared by the layouts that read them: the schema's `huggingface` metadata holds the dataset's Features as JSON,
`{"info": {"features": {"image": {"_type": "Image"}, "label": {"names": [...], "_type": "ClassLabel"}}}}`
(datasets 2.x and older also wrote `num_classes`, `names_file` and `id`). A label is read through the names its
ClassLabel declares: wnids, or ILSVRC-2012's descriptions ("tench, Tinca tinca", as `ILSVRC/imagenet-1k`
names them). A table that declares no names is numbered by the `classes` the user names (imagenet1k by
default), and one whose names and `classes` disagree is refused: a label is never read against a list it
was not written with."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.images.rows import image_file, image_rows
from curate.labels.classlists import ClassList, builtin_list, class_numbering, descriptions, ordered_list
from curate.wording import plural
from curate.wordnet.wnid import is_wnid

METADATA_KEY = b"huggingface"
DEFAULT_NUMBERING = "imagenet1k"  # what a table that declares no class names is taken to number
FILE_WAY_OUT = "give `classes` FILE, one wnid per line, label 0's on the first"
NOT_DATASETS = "it is not a table of images as Hugging Face datasets writes one"


def check_columns(schema: pa.Schema, shard: str) -> None:
    """Refuse a table without an `image` struct holding bytes and an integer `label`."""
    image = schema.field("image").type if "image" in schema.names else None
    if image is None or not pa.types.is_struct(image) or image.get_field_index("bytes") < 0:
        raise BadImages(f"{shard} has no `image` column with the images' bytes: {NOT_DATASETS}.")
    if "label" not in schema.names or not pa.types.is_integer(schema.field("label").type):
        raise BadImages(f"{shard} has no integer `label` column: {NOT_DATASETS}.")


def declared_names(schema: pa.Schema, shard: str) -> list[str] | None:
    """The class names the `label` ClassLabel declares; None where the table declares none (no datasets
    metadata, a label that is no ClassLabel, or only a count, which datasets names "0", "1", ...)."""
    text = (schema.metadata or {}).get(METADATA_KEY)
    if text is None:
        return None
    try:
        label = json.loads(text)["info"]["features"].get("label") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BadImages(f"{shard} holds `huggingface` metadata that is not the Features datasets writes.") from None
    if not isinstance(label, dict) or label.get("_type") != "ClassLabel":
        return None
    names = label.get("names") or [str(i) for i in range(label.get("num_classes") or 0)]
    return [str(name) for name in names] or None


def label_classes(schema: pa.Schema, shard: str, numbering: ClassList | None) -> ClassList:
    """The classes a table's labels number (label i names `in_order[i]`): those it declares, else `numbering`,
    else imagenet1k."""
    names = declared_names(schema, shard)
    if names is None or names == [str(i) for i in range(len(names))]:
        classes = numbering or class_numbering(DEFAULT_NUMBERING)
        if names is not None and len(names) != len(classes.wnids):
            raise BadImages(f"{shard} declares {plural(len(names), 'class')} without naming them, and {classes.name} "
                            f"numbers {len(classes.wnids):,}: {FILE_WAY_OUT}.")
        return classes
    declared = ordered_list("its ClassLabel", named_wnids(names, shard, numbering))
    if numbering is not None and declared.in_order != numbering.in_order:
        if len(declared.wnids) != len(numbering.wnids):
            differ = f"{plural(len(names), 'class')}, and `classes` {numbering.name} numbers {len(numbering.wnids):,}"
        else:
            label = next(i for i, (ours, theirs) in enumerate(zip(declared.in_order, numbering.in_order)) if ours != theirs)
            differ = (f"label {label} {declared.in_order[label]}, and `classes` {numbering.name} numbers it "
                      f"{numbering.in_order[label]}")
        raise BadImages(f"{shard} declares {differ}: leave `classes` out to read the labels as the shard declares them.")
    return declared


def named_wnids(names: list[str], shard: str, numbering: ClassList | None) -> tuple[str, ...]:
    """The wnid of each declared name: the name itself, or the ILSVRC-2012 class it describes. Names that are
    neither are refused, unless `numbering` gives a wnid for every label."""
    if all(is_wnid(name) for name in names):
        from curate.wordnet.snapshot import load_hierarchy

        known = load_hierarchy().known_wnids(names)
        unknown = next((name for name in names if name not in known), None)
        if unknown is not None:
            raise BadImages(f"{shard} names a class {unknown}, which is not a noun synset of WordNet 3.0.")
        return tuple(names)
    ilsvrc = builtin_list("ilsvrc2012").wnids
    words = descriptions(ilsvrc)
    if names == words:
        return ilsvrc  # the whole list, in order: its two classes named "crane" are told apart by place
    described: dict[str, list[str]] = {}
    for wnid, word in zip(ilsvrc, words):
        described.setdefault(word, []).append(wnid)
    label, name = next(((i, n) for i, n in enumerate(names) if len(described.get(n, ())) != 1), (None, None))
    if label is None:
        return tuple(described[name][0] for name in names)
    if numbering is not None and len(numbering.wnids) == len(names):
        return numbering.in_order
    if name in described:
        raise BadImages(f"{shard} names label {label} {name!r}, which describes {len(described[name])} ILSVRC-2012 "
                        f"classes ({', '.join(described[name])}): {FILE_WAY_OUT}.")
    raise BadImages(f"{shard} names label {label} {name!r}, neither a wnid nor the description of an ILSVRC-2012 "
                    f"class (\"tench, Tinca tinca\"): {FILE_WAY_OUT}.")


def check_image_files(images: pa.ChunkedArray, shard: Path, relative: str) -> None:
    """Refuse a table with an image whose bytes are not in it (`Dataset.to_parquet` of images loaded from
    files keeps only their paths) and whose file is not there to read them from."""
    for row, image in enumerate(images.to_pylist()):
        if image is None or image["bytes"] is None:
            path = image and image["path"]
            if path is None or not image_file(shard, path).is_file():
                raise BadImages(f"Row {row} of {relative} holds no image bytes, only the path {path}, and no file is "
                                "there: write the dataset with its images embedded (as push_to_hub does), or index "
                                "the image files themselves.")


def labelled_rows(shard: str, labels: list[int | None], classes: ClassList, split: str, report) -> pa.Table:
    """One row per labelled row of the table, pointing at it by its row number; unlabelled rows (null, -1)
    go to the report."""
    paths, wnids, rows = [], [], []
    for row, label in enumerate(labels):
        if label is None or label == -1:
            report.unlabelled.append(f"{shard}/{row}")
        elif not 0 <= label < len(classes.wnids):
            raise BadImages(f"Row {row} of {shard} has label {label}, outside 0..{len(classes.wnids) - 1}, the "
                            f"{plural(len(classes.wnids), 'class')} of {classes.name} (-1 marks an unlabelled image).")
        else:
            paths.append(f"{shard}/{row}")
            wnids.append(classes.in_order[label])
            rows.append(row)
    return image_rows(paths, wnids, split, [None] * len(rows), [shard] * len(rows), rows)
