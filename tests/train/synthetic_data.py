"""A small synthetic ImageNet for the tests (the demo's world is `train/world.py`'s, and so is the drawing): real
ILSVRC-2012 wnids, drawn images, and the label sets and tables curate makes of them.

Twelve classes: three toy dogs, three domestic cats, three finches, three trucks. The coarse class is
visible as a shape (toy dog = circle, cat = triangle, finch = square, truck = cross), the fine class as a
texture of the shape (solid, stripes, checks); colour and position are random nuisances.
"""

from __future__ import annotations

from pathlib import Path

from curate.images.index import ImageIndex
from curate.labels.classlists import ClassList
from curate.labels.levels import nested, write_levels
from curate.labels.manifest import labels_hash, write_labels
from curate.labels.recipes import coarsen, identity
from curate.wordnet.snapshot import load_hierarchy

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


def curate_tables(out: Path, image_root: Path, classes: dict[str, tuple[str, str]] = PRETRAIN_CLASSES) -> dict[str, dict | Path]:
    """Curate fine and coarse label sets of the pretraining classes; index the images of each split; label
    each index with each label set: the tables training reads (what `curate images apply` writes), under
    OUT/manifests; and the two label sets as the levels of one level manifest (`levels`)."""
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
    # both label sets as the two levels of one hierarchy (`curate levels`), for a head per level
    write_levels(nested([("coarsen --lift 1", label_sets["coarse"]), ("identity", label_sets["fine"])]),
                 folder / "levels.parquet")
    tables = {"levels": folder / "levels.parquet"}
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
