"""Base class lists: the shipped ILSVRC-2012 and ImageNet fall 2011 lists, text files of wnids, manifests; and
the class numberings a dataset's integer labels index."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from curate.errors import BadClassList
from curate.wordnet.wnid import is_wnid, not_a_wnid

DATA = Path(__file__).parent.parent / "data"

BUILTIN_LISTS = {
    "ilsvrc2012": (DATA / "ilsvrc2012.txt", "the 1000 ILSVRC-2012 classes"),
    "imagenet22k": (DATA / "imagenet22k.txt", "the 21,841 synsets of the ImageNet fall 2011 release"),
}
DEFAULT_BASE = "ilsvrc2012"

# Numberings by name: label i is the i-th wnid of the built-in list, sorted. ILSVRC-2012 as torchvision, timm and
# Hugging Face number it; the fall 2011 release as timm's imagenet22k_synsets.txt does (Google's 21k checkpoints
# number 21,843 classes, and Microsoft's 22k puts the 1000 ILSVRC classes first: neither is this one).
NUMBERINGS = {"imagenet1k": "ilsvrc2012", "imagenet22k": "imagenet22k"}

# The 20 PASCAL VOC classes as WordNet 3.0 synsets, in VOC's own order.
PASCAL_VOC = {
    "aeroplane": "n02691156",
    "bicycle": "n02834778",
    "bird": "n01503061",
    "boat": "n02858304",
    "bottle": "n02876657",
    "bus": "n02924116",
    "car": "n02958343",
    "cat": "n02121620",
    "chair": "n03001627",
    "cow": "n01887787",
    "diningtable": "n03201208",
    "dog": "n02084071",
    "horse": "n02374451",
    "motorbike": "n03769722",
    "person": "n00007846",
    "pottedplant": "n00017222",
    "sheep": "n02411705",
    "sofa": "n04256520",
    "train": "n04468005",
    "tvmonitor": "n03782006",
}

# The other built-in target sets: a file each under data/, one row per synset (category, wnid, synset name,
# why the synset was chosen), with its provenance in its header.
TARGET_FILES = {name: DATA / f"targets-{name}.tsv" for name in ("coco", "cifar10", "cifar100")}
TARGET_SETS = ("pascal-voc", *TARGET_FILES)

# Branches of the ImageNet 22k tree that overlap PASCAL VOC, for Oquab et al.'s PRE-1512 extension:
# furniture holds chairs, tables and sofas; hoofed mammals hold sheep, horses and cows; vehicles hold
# aeroplanes, bicycles, boats, buses, cars, motorbikes and trains; and people and plants.
BRANCH_SETS = {
    "pascal-voc": {
        "furniture": "n03405725",
        "hoofed mammal": "n02370806",
        "vehicle": "n04524313",
        "person": "n00007846",
        "plant": "n00017222",
    }
}


def check_named(name: str, names, what: str, instead: str) -> None:
    """Raise, listing the valid names, unless `name` is one of the built-in target or branch sets `names`."""
    if name not in names:
        raise BadClassList(f"Unknown {what} {name!r}: choose one of {', '.join(names)}, or give {instead}.")


def extension_branches(name: str, branches: list[str]) -> list[str]:
    """The branches to extend under: the given wnids, or else the built-in branch set `name`."""
    if branches:
        return sorted(set(branches))
    check_named(name, BRANCH_SETS, "branch set", "`branch`")
    return list(BRANCH_SETS[name].values())


def read_targets(path: Path) -> dict[str, tuple[str, ...]]:
    """The categories of a target file, in its order, each with its wnids."""
    targets: dict[str, tuple[str, ...]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            category, wnid = line.split("\t")[:2]
            targets[category] = targets.get(category, ()) + (wnid,)
    return targets


def target_set(name: str) -> dict[str, tuple[str, ...]]:
    """The categories of a built-in target set, each with its wnids."""
    check_named(name, TARGET_SETS, "target set", "`synset`")
    if name == "pascal-voc":
        return {category: (wnid,) for category, wnid in PASCAL_VOC.items()}
    return read_targets(TARGET_FILES[name])


def exclusion_targets(name: str | None, synsets: list[str], synsets_file: Path | None) -> tuple[list[str], str]:
    """The wnids to exclude and the name the manifest records for them: the given synsets (and those of a
    file), or else the built-in target set `name` (pascal-voc when none is named)."""
    if name is not None and (synsets or synsets_file):
        raise BadClassList("Give either a built-in target set (`targets`) or your own targets (`synset`, `synsets_file`), not both.")
    custom = sorted(set(synsets) | set(load_class_list(str(synsets_file)).wnids if synsets_file else []))
    if custom:
        return custom, "custom: " + " ".join(custom)
    name = name or "pascal-voc"
    return sorted({wnid for wnids in target_set(name).values() for wnid in wnids}), name


@dataclass(frozen=True)
class ClassList:
    """A named set of wnids, kept sorted (sorted order is the label order of ILSVRC-2012); or, from
    `class_numbering`, in the order a dataset numbers them."""

    name: str
    wnids: tuple[str, ...]

    @property
    def content_hash(self) -> str:
        return "sha256:" + hashlib.sha256("\n".join(self.wnids).encode()).hexdigest()


def parse_wnid_lines(text: str, source: str) -> ClassList:
    """One wnid per line (the first word counts; `#` starts a comment), each once."""
    return ClassList(source, tuple(sorted(wnids_in_lines(text, source))))


def wnids_in_lines(text: str, source: str) -> tuple[str, ...]:
    """The wnids of `parse_wnid_lines`, in the file's order."""
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        wnid = words[0]
        if not is_wnid(wnid):
            raise BadClassList(not_a_wnid(wnid, f"on line {number} of {source}"))
        if wnid in seen:
            raise BadClassList(f"{wnid} is listed twice in {source}, on lines {seen[wnid]} and {number}.")
        seen[wnid] = number
    if not seen:
        raise BadClassList(f"{source} lists no wnids.")
    return tuple(seen)


