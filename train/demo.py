"""`python -m train demo`: the whole story on a CPU in a few minutes, with no downloads.

1. Draw a small synthetic image set in ImageNet layout (`synthetic.py`: 12 real ILSVRC-2012 wnids, the
   coarse class a shape, the fine class its texture) and a held-out transfer task.
2. Curate two label sets of those classes with curate's own recipes: fine (identity: 12 labels) and coarse
   (up-down, one lift: curate groups them as toy dog, domestic cat, finch, truck: 4 labels); index the
   images and label them into the tables training reads.
3. Pretrain the same small CNN on fine and on coarse labels; score each, and an untrained net, by k-NN
   top-1 on the fine labels (does coarse training learn fine distinctions?) and by a linear probe on the
   held-out task.
4. Print a results table, write results.json (one entry per variant) and results.png.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from curate.fileio import atomic_path
from train import distributed, evaluate, finetune, pretrain
from train.config import DemoConfig, EvaluateConfig, FinetuneConfig, PretrainConfig, check
from train.output import check_folder, make_folder
from train.data.tables import load_tables
from train.models import backbone, build_model
from train.synthetic import PRETRAIN_CLASSES, SIZE, TRANSFER_CLASSES, curate_tables, make_images

SIZES = {"train_crop_size": SIZE, "val_resize_size": SIZE, "val_crop_size": SIZE, "min_scale": 0.35}
ON_CPU = {"device": "cpu", "workers": 0, "quiet": True}  # the loader in-process: tiny images decode in microseconds


def run(config: DemoConfig, given: frozenset[str] | None = None) -> dict:
    from rich.console import Console

    check(config)
    console = Console(stderr=True, quiet=config.quiet, width=None if sys.stderr.isatty() else 120)
    out = Path(config.output_dir)
    check_folder(out)
    make_folder(out)
    started = time.perf_counter()
    torch.manual_seed(config.seed)

    console.print(f"[bold]1.[/] drawing the synthetic image sets under {out / 'data'}")
    image_root, transfer_root = out / "data" / "imagenet", out / "data" / "transfer"
    make_images(image_root, PRETRAIN_CLASSES, {"train": 60, "val": 20}, config.seed)
    make_images(transfer_root, TRANSFER_CLASSES, {"train": 25, "val": 25}, config.seed + 1)

    console.print("[bold]2.[/] curating label sets with curate's recipes and labelling the image index with them")
    tables = curate_tables(out, image_root)
    for name, info in tables.items():
        groups = "; ".join(f"{wnid}: " + ", ".join(n) for wnid, n in info["groups"].items())
        console.print(f"   {name}: {info['recipe']} -> {info['label_count']} labels ({groups if name == 'coarse' else 'one per class'})")

    training = {**ON_CPU, **SIZES, "model": "tiny", "batch_size": 32, "seed": config.seed, "lr_scheduler": "cosine"}

    def probe(output_dir: Path, **start) -> dict:
        """A linear probe on the held-out task."""
        return finetune.run(FinetuneConfig(task="imagefolder", data=transfer_root, mode="linear", epochs=15, lr=0.1,
                                           output_dir=output_dir, overwrite=True, **training, **start))

    variants = []
    fine = tables["fine"]

    # The untrained baseline: same network, no pretraining.
    console.print("[bold]3.[/] scoring an untrained network (the baseline)")
    fine_tables = EvaluateConfig(table=fine["train_table"], val_table=fine["val_table"], **ON_CPU, **SIZES)
    torch.manual_seed(config.seed)
    untrained = backbone(build_model("tiny", fine["label_count"]), "tiny")
    knn = evaluate.knn_score(untrained, *load_tables(fine_tables), fine["labels"], distributed.setup("cpu"), fine_tables)
    baseline = probe(out / "runs" / "random-probe", random_init=True)
    variants.append({"variant": "random init", "pretrain_labels": None, "pretrain_label_count": None,
                     "knn_fine_top1": knn["knn_top1"], "transfer_linear_top1": baseline["test_top1"]})

    for step, name in ((4, "fine"), (5, "coarse")):
        info = tables[name]
        console.print(f"[bold]{step}.[/] pretraining on {name} labels ({info['label_count']} labels, {config.epochs} epochs)")
        run_dir = out / "runs" / f"pretrain-{name}"
        pretrained = pretrain.run(PretrainConfig(table=info["train_table"], val_table=info["val_table"], epochs=config.epochs,
                                                 lr=0.05, wd=5e-4, output_dir=run_dir, overwrite=True, **training))
        checkpoint = run_dir / "checkpoint.pt"
        scores = evaluate.run(EvaluateConfig(checkpoint=checkpoint, table=info["train_table"], val_table=info["val_table"],
                                             knn_labels=fine["labels"], **ON_CPU, **SIZES))
        transfer = probe(out / "runs" / f"probe-{name}", checkpoint=checkpoint)
        variants.append({"variant": f"pretrained on {name}", "pretrain_labels": info["recipe"],
                         "pretrain_label_count": info["label_count"], "labels_hash": info["labels_hash"],
                         "pretrain_val_top1": scores["top1"], "pretrain_val_top5": scores["top5"],
                         "pretrain_train_loss": pretrained["train_loss"],
                         "knn_fine_top1": scores["knn_top1"], "transfer_linear_top1": transfer["test_top1"]})
        console.print(f"   val top-1 {scores['top1']:.1f}% on its {info['label_count']} labels, "
                      f"k-NN top-1 on fine labels {scores['knn_top1']:.1f}%, linear probe {transfer['test_top1']:.1f}%")

    results = {
        "dataset": {"image_size": SIZE, "pretrain_classes": len(PRETRAIN_CLASSES), "train_per_class": 60,
                    "val_per_class": 20, "transfer_classes": len(TRANSFER_CLASSES), "transfer_per_class": {"train": 25, "val": 25}},
        "chance": {"knn_fine_top1": 100 / len(PRETRAIN_CLASSES), "transfer_linear_top1": 100 / len(TRANSFER_CLASSES),
                   "pretrain_val_top1": {name: 100 / info["label_count"] for name, info in tables.items()}},
        "model": "tiny", "epochs": config.epochs, "seed": config.seed,
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
        labels = f"{v['pretrain_labels']} ({v['pretrain_label_count']} labels)" if v["pretrain_labels"] else "-"
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
