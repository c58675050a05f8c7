"""A small synthetic ImageNet for the tests (the demo's world is `worlds.py`'s): real ILSVRC-2012 wnids, drawn images, and the
label sets and tables curate makes of them.

Twelve classes: three toy dogs, three domestic cats, three finches, three trucks. The coarse class is
visible as a shape (toy dog = circle, cat = triangle, finch = square, truck = cross), the fine class as a
texture of the shape (solid, stripes, checks); colour and position are random nuisances. The held-out
transfer task: four fruit classes drawn as new shapes (ring, diamond) in two textures.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image

from curate.images.index import ImageIndex
from curate.labels.classlists import ClassList
from curate.labels.manifest import labels_hash, write_labels
from curate.labels.recipes import coarsen, identity
from curate.wordnet.snapshot import load_hierarchy

SIZE = 32
# wnid -> (shape, texture). Coarse groups by shape; fine classes by texture within a group.
PRETRAIN_CLASSES = {
    "n02085620": ("circle", "solid"),     # Chihuahua          } toy dog
    "n02085782": ("circle", "stripes"),   # Japanese spaniel   }
    "n02085936": ("circle", "checks"),    # Maltese dog        }
    "n02123045": ("triangle", "solid"),   # tabby              } domestic cat
    "n02123159": ("triangle", "stripes"), # tiger cat          }
    "n02123394": ("triangle", "checks"),  # Persian cat        }
    "n01530575": ("square", "solid"),     # brambling          } finch
    "n01531178": ("square", "stripes"),   # goldfinch          }
    "n01532829": ("square", "checks"),    # house finch        }
    "n03417042": ("cross", "solid"),      # garbage truck      } truck
    "n03796401": ("cross", "stripes"),    # moving van         }
    "n04467665": ("cross", "checks"),     # trailer truck      }
}
# The held-out task: new shapes, known textures.
TRANSFER_CLASSES = {
    "n07747607": ("ring", "solid"),       # orange
    "n07749582": ("diamond", "solid"),    # lemon
    "n07753592": ("ring", "stripes"),     # banana
    "n07742313": ("diamond", "stripes"),  # Granny Smith
}


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


def curate_tables(out: Path, image_root: Path, classes: dict[str, tuple[str, str]] = PRETRAIN_CLASSES) -> dict[str, dict]:
    """Curate fine and coarse label sets of the pretraining classes; index the images of each split; label
    each index with each label set: the tables training reads (what `curate images apply` writes), under
    OUT/manifests."""
    hierarchy = load_hierarchy()
    base = ClassList(f"demo-{len(classes)}", tuple(sorted(classes)))
    label_sets = {
        "fine": identity(hierarchy, base),  # each class is its own label
        "coarse": coarsen(hierarchy.tree(), base, lift=1),  # the paper's top-down cut, one lift
    }
    folder = out / "manifests"
    folder.mkdir(parents=True, exist_ok=True)
    indexes = {}
    for split in ("train", "val"):
        indexes[split] = ImageIndex.build(image_root / split, split=split)
        indexes[split].write(folder / f"images-{split}.parquet")
    tables = {}
    for name, labels in label_sets.items():
        labels_path = folder / f"{name}.parquet"
        write_labels(labels, labels_path)
        info = {"labels": labels_path, "label_count": labels.label_count, "recipe": labels.describe(),
                "labels_hash": labels_hash(labels),
                "groups": {lw: [r.name for r in rows] for lw, rows in labels.members().items()}}
        for split, index in indexes.items():
            info[f"{split}_table"] = folder / f"{name}-{split}.parquet"
            index.label(labels).write(info[f"{split}_table"])
        tables[name] = info
    return tables
