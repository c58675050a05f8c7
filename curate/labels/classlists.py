"""Base class lists: the shipped ImageNet lists (ILSVRC-2012, the fall 2011 release, and the lists timm's
checkpoints were trained on), text files of wnids, manifests; and the class numberings a dataset's integer
labels index."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from curate.errors import BadClassList
from curate.wordnet.wnid import is_wnid, not_a_wnid

DATA = Path(__file__).parent.parent / "data"
PROVENANCE = DATA / "class-lists.tsv"  # what tools/copy_timm_lists.py copied from where, with each file's sha256


@dataclass(frozen=True)
class BuiltinList:
    """A class list curate ships: a copy of one of timm's files (`timm/data/_info/`), line i naming label i of
    the checkpoints trained on it."""

    numbering: str  # its name as `--classes` and `curate export class-map` take it (timm's, where timm has one)
    timm_file: str
    about: str


BUILTIN_LISTS = {
    "ilsvrc2012": BuiltinList("imagenet1k", "imagenet_synsets.txt", "the 1000 ILSVRC-2012 classes"),
    "imagenet22k": BuiltinList("imagenet22k", "imagenet22k_synsets.txt",
                               "the 21,841 synsets of the ImageNet fall 2011 release"),
    "imagenet12k": BuiltinList("imagenet12k", "imagenet12k_synsets.txt",
                               "timm's ImageNet-12k: the 11,821 fall 2011 synsets with the most images"),
    "imagenet21k-p-fall11": BuiltinList("imagenet21k-p-fall11", "imagenet21k_miil_synsets.txt",
                                        "ImageNet-21K-P (Ridnik et al. 2021) of the fall 2011 release: 11,221 synsets"),
    "imagenet21k-p-winter21": BuiltinList("imagenet21k-p-winter21", "imagenet21k_miil_w21_synsets.txt",
                                          "ImageNet-21K-P of the winter 2021 release: 10,450 synsets"),
    "imagenet22k-ms": BuiltinList("imagenet22k-ms", "imagenet22k_ms_synsets.txt",
                                  "Microsoft's 22k: the 1000 ILSVRC-2012 classes first (teddy bear n04399382 too, "
                                  "which fall 2011 lacks), then the other 20,842 fall 2011 synsets"),
    "imagenet21k-goog": BuiltinList("imagenet21k-goog", "imagenet21k_goog_synsets.txt",
                                    "Google's ImageNet-21k: the fall 2011 synsets and n03931044, n09859684 (21,843)"),
}
DEFAULT_BASE = "ilsvrc2012"

# Numberings by name: label i is line i of the built-in list (ILSVRC-2012 in sorted wnid order, as torchvision,
# timm and Hugging Face number it; Microsoft's 22k with the ILSVRC-2012 classes first).
NUMBERINGS = {builtin.numbering: name for name, builtin in BUILTIN_LISTS.items()}

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
    """A named set of wnids, kept sorted (sorted order is the label order of ILSVRC-2012), and the list's own
    order where it has another: a file's lines, a numbering's labels, a manifest's labels."""

    name: str
    wnids: tuple[str, ...]
    order: tuple[str, ...] = ()  # the wnids in the list's own order; empty where that is sorted order

    @property
    def in_order(self) -> tuple[str, ...]:
        """The wnids in the list's own order: label i of a numbering is `in_order[i]`."""
        return self.order or self.wnids

    @property
    def content_hash(self) -> str:
        """The hash of the set of wnids (a base's identity in a manifest's metadata), not of their order."""
        return "sha256:" + hashlib.sha256("\n".join(self.wnids).encode()).hexdigest()


def ordered_list(name: str, wnids: tuple[str, ...]) -> ClassList:
    """The ClassList of wnids given in the list's own order."""
    ranked = tuple(sorted(wnids))
    return ClassList(name, ranked, () if ranked == tuple(wnids) else tuple(wnids))


def parse_wnid_lines(text: str, source: str) -> ClassList:
    """One wnid per line (the first word counts; `#` starts a comment), each once, in the file's order."""
    return ordered_list(source, wnids_in_lines(text, source))


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


def builtin_path(name: str) -> Path:
    return DATA / f"{name}.txt"


def builtin_list(name: str) -> ClassList:
    return parse_wnid_lines(builtin_path(name).read_text(), name)


def load_class_list(spec: str) -> ClassList:
    """A built-in list by name, a text file of wnids, or the kept classes of a label manifest (or of its text
    form: the sidecar `curate build` commits, or what `curate show` prints), each in its own order: a file's
    lines, a manifest's classes by label (label order, then wnid)."""
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
    from curate.fileformat import is_parquet

    if path.suffix == ".parquet" or is_parquet(path):  # a manifest renamed, or saved without its suffix
        from curate.labels.manifest import read_labels

        manifest = read_labels(path)
        label = manifest.label_index
        kept = sorted(manifest.kept, key=lambda row: (label[row.label_wnid], row.wnid))
        return ordered_list(path.name, tuple(row.wnid for row in kept))
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
    """The classes a dataset's integer labels number, label i naming `in_order[i]`: a numbering by name
    (`NUMBERINGS`), or a text file of one wnid per line, line i naming label i."""
    if spec in NUMBERINGS:
        return ordered_list(spec, builtin_list(NUMBERINGS[spec]).in_order)
    from curate.fileio import not_regular, special_file  # here: coarsen in a pipe loads no file-writing code

    path = Path(spec)
    if special_file(path):
        raise BadClassList(not_regular(path))
    if not path.is_file():
        raise BadClassList(f"`classes` must be {', '.join(NUMBERINGS)}, or a file of one wnid per line (line i "
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
    return ordered_list(path.name, wnids)


@dataclass(frozen=True)
class BuiltinRow:
    name: str  # as --base and --pool take it
    numbering: str  # as --classes and `curate export class-map` take it
    classes: int
    order: str  # label i is line i of the list: "wnid" where that is sorted wnid order
    source: str  # the timm release and file it was copied from
    about: str


def copied_from() -> tuple[str, dict[str, str]]:
    """The timm release the built-in lists were copied from, and each list's file in it (`PROVENANCE`)."""
    lines = PROVENANCE.read_text().splitlines()
    release = next(line.removeprefix("# ") for line in lines if line.startswith("# timm "))
    return release, {line.split("\t")[0]: line.split("\t")[1] for line in lines if line and not line.startswith("#")}


def builtin_rows() -> list[BuiltinRow]:
    """The built-in lists as `curate lists` prints them."""
    release, files = copied_from()
    rows = []
    for name, builtin in BUILTIN_LISTS.items():
        classes = builtin_list(name)
        order = "its own" if classes.order else "wnid"
        source = f"{release}, timm/data/_info/{files[builtin_path(name).name]}"
        rows.append(BuiltinRow(name, builtin.numbering, len(classes.wnids), order, source, builtin.about))
    return rows


def descriptions(wnids: tuple[str, ...]) -> list[str]:
    """Each class's lemmas as ILSVRC's devkit words them, and Hugging Face's imagenet-1k names its labels:
    "tench, Tinca tinca"."""
    from curate.wordnet.snapshot import load_hierarchy

    hierarchy = load_hierarchy()
    return [", ".join(hierarchy.lemmas[hierarchy.node(wnid)].split(" ")).replace("_", " ") for wnid in wnids]
