"""The demo's synthetic world ("factors"): images composed of two visual factors, a shape (circle, triangle,
square, cross) and a texture (solid, stripes, checks, dots), colour and position random, in ImageNet's class
folder layout; and the drawing the tests' synthetic data shares.

The twelve pretraining classes are real ILSVRC wnids, so curate's recipes group them as WordNet does: three toy
dogs, three domestic cats, three finches, three trucks (`coarsen --lift 1`). Each fine class is one
shape-texture combination; which combinations a coarse label merges is the world's grouping (GROUPINGS):
"shared-shape", as WordNet groups ImageNet (118 dog breeds become "dog"), gives each coarse label one shape in
three textures, so coarse labels never ask for texture and the fine classes of a group differ only in it;
"no-shared-factor" gives each three combinations that share neither shape nor texture, so coarse training
must separate classes that differ in one factor. The transfer task classifies the four combinations no
pretraining class has under either grouping, (s, s): known factors, new combinations, any two of them apart
in both factors, so either factor alone solves it.
"""

from __future__ import annotations

import colorsys
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 32
SHAPES = ("circle", "triangle", "square", "cross")
TEXTURES = ("solid", "stripes", "checks", "dots")
# WordNet's coarse groups of the twelve classes (`coarsen --lift 1` finds them), in the order g = 0..3.
GROUPS = (("n02085620", "n02085782", "n02085936"),  # Chihuahua, Japanese spaniel, Maltese dog: toy dog
          ("n02123045", "n02123159", "n02123394"),  # tabby, tiger cat, Persian cat: domestic cat
          ("n01530575", "n01531178", "n01532829"),  # brambling, goldfinch, house finch: finch
          ("n03417042", "n03796401", "n04467665"))  # garbage truck, moving van, trailer truck: truck
CLASSES = tuple(sorted(wnid for group in GROUPS for wnid in group))
# Each grouping: the (shape, texture) of group g's three classes, as steps from (g, g), mod 4; none is (s, s).
GROUPINGS = {"shared-shape": ((0, 1), (0, 2), (0, 3)), "no-shared-factor": ((0, 1), (1, 3), (3, 2))}
DEFAULT_GROUPING = "shared-shape"
NEW_COMBINATIONS = {wnid: (SHAPES[s], TEXTURES[s]) for s, wnid in  # orange, lemon, banana, Granny Smith
                    enumerate(("n07747607", "n07749582", "n07753592", "n07742313"))}


def factor_classes(grouping: str) -> dict[str, tuple[str, str]]:
    """Each pretraining class (wnid) and its (shape, texture) under `grouping`."""
    return {wnid: (SHAPES[(g + s) % 4], TEXTURES[(g + t) % 4])
            for g, group in enumerate(GROUPS) for wnid, (s, t) in zip(group, GROUPINGS[grouping])}


def draw_world(folder: Path, train_per_class: int, val_per_class: int, seed: int, grouping: str) -> None:
    """The world under `grouping` into `folder` (imagenet/{train,val}/<wnid>/ and the transfer task's
    transfer/{train,val}/), drawn in a sibling folder and renamed into place when whole."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    make_images(partial / "imagenet", factor_classes(grouping), {"train": train_per_class, "val": val_per_class}, seed)
    # few training images: a linear probe on them shows how far the features carry a new combination
    make_images(partial / "transfer", NEW_COMBINATIONS, {"train": 5, "val": 40}, seed + 1)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def shape_mask(shape: str, x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    """Boolean mask of `shape` of radius `r` centred at the origin of the coordinates x, y."""
    ax, ay = np.abs(x), np.abs(y)
    if shape == "circle":
        return x**2 + y**2 <= r**2
    if shape == "ring":
        return (x**2 + y**2 <= r**2) & (x**2 + y**2 >= (0.55 * r) ** 2)
    if shape == "square":
        return (ax <= 0.8 * r) & (ay <= 0.8 * r)
    if shape == "diamond":
        return ax + ay <= r
    if shape == "triangle":
        return (y <= 0.7 * r) & (ax <= (y + r) / 1.7)
    if shape == "cross":
        return ((ax <= 0.3 * r) & (ay <= r)) | ((ay <= 0.3 * r) & (ax <= r))
    raise ValueError(shape)


def texture_mask(texture: str, x: np.ndarray, y: np.ndarray, phase: int) -> np.ndarray:
    """Where the shape shows its main colour (elsewhere a dark shade of it)."""
    if texture == "solid":
        return np.ones_like(x, dtype=bool)
    if texture == "stripes":
        return ((y.astype(int) + phase) // 3) % 2 == 0
    if texture == "checks":
        return (((x.astype(int) + phase) // 3) + ((y.astype(int) + phase) // 3)) % 2 == 0
    if texture == "dots":
        return (((x.astype(int) + phase) % 4) < 2) & (((y.astype(int) + phase) % 4) < 2)
    raise ValueError(texture)


def draw(shape: str, texture: str, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """One image: a textured shape of random colour, size and position on a noisy background."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = rng.uniform(0.28, 0.42) * size
    cx, cy = rng.uniform(r * 0.9, size - r * 0.9, size=2)
    mask = shape_mask(shape, xx - cx, yy - cy, r)
    colour = object_colour(rng)
    image = background(rng, size, size)
    fill(image, mask, texture_mask(texture, xx, yy, int(rng.integers(0, 6))), colour)
    return finish(image, rng)


def object_colour(rng: np.random.Generator) -> np.ndarray:
    """A random bright colour, RGB 0..255."""
    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0))) * 255


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A float canvas of one dull random colour."""
    colour = np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0, 0.5), rng.uniform(0.1, 0.45))) * 255
    return np.broadcast_to(colour, (height, width, 3)).copy()


def fill(image: np.ndarray, mask: np.ndarray, lit: np.ndarray, colour: np.ndarray) -> None:
    """Paint a shape's `mask` in `colour` where its texture is `lit`, in a dark shade of it elsewhere."""
    image[mask & lit] = colour
    image[mask & ~lit] = colour * 0.3


def finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The canvas with pixel noise, as uint8."""
    image += rng.normal(0, 10, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_images(root: Path, classes: dict[str, tuple[str, str]], per_split: dict[str, int], seed: int) -> None:
    """root/<split>/<wnid>/<wnid>_<n>.JPEG for every class, `per_split[split]` images each."""
    for split, count in per_split.items():
        for c, (wnid, (shape, texture)) in enumerate(sorted(classes.items())):
            rng = np.random.default_rng([seed, c, len(split), count])
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(count):
                Image.fromarray(draw(shape, texture, rng)).save(folder / f"{wnid}_{n}.JPEG", quality=95)
