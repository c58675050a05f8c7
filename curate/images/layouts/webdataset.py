"""WebDataset tar shards as timm publishes ImageNet (`imagenet1k-train-0000.tar`, `imagenet1k-validation-00.tar`)
and webdataset's own ImageNet example writes it (`imagenet-train-000000.tar`, `imagenet-val-000000.tar`):
each sample the members KEY.jpg, KEY.cls (the class's index, as text) and, in timm's, KEY.json (label, width,
height and the original filename, `n01440764_10026.JPEG` for a train image). The index numbers a class in
the list the user names (`classes`), or else the one the shard name's release names: `imagenet1k`
ILSVRC-2012's 1000 classes, `imagenet22k` the 21,841 of the fall 2011 release, `imagenet12k` timm's 11,821
(each list's lines in order). A filename that starts with a wnid names the class as well: it labels the
samples of a release curate ships no list for and the samples without a `.cls`, and where both are there they
must agree. Members are listed with
their offsets (`tar_archive`), not extracted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.images.layouts.listing import SHARD_SPLITS, readable_shards, shard_files
from curate.images.layouts.tar_archive import tar_members
from curate.images.report import IndexReport
from curate.images.rows import image_rows, is_image_name
from curate.labels.classlists import NUMBERINGS, ClassList, class_numbering
from curate.progress import Progress
from curate.wording import plural

LAYOUT = "WebDataset shards"
SHARD_NAME = re.compile(r"(?P<release>[a-z0-9]+)-(?P<split>train|validation|val|test)-\d+\.tar")
NUMBERED = True  # labels are numbers: `classes` can say what they number
SAMPLE_PARTS = {"cls", "json"}  # what a sample holds besides its image
FILENAME_WNID = re.compile(r"(n\d{8})_")  # a train image's original name: n01440764_10026.JPEG


def no_images(source, found: str) -> str:
    return f"{source.root} holds no labelled images in WebDataset shards *-{SHARD_SPLITS[source.split][0]}-NNNN.tar{found}."


def holds(root: Path) -> bool:
    """Whether `root` holds tar shards named as timm names them."""
    return bool(shard_files(root, ("",), SHARD_NAME, None))


def index(source, progress: Progress) -> tuple[pa.Table, IndexReport]:
    """Every image of the split's shards with a `.cls` member; images without one go to the report, and so
    do members that are neither images nor parts of a sample, and shards that are damaged or unreadable."""
    root, split = source.root, source.split
    numbering = class_numbering(source.classes) if source.classes else None
    report = IndexReport(layout=LAYOUT)
    shards = shard_files(root, ("",), SHARD_NAME, split)
    advance = progress("Indexing shards", len(shards))
    tables = [image_rows([], [], split, [])]
    tables += readable_shards(shards, lambda shard: shard_rows(root / shard, shard, class_list(shard, numbering), split, report),
                              report, advance)
    return pa.concat_tables(tables), report


def class_list(shard: str, numbering: ClassList | None) -> ClassList | None:
    """The classes a shard's `.cls` numbers index: `numbering`, or those the release its name starts with
    numbers (the two must agree where both are known); None where neither is known."""
    release = SHARD_NAME.fullmatch(shard)["release"]
    named = class_numbering(release) if release in NUMBERINGS else None
    if named and numbering and named.in_order != numbering.in_order:
        raise BadImages(f"{shard} is a shard of {release}, numbered by {release}'s classes, not by `classes` "
                        f"{numbering.name}: leave `classes` out to read it as its name says.")
    return numbering or named


def shard_rows(path: Path, shard: str, classes: ClassList | None, split: str, report: IndexReport) -> pa.Table:
    """One row per image of the shard whose sample names its class, at the offset of the image's data."""
    members = tar_members(path, shard)
    parts: dict[str, dict[str, tuple[bytes, str]]] = {}  # sample key -> part -> (text, where it is)
    with open(path, "rb") as handle:
        for info in members:
            key, part = sample_key(info.name)
            if part in SAMPLE_PARTS and info.isfile():
                handle.seek(info.offset_data)
                parts.setdefault(key, {})[part] = handle.read(info.size), f"{info.name} in {shard}"
    labels = {key: wnid for key, found in parts.items() if (wnid := label_of(found, shard, classes))}
    paths, wnids, sizes, offsets = [], [], [], []
    for info in members:
        key, part = sample_key(info.name)
        member = f"{shard}/{info.name}"
        if not info.isfile() or not (is_image_name(info.name) or part in SAMPLE_PARTS):
            report.not_image.append(member)
        elif part in SAMPLE_PARTS:
            continue
        elif key not in labels:
            report.unlabelled.append(member)
        elif not info.size:
            report.empty_file.append(member)
        else:
            paths.append(member)
            wnids.append(labels[key])
            sizes.append(info.size)
            offsets.append(info.offset_data)
    return image_rows(paths, wnids, split, sizes, [shard] * len(paths), offsets)


def sample_key(name: str) -> tuple[str, str]:
    """A member's sample key and part, as WebDataset splits them: at the first dot of the file name."""
    folder, slash, base = name.rpartition("/")
    stem, _, part = base.partition(".")
    return folder + slash + stem, part.lower()


def label_of(parts: dict[str, tuple[bytes, str]], shard: str, classes: ClassList | None) -> str | None:
    """The wnid a sample's `.cls` and `.json` name (they must agree where both do); None where neither does."""
    numbered = class_of(*parts["cls"], classes) if "cls" in parts and classes is not None else None
    named = filename_wnid(*parts["json"]) if "json" in parts else None
    if numbered and named and numbered != named:
        raise BadImages(f"{parts['cls'][1]} names {numbered} but the filename in its .json names {named}.")
    if "cls" in parts and classes is None and named is None:
        release = SHARD_NAME.fullmatch(shard)["release"]
        known = [f"{name}-*" for name in NUMBERINGS if SHARD_NAME.fullmatch(f"{name}-train-0.tar")]
        raise BadImages(f"{shard} is a shard of {release}, whose class numbers curate has no list for (it numbers "
                        f"{', '.join(known[:-1])} and {known[-1]} shards), and {parts['cls'][1]} has no .json whose filename names a wnid: give "
                        "`classes`, a built-in numbering (`curate lists`) or a file of one wnid per line in label order.")
    return numbered or named


def filename_wnid(text: bytes, where: str) -> str | None:
    """The wnid a `.json` member's original filename starts with, if it does."""
    try:
        record = json.loads(text)
    except ValueError:
        raise BadImages(f"{where} is not JSON: {text[:20]!r}.") from None
    filename = record.get("filename") if isinstance(record, dict) else None
    match = FILENAME_WNID.match(filename) if isinstance(filename, str) else None
    return match[1] if match else None


def class_of(text: bytes, where: str, classes: ClassList) -> str:
    """The wnid a `.cls` member's text numbers."""
    number, wnids = text.strip(), classes.in_order
    if not number.isdigit():
        raise BadImages(f"{where} is not a class number: {text[:20]!r}.")
    if int(number) >= len(wnids):
        raise BadImages(f"{where} names class {int(number)}, outside 0..{len(wnids) - 1}, the {plural(len(wnids), 'class')} "
                        f"of {classes.name}.")
    return wnids[int(number)]
