"""`python -m train report DIR`: a grid's results.parquet as mean ± std tables and the paper's figures.

Seeds (pretraining and transfer) are the repeats: every other column of a row says which variant, task and
metric it is. Where Huh et al. publish a number for the same comparison (experiments/huh2016-published.csv,
with its source) it stands beside ours in the table and the fixed-budget figure.
"""

from __future__ import annotations

import csv
import sys
import statistics
from pathlib import Path

from train.config import ReportConfig
from train.errors import TrainError
from train.tasks import TASKS

PUBLISHED = Path(__file__).resolve().parents[1] / "experiments" / "huh2016-published.csv"
PAPER_TASKS = {task.name: task.paper for task in TASKS if task.paper}
GROUP = ("entry", "series", "labels", "label_count", "per_class", "budget", "model", "augment", "task", "metric")


def summarise(rows: list[dict]) -> list[dict]:
    """One row per variant x task x metric: the mean, sample std (None for one value) and count over seeds."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in GROUP), []).append(row["value"])
    summary = []
    for key, values in groups.items():
        std = statistics.stdev(values) if len(values) > 1 else None
        summary.append({**dict(zip(GROUP, key)), "mean": statistics.fmean(values), "std": std, "n": len(values)})
    return summary


def published(path: Path = PUBLISHED) -> dict[tuple, float]:
    """(paper task, budget, series) -> the paper's number."""
    if not path.is_file():
        return {}
    with path.open() as f:
        return {(row["task"], int(row["budget"]), row["series"]): float(row["value"]) for row in csv.DictReader(f)}


def paper_value(row: dict, paper: dict) -> float | None:
    if row["budget"] is None or row["task"] not in PAPER_TASKS:
        return None
    return paper.get((PAPER_TASKS[row["task"]], row["budget"], row["series"]))


def size(row: dict) -> str:
    if row["per_class"]:
        return f"{row['per_class']}/class"
    return f"{row['budget']:,} images" if row["budget"] else "all images"


def mean_std(row: dict) -> str:
    return f"{row['mean']:.1f} ± {row['std']:.1f}" if row["std"] is not None else f"{row['mean']:.1f}"


def run(config: ReportConfig, given: frozenset[str] | None = None) -> dict:
    import pyarrow.parquet as pq

    path = Path(config.folder) / "results.parquet"
    if not path.is_file():
        raise TrainError(f"{config.folder} holds no results.parquet: give the output folder of a grid (python -m train grid).")
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as error:  # pyarrow's many errors for a file that is not Parquet
        raise TrainError(f"{path} is not a results table this report can read ({error}).") from None
    missing = {*GROUP, "value", "seed"} - set(rows[0]) if rows else set()
    if missing:
        raise TrainError(f"{path} lacks the column(s) {', '.join(sorted(missing))}: it is not a grid's results.parquet.")
    summary = summarise(rows)
    paper = published()
    for row in summary:
        row["paper"] = paper_value(row, paper)
    if not config.quiet:
        show(summary)
    figures = draw(summary, paper, Path(config.folder) / "figures")
    return {"rows": len(rows), "summary": summary, "figures": [str(f) for f in figures]}


def show(summary: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="grid results: mean ± std over seeds (n runs)")
    for column in ("variant", "labels", "images", "task", "metric", "ours", "n", "paper"):
        table.add_column(column, justify="right" if column in ("ours", "n", "paper") else "left")
    for row in sorted(summary, key=lambda r: (r["task"], r["metric"], r["entry"], -(r["per_class"] or r["budget"] or 0))):
        table.add_row(row["entry"], f"{row['labels']} ({row['label_count']})", size(row), row["task"], row["metric"],
                      mean_std(row), str(row["n"]), "" if row["paper"] is None else f"{row['paper']:.1f}")
    Console(stderr=True, width=None if sys.stderr.isatty() else 160).print(table)


def panels(rows: list[dict]) -> list[tuple[str, str]]:
    """The (task, metric) of each panel: the transfer and k-NN scores, not pretraining's own."""
    return sorted({(r["task"], r["metric"]) for r in rows if r["task"] != "pretrain"})


def draw(summary: list[dict], paper: dict, folder: Path) -> list[Path]:
    """The paper's three figures, those the results have data for: score against images per class, against
    the number of labels, and the fixed budget spent on more images per class or more classes."""
    per_class = [r for r in summary if r["per_class"]]
    full = [r for r in summary if not r["budget"]]
    budget = [r for r in summary if r["budget"]]
    figures = []
    if per_class:
        figures.append(figure(per_class, folder / "images_per_class.png", "images per class", "per_class",
                              lambda r: r["entry"], log=True))
    if len({r["label_count"] for r in full}) > 1:
        figures.append(figure(full, folder / "label_count.png", "labels the network was pretrained on", "label_count",
                              lambda r: size(r), log=True))
    if budget:
        figures.append(figure(budget, folder / "budget.png", "images in the pretraining set (fixed budget)", "budget",
                              lambda r: r["series"], log=False, paper=paper))
    return figures


def figure(rows: list[dict], path: Path, xlabel: str, x: str, line_of, log: bool, paper: dict | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from curate.fileio import atomic_path

    shown = panels(rows)
    fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(4.2 * max(1, len(shown)), 3.6), squeeze=False)
    for ax, (task, metric) in zip(axes[0], shown):
        mine = [r for r in rows if (r["task"], r["metric"]) == (task, metric)]
        for line in sorted({line_of(r) for r in mine}):
            points = sorted((r[x], r["mean"], r["std"] or 0.0) for r in mine if line_of(r) == line)
            ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] for p in points], marker="o",
                        capsize=3, label=f"{line} (ours)" if paper else line)
            if paper and task in PAPER_TASKS:
                theirs = sorted((b, v) for (t, b, s), v in paper.items() if t == PAPER_TASKS[task] and s == line)
                if theirs:
                    ax.plot(*zip(*theirs), linestyle="--", marker="s", alpha=0.7, label=f"{line} (Huh et al.)")
        if log:
            ax.set_xscale("log")
        ax.set_title(f"{task}: {metric}", fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("score (mean ± std over seeds)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path

