"""Small synthetic PASCAL VOC datasets in the exact VOCdevkit layouts, for the tests and the benchmarks:
drawn shapes as objects, their tight boxes as the annotations.

    write_detection(root, {"trainval": 40, "test": 20}, seed=0)   -> root/VOCdevkit/VOC2007
    write_detection(root, {"train": 40, "val": 20}, year=2012)    -> root/VOCdevkit/VOC2012 (classification)
    write_action(root, {"train": 40, "val": 20}, seed=0)          -> root/VOCdevkit/VOC2012

Each class (or action) is one shape of one texture (`SHAPES`, `ACTION_SHAPES`); colour, size and
position are random. In detection images every object of size `difficult_below` px or less is marked
`difficult`, as VOC marks objects too small to be sure of. Person boxes of the action images sit among
distractor shapes, so that the box, not the whole image, tells the action.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from train.world import background, fill, finish, object_colour, shape_mask, texture_mask

SHAPES = {"aeroplane": ("circle", "solid"), "bicycle": ("triangle", "stripes"), "bird": ("square", "checks"),
          "boat": ("cross", "solid")}
ACTION_SHAPES = {"jumping": ("circle", "stripes"), "phoning": ("triangle", "solid"), "reading": ("square", "solid"),
                 "walking": ("diamond", "checks")}
DISTRACTOR = ("ring", "solid")


def paint(image: np.ndarray, shape: str, texture: str, cx: float, cy: float, r: float, rng: np.random.Generator):
    """Draw a textured shape of random colour centred at (cx, cy) with radius `r`; return its VOC box
    (xmin, ymin, xmax, ymax: 1-based inclusive pixels), or None when it covers no pixel."""
    height, width = image.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    mask = shape_mask(shape, xx - cx, yy - cy, r)
    fill(image, mask, texture_mask(texture, xx, yy, int(rng.integers(0, 6))), object_colour(rng))
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (int(cols[0]) + 1, int(rows[0]) + 1, int(cols[-1]) + 1, int(rows[-1]) + 1) if len(rows) else None


def place(rng: np.random.Generator, height: int, width: int, r: float, taken: list) -> tuple[float, float] | None:
    """A centre for a shape of radius `r` inside the image, apart from the shapes `taken` (centre, radius);
    None after 50 tries."""
    for _ in range(50):
        cx, cy = rng.uniform(r, width - r), rng.uniform(r, height - r)
        if all(np.hypot(cx - x, cy - y) > 1.1 * (r + q) for (x, y), q in taken):
            return cx, cy
    return None


def scene(rng: np.random.Generator, kinds: list[tuple[str, str]], sizes: tuple[int, int], radius: tuple[float, float]):
    """A random canvas with the shapes `kinds` on it, apart: (uint8 image, [VOC box or None per kind])."""
    height, width = (int(v) for v in rng.choice(sizes, size=2))
    image = background(rng, height, width)
    taken, boxes = [], []
    for shape, texture in kinds:
        r = rng.uniform(*radius)
        centre = place(rng, height, width, r, taken)
        if centre is None:
            boxes.append(None)
            continue
        taken.append((centre, r))
        boxes.append(paint(image, shape, texture, *centre, r, rng))
    return finish(image, rng), boxes


def xml_object(name: str, box, difficult: bool, actions: dict[str, int] | None = None) -> str:
    flags = "" if actions is None else "<actions>" + "".join(f"<{a}>{v}</{a}>" for a, v in actions.items()) + "</actions>"
    xmin, ymin, xmax, ymax = box
    return (f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
            f"<difficult>{int(difficult)}</difficult>{flags}<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
            f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>")


def write_image(voc: Path, image_id: str, image: np.ndarray, objects: list[str]) -> None:
    Image.fromarray(image).save(voc / "JPEGImages" / f"{image_id}.jpg", quality=95)
    height, width = image.shape[:2]
    (voc / "Annotations" / f"{image_id}.xml").write_text(
        f"<annotation><folder>{voc.name}</folder><filename>{image_id}.jpg</filename><size><width>{width}</width>"
        f"<height>{height}</height><depth>3</depth></size><segmented>0</segmented>{''.join(objects)}</annotation>\n")


def make_folders(voc: Path, sets: str) -> None:
    for part in ("JPEGImages", "Annotations", f"ImageSets/{sets}"):
        (voc / part).mkdir(parents=True, exist_ok=True)


def write_detection(root: Path, counts: dict[str, int], seed: int = 0, size: int = 96, year: int = 2007, map=None) -> Path:
    """VOCdevkit/VOC<year> under `root`: per set, `counts[set]` images (sides of `size` or 4/3 of it) of one
    to three objects of the classes of `SHAPES`; ImageSets/Main/<set>.txt and <class>_<set>.txt (1, -1,
    or 0 for an image whose objects of the class are all difficult). Objects of a side under 15% of
    `size` are difficult. VOC 2012's ids name a year (2008_000001), as its own do; its classification
    sets are train and val (`write_detection(root, {"train": 40, "val": 20}, year=2012)`). The images are
    drawn in turn from one generator; given `map` (a process pool's, for the benchmarks' large images), each
    from its own seed instead: other images, drawn on every core."""
    from train.tasks.voc import VOC_CLASSES

    voc = root / "VOCdevkit" / f"VOC{year}"
    make_folders(voc, "Main")
    rng, first = np.random.default_rng(seed), 1
    for split, count in counts.items():
        numbers = range(first, first + count)
        drawn = ([detection_image(voc, size, year, number, rng) for number in numbers] if map is None
                 else list(map(functools.partial(detection_image, voc, size, year, seed=seed), numbers)))
        first += count
        for name in VOC_CLASSES:
            lines = [f"{image_id} {presence.get(name, -1):2d}\n" for image_id, presence in drawn]
            (voc / "ImageSets" / "Main" / f"{name}_{split}.txt").write_text("".join(lines))
        (voc / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{image_id}\n" for image_id, _ in drawn))
    return voc


def detection_image(voc: Path, size: int, year: int, number: int, rng: np.random.Generator | None = None,
                    seed: int = 0) -> tuple[str, dict[str, int]]:
    """Draw image `number` of `write_detection` from `rng` (None: its own, of `seed` and `number`) and write it;
    its id, and per class it shows 1 (0: only difficult objects)."""
    rng = rng or np.random.default_rng([seed, number])
    image_id = f"{number:06d}" if year == 2007 else f"2008_{number:06d}"
    names = list(rng.choice(list(SHAPES), size=int(rng.integers(1, 4))))
    image, boxes = scene(rng, [SHAPES[name] for name in names], (size, size * 4 // 3), (size / 12, size / 3.7))
    objects, presence = [], {}
    for name, box in zip(names, boxes):
        if box is None:
            continue
        difficult = min(box[2] - box[0], box[3] - box[1]) + 1 < 0.15 * size
        objects.append(xml_object(name, box, difficult))
        presence[name] = max(presence.get(name, 0), 0 if difficult else 1)
    write_image(voc, image_id, image, objects)
    return image_id, presence


def write_action(root: Path, counts: dict[str, int], seed: int = 0, size: int = 96) -> Path:
    """VOCdevkit/VOC2012 under `root`: per set, `counts[set]` images (sides of `size` or 4/3 of it) of one
    or two persons (each doing one action of `ACTION_SHAPES`, drawn as its shape) among distractors;
    ImageSets/Action/<set>.txt."""
    from train.tasks.voc import ACTIONS

    voc = root / "VOCdevkit" / "VOC2012"
    make_folders(voc, "Action")
    rng = np.random.default_rng(seed)
    number = 0
    for split, count in counts.items():
        ids = []
        for _ in range(count):
            number += 1
            image_id = f"2012_{number:06d}"
            actions = list(rng.choice(list(ACTION_SHAPES), size=int(rng.integers(1, 3))))
            kinds = [ACTION_SHAPES[a] for a in actions] + [DISTRACTOR] * int(rng.integers(0, 3))
            image, boxes = scene(rng, kinds, (size, size * 4 // 3), (size / 8, size / 4))
            objects = [xml_object("person", box, False, {a: int(a == action) for a in ACTIONS})
                       for action, box in zip(actions, boxes) if box is not None]
            if not objects:
                continue
            write_image(voc, image_id, image, objects)
            ids.append(image_id)
        (voc / "ImageSets" / "Action" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    return voc
