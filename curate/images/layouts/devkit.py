"""ILSVRC-2012 validation labels as image-net.org and torchvision ship them: the devkit's
`data/ILSVRC2012_validation_ground_truth.txt` (line i holds the 1-based ILSVRC2012_ID of the class of
`ILSVRC2012_val_<i, 8 digits>.JPEG`, numbered as the `synsets` of the devkit's `data/meta.mat` number them:
not in wnid order) and torchvision's `meta.bin` (a torch.save of `(wnid_to_classes, val_wnids)`, val_wnids
naming the classes of the validation images in name order). Each is read as image stem -> wnid."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

from curate.errors import BadImages

META_MAT = "meta.mat"  # beside the ground truth, in the devkit's data/ folder
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a torch.save before torch 1.6


def is_ground_truth(text: str) -> bool:
    """Whether a labels file numbers classes, as the devkit's ground truth does, rather than naming them."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first.isdigit()


def val_image(number: int) -> str:
    """The stem of the `number`-th (from 1) ILSVRC-2012 validation image."""
    return f"ILSVRC2012_val_{number:08d}"


def ground_truth_labels(path: Path, text: str) -> dict[str, str]:
    """image stem -> wnid, from the devkit's ground truth and the meta.mat beside it."""
    wnids = devkit_classes(path.parent / META_MAT, path)
    labels = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip().isdigit() or int(line) not in wnids:
            raise BadImages(f"Line {number} of {path} is not an ILSVRC2012_ID of one of the {len(wnids)} classes of "
                            f"{META_MAT}: {line[:20]!r}.")
        labels[val_image(number)] = wnids[int(line)]
    return labels


def devkit_classes(meta: Path, labels: Path) -> dict[int, str]:
    """ILSVRC2012_ID -> wnid of the devkit's classes (its synsets without children)."""
    if not meta.is_file():
        raise BadImages(f"{labels} numbers classes by the ILSVRC2012_IDs of the devkit's {META_MAT}, and there is "
                        f"no {meta}: keep the devkit's data/ folder whole, or give torchvision's meta.bin.")
    try:
        from scipy.io import loadmat
    except ImportError:
        raise BadImages(f"Reading the devkit's {META_MAT} needs scipy, which is not installed: pip install scipy.") from None
    try:
        synsets = loadmat(meta, squeeze_me=True)["synsets"]
        return {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in synsets if int(s["num_children"]) == 0}
    except (ValueError, KeyError, IndexError, TypeError, OSError):
        raise BadImages(f"{meta} is not the devkit's {META_MAT}: no `synsets` with ILSVRC2012_ID, WNID and "
                        "num_children.") from None


class PlainData(pickle.Unpickler):
    """An unpickler of plain data (dicts, lists, tuples, strings, numbers) that runs no code from the file."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


def torchvision_labels(path: Path) -> dict[str, str]:
    """image stem -> wnid, from the val_wnids of torchvision's meta.bin (a torch.save, zipped since torch 1.6)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                data = archive.read(next(name for name in archive.namelist() if name.endswith("/data.pkl")))
            _, val_wnids = PlainData(io.BytesIO(data)).load()
        else:
            with open(path, "rb") as file:
                unpickler = PlainData(file)
                if unpickler.load() != TORCH_LEGACY_MAGIC:
                    raise ValueError("not a torch.save")
                unpickler.load(), unpickler.load()  # the protocol version, the system's sizes
                _, val_wnids = unpickler.load()
        return {val_image(number): str(wnid) for number, wnid in enumerate(val_wnids, start=1)}
    except OSError:
        raise BadImages(f"{path} cannot be read (permission denied?).") from None
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError, StopIteration, zipfile.BadZipFile):
        raise BadImages(f"{path} is not torchvision's ImageNet meta.bin (a torch.save of its classes and the "
                        "validation images' wnids).") from None
