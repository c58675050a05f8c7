"""PASCAL VOC from the VOCdevkit layout: VOC 2007 classification and detection, VOC 2012 classification
and actions.

    VOCdevkit/VOC2007/JPEGImages/<id>.jpg
                     /Annotations/<id>.xml        <size>, and per <object>: <name>, <bndbox>, <difficult>
                     /ImageSets/Main/<set>.txt    the image ids of a set; <class>_<set>.txt: id and 1/-1/0
    VOCdevkit/VOC2012/ImageSets/Action/<set>.txt  the action images of a set; their persons carry <actions>

`--data` may name the folder holding VOCdevkit, VOCdevkit itself, or the year's folder. Boxes stay in
VOC's convention (1-based, inclusive pixels: xmin, ymin, xmax, ymax), the one the evaluation uses.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from curate.labels.classlists import PASCAL_VOC
from train.errors import TrainError
from train.tasks import Split

VOC_CLASSES = list(PASCAL_VOC)  # VOC's own order: aeroplane, bicycle, ..., tvmonitor
ACTIONS = ["jumping", "phoning", "playinginstrument", "reading", "ridingbike", "ridinghorse", "running",
           "takingphoto", "usingcomputer", "walking"]  # VOC 2012's ten, in the devkit's order ("other" is not scored)


@dataclass(frozen=True)
class VOCObject:
    name: str
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax
    difficult: bool
    number: int  # its place among the objects of its file, from 1: VOC's object id
    actions: tuple[str, ...] | None = None  # the actions flagged 1 (None: the object has no <actions>)


@dataclass(frozen=True)
class Annotation:
    width: int
    height: int
    objects: tuple[VOCObject, ...]


def year_folder(root: Path, year: int, parts: tuple[str, ...], task: str) -> Path:
    """The VOC<year> folder under `root`, checked to have every one of `parts`."""
    candidates = (root / "VOCdevkit" / f"VOC{year}", root / f"VOC{year}", root)
    voc = next((p for p in candidates if any((p / part).is_dir() for part in ("JPEGImages", "Annotations", "ImageSets"))), None)
    if voc is None:
        raise TrainError(f"{root} holds no VOCdevkit/VOC{year}: point `data` at the folder holding VOCdevkit.")
    missing = [part for part in parts if not (voc / part).is_dir()]
    if missing:
        raise TrainError(f"{voc} lacks {' and '.join(missing)}: {task} reads {', '.join(parts)}.")
    return voc


def image_ids(path: Path) -> list[str]:
    """The image ids an image set lists (its first column), in its order, each once."""
    if not path.is_file():
        raise TrainError(f"{path} is missing: it lists the images of the set.")
    ids = list(dict.fromkeys(line.split()[0] for line in path.read_text().splitlines() if line.strip()))
    if not ids:
        raise TrainError(f"{path} lists no images.")
    return ids


def field(element: ET.Element, path: str, where: str) -> str:
    found = element.find(path)
    if found is None or found.text is None or not found.text.strip():
        raise TrainError(f"{where} lacks <{path.replace('/', '><')}>.")
    return found.text.strip()


def number(element: ET.Element, path: str, where: str) -> float:
    text = field(element, path, where)
    try:
        return float(text)
    except ValueError:
        raise TrainError(f"{where} <{path.split('/')[-1]}> is {text!r}, not a number.") from None


def read_annotation(path: Path) -> Annotation:
    """One Annotations/<id>.xml, every box checked to lie in its image."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise TrainError(f"{path} is missing: every image of the set needs its annotation.") from None
    except ET.ParseError as error:
        raise TrainError(f"{path} is not well-formed XML ({error}).") from None
    width, height = int(number(root, "size/width", str(path))), int(number(root, "size/height", str(path)))
    if width < 1 or height < 1:
        raise TrainError(f"{path} gives its image the size {width}x{height}.")
    objects = []
    for n, element in enumerate(root.findall("object"), 1):
        where = f"{path}, object {n},"
        name = field(element, "name", where)
        box = tuple(number(element, f"bndbox/{side}", where) for side in ("xmin", "ymin", "xmax", "ymax"))
        xmin, ymin, xmax, ymax = box
        if not (1 <= xmin <= xmax <= width and 1 <= ymin <= ymax <= height):
            raise TrainError(f"{path}: object {n} ({name}) has the box ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}), outside "
                             f"its {width}x{height} image (VOC boxes are 1-based pixels: 1 <= xmin <= xmax <= width).")
        difficult = element.find("difficult")
        flags = element.find("actions")
        actions = None if flags is None else tuple(a for a in ACTIONS if (flags.findtext(a) or "0").strip() == "1")
        objects.append(VOCObject(name, box, difficult is not None and (difficult.text or "0").strip() == "1", n, actions))
    return Annotation(width, height, tuple(objects))


def patches_of(config) -> bool:
    """Whether the run trains on patches labelled by the objects' boxes (`head` oquab), and so reads them."""
    return getattr(config, "head", "linear") == "oquab"


def classification_parts(config) -> tuple[str, ...]:
    return ("JPEGImages", "ImageSets/Main") + (("Annotations",) if patches_of(config) else ())