def builtin_list(name: str) -> ClassList:
    path, _ = BUILTIN_LISTS[name]
    return ClassList(name, parse_wnid_lines(path.read_text(), name).wnids)


def load_class_list(spec: str) -> ClassList:
    """A built-in list by name, a text file of wnids, or the kept classes of a label manifest (or of its text
    form: the sidecar `curate build` commits, or what `curate show` prints)."""
    if spec in BUILTIN_LISTS:
        return builtin_list(spec)
    path = Path(spec)
    if path.is_dir():
        raise BadClassList(f"{spec} is a folder, not a class list.")
    if not path.exists():
        raise BadClassList(
            f"{spec} is neither a built-in class list ({', '.join(BUILTIN_LISTS)}) nor an existing file."
        )
    if not path.is_file():
        raise BadClassList(f"{spec} is not a regular file (a device, a pipe or a socket): give a file of wnids or a manifest.")
    if path.suffix == ".parquet":
        from curate.labels.manifest import read_labels

        manifest = read_labels(path)
        return ClassList(path.name, tuple(row.wnid for row in manifest.rows if row.label_wnid is not None))
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark some editors write is not a wnid
    except UnicodeDecodeError:
        raise BadClassList(f"{spec} is not a text file of wnids.") from None
    except OSError as error:
        raise BadClassList(f"Cannot read {spec}: {error.strerror or error}.") from None
    from curate.labels.textform import kept_in_text_form

    kept = kept_in_text_form(text)
    return ClassList(path.name, tuple(sorted(kept))) if kept is not None else parse_wnid_lines(text, path.name)


def class_numbering(spec: str) -> ClassList:
    """The classes a dataset's integer labels number, label i naming `wnids[i]`: a numbering by name
    (`NUMBERINGS`), or a text file of one wnid per line, line i naming label i."""
    if spec in NUMBERINGS:
        return ClassList(spec, builtin_list(NUMBERINGS[spec]).wnids)
    path = Path(spec)
    if not path.is_file():
        raise BadClassList(f"`classes` must be {' or '.join(NUMBERINGS)}, or a file of one wnid per line (line i "
                           f"naming label i); {spec} is neither.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError):
        raise BadClassList(f"{spec} cannot be read as a text file of wnids.") from None
    wnids = wnids_in_lines(text, path.name)
    from curate.wordnet.snapshot import load_hierarchy

    known = load_hierarchy().known_wnids(wnids)
    unknown = [wnid for wnid in wnids if wnid not in known]
    if unknown:
        raise BadClassList(f"{path.name} names {unknown[0]}, which is not a noun synset of WordNet 3.0.")
    return ClassList(path.name, wnids)


def descriptions(wnids: tuple[str, ...]) -> list[str]:
    """Each class's lemmas as ILSVRC's devkit words them, and Hugging Face's imagenet-1k names its labels:
    "tench, Tinca tinca"."""
    from curate.wordnet.snapshot import load_hierarchy

    hierarchy = load_hierarchy()
    return [", ".join(hierarchy.lemmas[hierarchy.node(wnid)].split(" ")).replace("_", " ") for wnid in wnids]
