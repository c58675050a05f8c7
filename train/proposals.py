"""Object proposals for Fast R-CNN (`finetune --task voc07-det --detector fast-rcnn --proposals PATH`): read
them, or compute them (`python -m train proposals`).

Either source gives the same thing: image id -> its boxes (n, 4) in VOC's convention (xmin, ymin, xmax, ymax,
1-based inclusive pixels, as the annotations), in the order the source ranks them.
  a folder holding voc_2007_trainval.mat and voc_2007_test.mat: the selective-search boxes Fast R-CNN
      distributes (its data/selective_search_data, read as fast-rcnn's `_load_selective_search_roidb` reads
      them): MATLAB files whose cell array `boxes` holds an array of (y1, x1, y2, x2) rows per image, 1-based,
      and whose cell array `images` holds the image ids in the same order;
  a Parquet file written here: one row per image, its path under the VOC folder (JPEGImages/<id>.jpg) and its
      boxes flattened (xmin, ymin, xmax, ymax, ...), from OpenCV's selective search in its fast mode, computed
      on every core; rewritten (whole, atomically) every SAVE_EVERY images, so an interrupted run goes on.
Both need a library `train` does not depend on, imported only here and only when used: scipy for the .mat
files, opencv-contrib-python-headless (its cv2.ximgproc) to compute.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.fileio import atomic_path, check_writable
from curate.progress import progress_bar
from curate.workers import in_processes
from train.errors import TrainError
from train.tasks import TASK, Split

MAT_FILES = ("voc_2007_trainval.mat", "voc_2007_test.mat")  # fast-rcnn's names for VOC 2007's two sets
SCHEMA = pa.schema([("path", pa.string()), ("boxes", pa.list_(pa.int32()))])
KIND = {b"curate.kind": b"proposals",
        b"curate.method": b"OpenCV selective search, fast mode (cv2.ximgproc.segmentation, switchToSelectiveSearchFast)"}
SAVE_EVERY = 500  # images computed between two writes of the file


def read_proposals(source: Path, splits: dict[str, Split]) -> dict[str, np.ndarray]:
    """The proposals of `source` for every image of `splits` (a name as sentences call it -> the split), each
    image's checked against its annotation: there, not empty, inside the image."""
    source = Path(source)
    if source.is_dir():
        found = {}
        for name in MAT_FILES:
            if not (source / name).is_file():
                raise TrainError(f"{source} lacks {name}: a folder of proposals holds Fast R-CNN's {' and '.join(MAT_FILES)} "
                                 "(its data/selective_search_data).")
            found.update(read_mat(source / name))
    elif source.is_file():
        found = read_cache(source)
    else:
        raise TrainError(f"`proposals` {source} does not exist.")
    for name, split in splits.items():
        check(found, name, split, source)
    return found


