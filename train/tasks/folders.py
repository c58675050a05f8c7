"""The ImageFolder task: `root`/train/<class>/<image> and `root`/val/<class>/<image> (or test/)."""

from __future__ import annotations

from pathlib import Path

from train.errors import TrainError
from train.tasks import Split

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def imagefolder(root: Path, config=None) -> tuple:
    """Classes in sorted order, named by the training split's folders; top-1."""
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
        result.append(Split(files, targets, [str(f.relative_to(split)) for f in files]))
    return classes, result[0], result[1], {}