def classification(voc: Path, splits: tuple[str, str], config, missing: str) -> tuple:
    """Ground truth per class from ImageSets/Main/<class>_<set>.txt for the train and test `splits`: 1
    present, -1 absent, 0 only `difficult` objects of that class (ignored by the metric and the loss); with
    `head` oquab, each training image's objects too (its patches are labelled by their boxes). `missing`:
    what to say of a missing image set."""
    result = []
    for split in splits:
        truth: dict[str, list[int]] = {}
        for c, name in enumerate(VOC_CLASSES):
            path = voc / "ImageSets" / "Main" / f"{name}_{split}.txt"
            if not path.is_file():
                raise TrainError(f"{path} is missing: {missing}.")
            for line in path.read_text().splitlines():
                if line.strip():
                    image_id, value = line.split()
                    truth.setdefault(image_id, [-1] * len(VOC_CLASSES))[c] = int(value)
        if not truth:
            raise TrainError(f"{voc / 'ImageSets' / 'Main'} lists no {split} images.")
        ids = sorted(truth)
        annotations = None
        if split == splits[0] and patches_of(config):
            annotations = [read_annotation(voc / "Annotations" / f"{i}.xml") for i in ids]
        result.append(Split([voc / "JPEGImages" / f"{i}.jpg" for i in ids], [truth[i] for i in ids], ids,
                            annotations=annotations))
    return result


def voc07_classification(root: Path, config=None) -> tuple:
    """VOC 2007 classification: trainval -> test."""
    voc = year_folder(root, 2007, classification_parts(config), "voc07-cls")
    train, test = classification(voc, ("trainval", "test"), config, "VOC 2007 needs its per-class image sets (the test "
                                 "set is a separate download, VOCtest_06-Nov-2007.tar)")
    return VOC_CLASSES, train, test, {}


VOC12_SPLITS = ("trained on VOC 2012 train, scored on val: Oquab et al. scored the test set, whose labels only the "
                "VOC evaluation server holds, which cannot be reached offline")


def voc12_classification(root: Path, config=None) -> tuple:
    """VOC 2012 classification: train -> val (see `VOC12_SPLITS`)."""
    voc = year_folder(root, 2012, classification_parts(config), "voc12-cls")
    train, test = classification(voc, ("train", "val"), config, "VOC 2012 classification needs its per-class image "
                                 "sets (VOCtrainval_11-May-2012.tar)")
    return VOC_CLASSES, train, test, {"splits": VOC12_SPLITS}


def voc07_detection(root: Path, config=None) -> tuple:
    """Every object of the 20 classes with its box; `difficult` ones kept (the evaluation ignores them,
    training leaves them out)."""
    voc = year_folder(root, 2007, ("JPEGImages", "Annotations", "ImageSets/Main"), "voc07-det")
    splits = []
    for split in ("trainval", "test"):
        ids = image_ids(voc / "ImageSets" / "Main" / f"{split}.txt")
        annotations = [read_annotation(voc / "Annotations" / f"{i}.xml") for i in ids]
        for image_id, annotation in zip(ids, annotations):
            unknown = next((o for o in annotation.objects if o.name not in PASCAL_VOC), None)
            if unknown is not None:
                raise TrainError(f"{voc / 'Annotations' / image_id}.xml: object {unknown.number} is a {unknown.name!r}, "
                                 "not one of the 20 VOC classes.")
        splits.append(Split([voc / "JPEGImages" / f"{i}.jpg" for i in ids], annotations, ids))
    return VOC_CLASSES, splits[0], splits[1], {}


PERSON_CONTEXT = 1.5  # the region an action is classified from: the person's box grown this much


def with_context(box: tuple[float, ...], width: int, height: int, scale: float = PERSON_CONTEXT) -> tuple[int, ...]:
    """`box` grown `scale` times about its centre, in whole pixels, clipped to the image."""
    xmin, ymin, xmax, ymax = box
    grow_x, grow_y = (scale - 1) * (xmax - xmin + 1) / 2, (scale - 1) * (ymax - ymin + 1) / 2
    return (max(1, math.floor(xmin - grow_x)), max(1, math.floor(ymin - grow_y)),
            min(width, math.ceil(xmax + grow_x)), min(height, math.ceil(ymax + grow_y)))


def voc12_action(root: Path, config=None) -> tuple:
    """One sample per person with <actions> in the images of ImageSets/Action/<set>.txt: the person's box
    with some context (`PERSON_CONTEXT`) as the region to classify, and per action 1 (flagged) or -1.
    Trains on train, scores on val."""
    voc = year_folder(root, 2012, ("JPEGImages", "Annotations", "ImageSets/Action"), "voc12-action")
    splits = []
    for split in ("train", "val"):
        files, targets, ids, regions = [], [], [], []
        for image_id in image_ids(voc / "ImageSets" / "Action" / f"{split}.txt"):
            annotation = read_annotation(voc / "Annotations" / f"{image_id}.xml")
            for person in annotation.objects:
                if person.actions is None:
                    continue
                files.append(voc / "JPEGImages" / f"{image_id}.jpg")
                targets.append([1 if action in person.actions else -1 for action in ACTIONS])
                ids.append(f"{image_id}/{person.number}")
                regions.append(with_context(person.box, annotation.width, annotation.height))
        if not files:
            raise TrainError(f"The images of {voc / 'ImageSets' / 'Action' / split}.txt hold no person with <actions>.")
        splits.append(Split(files, targets, ids, regions))
    return ACTIONS, splits[0], splits[1], {"region": f"the person box grown {PERSON_CONTEXT}x about its centre, clipped to the image"}