def read_mat(path: Path) -> dict[str, np.ndarray]:
    """One of Fast R-CNN's .mat files: image id -> its boxes turned from (y1, x1, y2, x2) to VOC's order."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise TrainError(f"Reading {path} needs scipy (pip install scipy), or compute proposals with "
                         "`python -m train proposals` instead.") from None
    try:
        data = loadmat(str(path))
    except Exception as error:  # scipy raises many types for a file that is not MATLAB's
        raise TrainError(f"{path} is not a MATLAB file scipy can read ({error}).") from None
    if "boxes" not in data or "images" not in data:
        raise TrainError(f"{path} lacks the cell arrays `boxes` and `images` of Fast R-CNN's selective-search files.")
    boxes, images = data["boxes"].ravel(), data["images"].ravel()
    if len(boxes) != len(images):
        raise TrainError(f"{path} holds {len(boxes)} arrays of `boxes` for {len(images)} `images`.")
    return {str(np.asarray(image).ravel()[0]): np.asarray(rows, dtype=np.float32).reshape(-1, 4)[:, [1, 0, 3, 2]]
            for image, rows in zip(images, boxes)}


def read_cache(path: Path) -> dict[str, np.ndarray]:
    """A Parquet file of `python -m train proposals`: image id (its file name's stem) -> its boxes."""
    return {Path(name).stem: boxes for name, boxes in cache_rows(path).items()}


def cache_rows(path: Path) -> dict[str, np.ndarray]:
    """The rows of a Parquet file of proposals: image path under the VOC folder -> its boxes."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError):
        table = None
    if table is None or (table.schema.metadata or {}).get(b"curate.kind") != KIND[b"curate.kind"]:
        raise TrainError(f"{path} is neither a folder of Fast R-CNN's .mat files nor a Parquet file of "
                         "`python -m train proposals`.")
    boxes = table.column("boxes").combine_chunks()
    offsets, values = boxes.offsets.to_numpy(), boxes.values.to_numpy().astype(np.float32)
    return {name: values[start:end].reshape(-1, 4)
            for name, start, end in zip(table.column("path").to_pylist(), offsets[:-1], offsets[1:])}


def check(found: dict[str, np.ndarray], name: str, split: Split, source: Path) -> None:
    """One sentence for the first image of `split` whose proposals in `found` are missing, empty or outside it."""
    for image_id, annotation in zip(split.ids, split.targets):
        boxes = found.get(image_id)
        if boxes is None:
            raise TrainError(f"{source} has no proposals for image {image_id} of the {name} set: it was made for other "
                             "images; compute these images' own with `python -m train proposals`.")
        if not len(boxes):
            raise TrainError(f"{source} gives image {image_id} no proposals, and Fast R-CNN detects only in proposals: "
                             "compute them again with `python -m train proposals`.")
        xmin, ymin, xmax, ymax = boxes.T
        outside = ~((1 <= xmin) & (xmin <= xmax) & (xmax <= annotation.width)
                    & (1 <= ymin) & (ymin <= ymax) & (ymax <= annotation.height))
        if outside.any():
            k = int(np.flatnonzero(outside)[0])
            raise TrainError(f"{source}: proposal {k + 1} of image {image_id}, ({', '.join(f'{v:g}' for v in boxes[k])}), "
                             f"lies outside its {annotation.width}x{annotation.height} image (boxes are 1-based pixels, "
                             "1 <= xmin <= xmax <= width): it was made for another image; compute these images' own "
                             "with `python -m train proposals`.")


def fingerprint(found: dict[str, np.ndarray]) -> str:
    """A hash of every image's proposals: a resumed run checks it detects in the same ones."""
    digest = hashlib.sha256()
    for image_id in sorted(found):
        digest.update(image_id.encode() + b"\0" + np.ascontiguousarray(found[image_id], dtype=np.float32).tobytes())
    return "sha256:" + digest.hexdigest()


# --- computing them -------------------------------------------------------------------------------------------

def opencv():
    """cv2 with its contrib modules, or one sentence saying how to get it."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is None or not hasattr(cv2, "ximgproc"):
        raise TrainError("Computing proposals needs OpenCV's selective search (cv2.ximgproc): pip install "
                         "opencv-contrib-python-headless, or give `proposals` Fast R-CNN's selective_search_data folder.")
    return cv2


def selective_search(path: Path) -> np.ndarray:
    """OpenCV's selective search of one image in its fast mode, on one thread: VOC boxes, in its order."""
    cv2 = opencv()
    cv2.setNumThreads(1)
    image = cv2.imread(str(path))
    if image is None:
        raise TrainError(f"{path} cannot be read as an image.")
    search = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(image)
    search.switchToSelectiveSearchFast()
    x, y, width, height = np.asarray(search.process(), dtype=np.int64).reshape(-1, 4).T  # 0-based x, y, w, h
    return np.stack([x + 1, y + 1, x + width, y + height], axis=1)


def write_cache(path: Path, rows: dict[str, np.ndarray]) -> None:
    """The Parquet file of proposals: image path (under the VOC folder) -> VOC boxes; sorted by path, whole."""
    names = sorted(rows)
    table = pa.table({"path": names, "boxes": [np.asarray(rows[n], dtype=np.int32).ravel() for n in names]}, schema=SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(KIND), tmp, compression="zstd")


def compute(data: Path, output: Path, workers: int | None = None, propose=selective_search, quiet: bool = False) -> dict:
    """`propose` (path -> VOC boxes) for every trainval and test image of the VOC 2007 under `data` that
    `output` does not hold yet, on `workers` processes (every core), into `output`; what was done."""
    if propose is selective_search:
        opencv()  # before any work
    check_writable(Path(output))
    task = TASK["voc07-det"].load(data, None)
    files = list(dict.fromkeys(task.train.files + task.test.files))
    rows = cache_rows(output) if Path(output).exists() else {}
    todo = [file for file in files if under_voc(file) not in rows]
    with progress_bar(enabled=not quiet) as progress:
        advance = progress("Selective search", len(todo))
        for n, (file, boxes) in enumerate(in_processes(propose, todo, workers or os.cpu_count() or 1), 1):
            rows[under_voc(file)] = boxes
            advance()
            if n % SAVE_EVERY == 0 or n == len(todo):
                write_cache(output, rows)
    counts = [len(rows[under_voc(file)]) for file in files]
    return {"output": str(output), "images": len(files), "computed": len(todo), "kept": len(files) - len(todo),
            "proposals_per_image": float(np.mean(counts))}


def under_voc(file: Path) -> str:
    """An image's path under its VOC folder: JPEGImages/<id>.jpg."""
    return f"{file.parent.name}/{file.name}"


def run(config, given=None) -> dict:
    """`python -m train proposals`."""
    return compute(config.data, config.output, config.workers, quiet=config.quiet)
