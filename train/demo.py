"""`python -m train demo`: the whole story on a CPU in a few minutes, with no downloads.

1. Draw a small synthetic image set in ImageNet layout (train/<wnid>/, val/<wnid>/) whose 12 classes are
   real ILSVRC-2012 wnids: three toy dogs, three domestic cats, three finches, three trucks. The coarse
   class is visible as a shape (toy dog = circle, cat = triangle, finch = square, truck = cross), the fine
   class as a texture of the shape (solid, stripes, checks); colour and position are random nuisances.
2. Curate two label sets of those classes with curate's own recipes: fine (down-up at a depth below every
   class: 12 labels) and coarse (up-down, one lift: curate groups them as toy dog, domestic cat, finch,
   truck: 4 labels); index the images and join them into training tables.
3. Pretrain the same small CNN on fine and on coarse labels; score each, and an untrained net, by k-NN
   top-1 on the fine labels (does coarse training learn fine distinctions?) and by a linear probe on a
   held-out task: four fruit classes drawn as new shapes (ring, diamond) in two textures.
4. Print a results table, write results.json (one entry per variant) and results.png.
"""

from __future__ import annotations

import colorsys
import sys
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from curate.fileio import atomic_path
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
    raise ValueError(texture)


def draw(shape: str, texture: str, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """One image: a textured shape of random colour, size and position on a noisy background."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = rng.uniform(0.28, 0.42) * size
    cx, cy = rng.uniform(r * 0.9, size - r * 0.9, size=2)
    mask = shape_mask(shape, xx - cx, yy - cy, r)
    colour = np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0))) * 255
    background = np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0, 0.5), rng.uniform(0.1, 0.45))) * 255
    image = np.broadcast_to(background, (size, size, 3)).copy()
    lit = texture_mask(texture, xx, yy, int(rng.integers(0, 6)))
    image[mask & lit] = colour
    image[mask & ~lit] = colour * 0.3
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


def build_tables(out: Path, image_root: Path, classes: dict[str, tuple[str, str]] = PRETRAIN_CLASSES) -> dict[str, dict]:
    """Curate fine and coarse label sets of the pretraining classes; index the images of each split; join
    each label set with each index into the tables training reads (what `curate images apply` writes)."""
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
        info = {"labels": labels_path, "classes": labels.label_count, "recipe": labels.describe(),
                "labels_hash": labels_hash(labels),
                "groups": {lw: [r.name for r in rows] for lw, rows in labels.members().items()}}
        for split, index in indexes.items():
            info[f"{split}_table"] = folder / f"{name}-{split}.parquet"
            index.label(labels).write(info[f"{split}_table"])
        tables[name] = info
    return tables


def main(args) -> dict:
    from rich.console import Console

    from train.__main__ import build_parser
    from train.evaluate import knn_score, main as evaluate_main
    from train.pretrain import main as pretrain_main
    from train.transfer import main as finetune_main
    from train import distributed
    from train.data import load_tables
    from train.models import backbone, build_model

    console = Console(stderr=True, quiet=args.quiet, width=None if sys.stderr.isatty() else 120)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    parser = build_parser()
    started = time.perf_counter()
    torch.manual_seed(args.seed)

    console.print(f"[bold]1.[/] drawing the synthetic image sets under {out / 'data'}")
    image_root, transfer_root = out / "data" / "imagenet", out / "data" / "transfer"
    make_images(image_root, PRETRAIN_CLASSES, {"train": 60, "val": 20}, args.seed)
    make_images(transfer_root, TRANSFER_CLASSES, {"train": 25, "val": 25}, args.seed + 1)

    console.print("[bold]2.[/] curating label sets with curate.recipes.coarsen and joining them with the image index")
    tables = build_tables(out, image_root)
    for name, info in tables.items():
        console.print(f"   {name}: {info['recipe']} -> {info['classes']} labels "
                      f"({'; '.join(f'{wnid}: ' + ', '.join(n) for wnid, n in info['groups'].items()) if name == 'coarse' else 'one per class'})")

    sizes = ["--train-crop-size", str(SIZE), "--val-resize-size", str(SIZE), "--val-crop-size", str(SIZE), "--min-scale", "0.35"]
    common = ["--device", "cpu", "-j", "0", "-b", "32", "--seed", str(args.seed), "-q"]
    variants = []
    fine = tables["fine"]

    # The untrained baseline: same network, no pretraining.
    console.print("[bold]3.[/] scoring an untrained network (the baseline)")
    eval_args = parser.parse_args(["evaluate", "--checkpoint", "-", "--table", str(fine["train_table"]), "--val-table",
                                   str(fine["val_table"]), "--device", "cpu", "-j", "0", "-q", *sizes])
    torch.manual_seed(args.seed)
    untrained = backbone(build_model("tiny", fine["classes"]), "tiny")
    knn = knn_score(untrained, *load_tables(eval_args), fine["labels"], distributed.setup("cpu"), eval_args)
    probe = finetune_main(parser.parse_args(["finetune", "--random-init", "--model", "tiny", "--task", "imagefolder",
                                             "--data", str(transfer_root), "--mode", "linear", "--epochs", "15",
                                             "--lr", "0.1", "--lr-scheduler", "cosine", "--output-dir",
                                             str(out / "runs" / "random-probe"), *common, *sizes]))
    variants.append({"variant": "random init", "pretrain_labels": None, "pretrain_classes": None,
                     "knn_fine_top1": knn["knn_top1"], "transfer_linear_top1": probe["test_top1"]})

    for step, name in ((4, "fine"), (5, "coarse")):
        info = tables[name]
        console.print(f"[bold]{step}.[/] pretraining on {name} labels ({info['classes']} classes, {args.epochs} epochs)")
        run_dir = out / "runs" / f"pretrain-{name}"
        pretrained = pretrain_main(parser.parse_args(
            ["pretrain", "--table", str(info["train_table"]), "--val-table", str(info["val_table"]), "--model", "tiny",
             "--epochs", str(args.epochs), "--lr", "0.05", "--wd", "5e-4", "--lr-scheduler", "cosine",
             "--output-dir", str(run_dir), *common, *sizes]))
        checkpoint = run_dir / "checkpoint.pt"
        scores = evaluate_main(parser.parse_args(
            ["evaluate", "--checkpoint", str(checkpoint), "--table", str(info["train_table"]), "--val-table",
             str(info["val_table"]), "--knn-labels", str(fine["labels"]), "--device", "cpu", "-j", "0", "-q", *sizes]))
        probe = finetune_main(parser.parse_args(
            ["finetune", "--checkpoint", str(checkpoint), "--task", "imagefolder", "--data", str(transfer_root),
             "--mode", "linear", "--epochs", "15", "--lr", "0.1", "--lr-scheduler", "cosine",
             "--output-dir", str(out / "runs" / f"probe-{name}"), *common, *sizes]))
        variants.append({"variant": f"pretrained on {name}", "pretrain_labels": info["recipe"],
                         "pretrain_classes": info["classes"], "labels_hash": info["labels_hash"],
                         "pretrain_val_top1": scores["top1"], "pretrain_val_top5": scores["top5"],
                         "pretrain_train_loss": pretrained["train_loss"],
                         "knn_fine_top1": scores["knn_top1"], "transfer_linear_top1": probe["test_top1"]})
        console.print(f"   val top-1 {scores['top1']:.1f}% on its {info['classes']} labels, "
                      f"k-NN top-1 on fine labels {scores['knn_top1']:.1f}%, linear probe {probe['test_top1']:.1f}%")

    results = {
        "dataset": {"image_size": SIZE, "pretrain_classes": len(PRETRAIN_CLASSES), "train_per_class": 60,
                    "val_per_class": 20, "transfer_classes": len(TRANSFER_CLASSES), "transfer_per_class": {"train": 25, "val": 25}},
        "chance": {"knn_fine_top1": 100 / len(PRETRAIN_CLASSES), "transfer_linear_top1": 100 / len(TRANSFER_CLASSES),
                   "pretrain_val_top1": {name: 100 / info["classes"] for name, info in tables.items()}},
        "model": "tiny", "epochs": args.epochs, "seed": args.seed,
        "variants": variants,
        "minutes": (time.perf_counter() - started) / 60,
    }
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out / "results.png")
    show(results, console)
    return {"results": str(out / "results.json"), "plot": str(out / "results.png")}


def show(results: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"demo: {results['model']} CNN, {results['epochs']} epochs, {results['minutes']:.1f} min on CPU")
    for column in ("variant", "pretrained on", "val top-1 (own labels)", "k-NN top-1 (fine labels)", "linear probe top-1 (held-out task)"):
        table.add_column(column, justify="left" if column in ("variant", "pretrained on") else "right")
    for v in results["variants"]:
        own = f"{v['pretrain_val_top1']:.1f}%" if "pretrain_val_top1" in v else "-"
        labels = f"{v['pretrain_labels']} ({v['pretrain_classes']} labels)" if v["pretrain_labels"] else "-"
        table.add_row(v["variant"], labels, own, f"{v['knn_fine_top1']:.1f}%", f"{v['transfer_linear_top1']:.1f}%")
    chance = results["chance"]
    table.add_row("chance", "", " / ".join(f"{x:.0f}%" for x in chance["pretrain_val_top1"].values()),
                  f"{chance['knn_fine_top1']:.1f}%", f"{chance['transfer_linear_top1']:.1f}%", style="dim")
    console.print(table)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [("knn_fine_top1", "k-NN top-1 on fine labels"), ("transfer_linear_top1", "linear probe, held-out task")]
    variants = results["variants"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(9, 3.6), sharey=True)
    for ax, (key, title) in zip(axes, metrics):
        values = [v[key] for v in variants]
        ax.bar(range(len(values)), values, color=["#999999", "#1f77b4", "#ff7f0e"][: len(values)])
        ax.axhline(results["chance"][key], color="black", linestyle=":", linewidth=1, label="chance")
        ax.set_xticks(range(len(values)), [v["variant"].replace("pretrained on ", "") for v in variants])
        ax.set_title(title, fontsize=10)
        for i, value in enumerate(values):
            ax.text(i, value + 1, f"{value:.0f}", ha="center", fontsize=9)
    axes[0].set_ylabel("top-1 (%)")
    axes[0].set_ylim(0, 105)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Pretraining on fine vs coarse labels (synthetic demo)", fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
