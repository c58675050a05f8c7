"""The transfer tasks `finetune` trains on, each read from its standard layout into (train files, train
targets), (test files, test targets) and class names.

  imagefolder  train/ and val/ (or test/) class folders; top-1
  voc07-cls    PASCAL VOC 2007 classification, trainval -> test; mean AP by the VOC 2007 11-point rule,
               `difficult`-only images ignored per class
  sun397       SUN397 by its official Training_NN / Testing_NN partition files; top-1
"""

from __future__ import annotations

from pathlib import Path

from curate.labels.classlists import PASCAL_VOC
from train.errors import TrainError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
VOC_CLASSES = list(PASCAL_VOC)  # VOC's own order: aeroplane, bicycle, ..., tvmonitor
MULTILABEL = {"voc07-cls"}  # tasks whose targets are one -1/0/1 flag per class, scored by mean AP


def imagefolder_task(root: Path):
    """`root`/train/<class>/<image> and `root`/val/<class>/<image> (or test/); classes in sorted order."""
    splits = [root / "train", root / "val" if (root / "val").is_dir() else root / "test"]
    for split in splits:
        if not split.is_dir():
            raise TrainError(f"imagefolder needs {root}/train and {root}/val (or test) class folders; {split} is missing.")
    classes = sorted(p.name for p in splits[0].iterdir() if p.is_dir())
    if not classes:
        raise TrainError(f"{splits[0]} holds no class folders.")
    index = {name: i for i, name in enumerate(classes)}
    result = []
    for split in splits:
        files, targets = [], []
        for folder in sorted(p for p in split.iterdir() if p.is_dir()):
            if folder.name not in index:
                raise TrainError(f"{folder} is a class that {splits[0]} does not have.")
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(file)
                    targets.append(index[folder.name])
        if not files:
            raise TrainError(f"{split} holds no .jpg, .jpeg or .png images.")
        result.append((files, targets))
    return result[0], result[1], classes


def voc07_task(root: Path):
    """VOC 2007 trainval -> test from the standard VOCdevkit/VOC2007 layout.

    Ground truth per class comes from ImageSets/Main/<class>_<set>.txt: 1 present, -1 absent, 0 only
    `difficult` objects of that class (ignored by the metric and the loss).
    """
    candidates = (root / "VOCdevkit" / "VOC2007", root / "VOC2007", root)
    voc = next((p for p in candidates if (p / "ImageSets" / "Main").is_dir()), None)
    if voc is None:
        raise TrainError(f"{root} holds no VOCdevkit/VOC2007/ImageSets/Main: point --data at the folder holding VOCdevkit.")
    result = []
    for split in ("trainval", "test"):
        truth: dict[str, list[int]] = {}
        for c, name in enumerate(VOC_CLASSES):
            path = voc / "ImageSets" / "Main" / f"{name}_{split}.txt"
            if not path.is_file():
                raise TrainError(f"{path} is missing: VOC 2007 {split} needs its per-class image sets "
                                 "(the test set is a separate download, VOCtest_06-Nov-2007.tar).")
            for line in path.read_text().split("\n"):
                if line.strip():
                    image_id, value = line.split()
                    truth.setdefault(image_id, [-1] * len(VOC_CLASSES))[c] = int(value)
        ids = sorted(truth)
        result.append(([voc / "JPEGImages" / f"{i}.jpg" for i in ids], [truth[i] for i in ids]))
    return result[0], result[1], VOC_CLASSES


def sun397_task(root: Path, partition: int):
    """SUN397 by its official partition files Training_NN.txt / Testing_NN.txt (lines like /a/abbey/sun_x.jpg)."""
    if not 1 <= partition <= 10:
        raise TrainError(f"--partition must be 1..10 (SUN397 has ten official partitions), not {partition}.")
    candidates = (root / "Partitions", root / "SUN397" / "Partitions", root)
    parts = next((p for p in candidates if (p / "Training_01.txt").is_file()), None)
    images = next((p for p in (root / "SUN397", root) if (p / "a").is_dir()), None)
    if parts is None or images is None:
        raise TrainError(f"{root} lacks the SUN397 layout: SUN397/<letter>/<class>/ images and Partitions/Training_01.txt.")
    lists = [(parts / f"{kind}_{partition:02d}.txt").read_text().split() for kind in ("Training", "Testing")]
    names_file = parts / "ClassName.txt"
    classes = names_file.read_text().split() if names_file.is_file() else sorted({line.rsplit("/", 1)[0] for line in lists[0]})
    index = {name: i for i, name in enumerate(classes)}
    result = []
    for lines in lists:
        result.append(([images / line.lstrip("/") for line in lines], [index[line.rsplit("/", 1)[0]] for line in lines]))
    return result[0], result[1], classes


def load_task(task: str, data: Path, partition: int = 1):
    if task == "imagefolder":
        return imagefolder_task(data)
    if task == "voc07-cls":
        return voc07_task(data)
    return sun397_task(data, partition)
