"""`python -m train report DIR`: a grid's results.parquet as mean ± std tables and one figure per series.

Seeds (pretraining and transfer) are the repeats: every other column of a row says which variant, task and
metric it is. Each series of the experiment file is one figure: x its variable, a line per `line`, the
reference cell (1000 classes, all images) a point on every line; along the layers copied (Yosinski et al.'s
Figure 2) the networks' own top-1, the base network at n = 0. Where a paper publishes a number for a
cell (experiments/published.csv, each with its source) it stands beside ours in the table and the figure: a
score beside our score, a drop from the reference beside our drop; a class's AP (its `class` column) beside
our AP of that class (a row whose metric is "test_ap <class>").
"""

from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path

from train.config import ReportConfig
from train.errors import TrainError
from train.tasks import TASKS

PUBLISHED = Path(__file__).resolve().parents[1] / "experiments" / "published.csv"
PAPER_TASKS = {task.name: task.paper for task in TASKS if task.paper}
AXIS_WORDS = {"per_class": "images per class (the reference: its mean)", "budget": "images in the pretraining set",
              "label_count": "labels the network was pretrained on", "variant": "pretraining variant",
              "copy_layers": "layers n copied from the base network (0: the base network itself)"}
LINEAR_AXES = {"copy_layers", "variant"}  # the others span decades: drawn on a log scale
GROUP = ("entry", "series", "axis", "line", "reference", "x", "mark", "labels", "label_count", "per_class", "budget", "model",
         "augment", "task", "metric")


def summarise(rows: list[dict]) -> list[dict]:
    """One row per variant x series x task x metric: the mean, sample std (None for one value) and count over seeds."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in GROUP), []).append(row["value"])
    summary = []
    for key, values in groups.items():
        std = statistics.stdev(values) if len(values) > 1 else None
        summary.append({**dict(zip(GROUP, key)), "mean": statistics.fmean(values), "std": std, "n": len(values)})
    return summary


def published(path: Path = PUBLISHED) -> dict[tuple, dict]:
    """(paper task, series, line, x, class) -> {value, meaning, paper, source}: every number a paper publishes;
    class "" for a whole task's number (a mean AP), a VOC class for its own AP."""
    if not path.is_file():
        return {}
    with path.open() as f:
        return {(row["task"], row["series"], row["line"], float(row["x"]) if row["x"] else None, row.get("class") or ""):
                {"value": float(row["value"]), "meaning": row["meaning"], "paper": row["paper"], "source": row["source"]}
                for row in csv.DictReader(f)}


def paper_task(task: str) -> str:
    return PAPER_TASKS.get(task, task)


PER_CLASS = "test_ap "  # a results row's metric for one class's AP: "test_ap chair"


def class_of(metric: str) -> str:
    """The class a metric scores alone ("test_ap chair": chair), or "" for a whole task's metric."""
    return metric.removeprefix(PER_CLASS) if metric.startswith(PER_CLASS) else ""


def beside(summary: list[dict], paper: dict) -> None:
    """Set each summary row's `paper` (the published number for its cell, if any), and for a published drop
    from the reference, `drop`: ours, the reference's mean less this row's (same series, task and metric)."""
    for row in summary:
        found = paper.get((paper_task(row["task"]), row["series"], row["line"], row["x"], class_of(row["metric"])))
        row["paper"], row["paper_meaning"], row["drop"] = (found or {}).get("value"), (found or {}).get("meaning"), None
        if found and found["meaning"] == "drop from the reference":
            reference = [r for r in summary if r["reference"] and (r["series"], r["task"], r["metric"]) ==
                         (row["series"], row["task"], row["metric"])]
            if reference:
                row["drop"] = reference[0]["mean"] - row["mean"]


def size(row: dict) -> str:
    if row["per_class"]:
        return f"{row['per_class']}/class"
    return f"{row['budget']:,} images" if row["budget"] else "all images"


def mean_std(row: dict) -> str:
    text = f"{row['mean']:.1f} ± {row['std']:.1f}" if row["std"] is not None else f"{row['mean']:.1f}"
    return text + (f" (drop {row['drop']:.1f})" if row.get("drop") is not None else "")


def paper_text(row: dict) -> str:
    if row["paper"] is None:
        return ""
    return f"drop {row['paper']:.1f}" if row["paper_meaning"] == "drop from the reference" else f"{row['paper']:.1f}"


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
        raise TrainError(f"{path} lacks the column(s) {', '.join(sorted(missing))}: it is not a grid's results.parquet "
                         "(one from before series: run the grid again to rewrite it).")
    summary = summarise(rows)
    paper = published()
    beside(summary, paper)
    if not config.quiet:
        show(summary)
    figures = draw(summary, paper, Path(config.folder) / "figures")
    return {"rows": len(rows), "summary": summary, "figures": [f["path"] for f in figures.values()],
            "plotted": {series: f["panels"] for series, f in figures.items()}}


def show(summary: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="grid results: mean ± std over seeds (n runs), the paper's number beside ours")
    for column in ("series", "variant", "mark", "labels", "images", "task", "metric", "ours", "n", "paper"):
        table.add_column(column, justify="right" if column in ("ours", "n", "paper") else "left")
    for row in sorted(summary, key=lambda r: (r["series"], r["task"], r["metric"], not r["reference"], r["line"] or "",
                                              -(r["x"] or 0), r["entry"])):
        variant = f"{row['entry']} (reference)" if row["reference"] else row["entry"]
        table.add_row(row["series"], variant, row["mark"] or "", f"{row['labels']} ({row['label_count']})", size(row),
                      row["task"], row["metric"], mean_std(row), str(row["n"]), paper_text(row))
    Console(stderr=True, width=None if sys.stderr.isatty() else 200).print(table)


def panels(rows: list[dict]) -> list[tuple[str, str]]:
    """The (task, metric) of each panel: the transfer and k-NN scores, not pretraining's own nor one class's;
    along the layers copied, the networks' own top-1 (each trained and scored on the same labels: Yosinski et
    al.'s Figure 2)."""
    return sorted({(r["task"], r["metric"]) for r in rows
                   if (r["task"] != "pretrain" and not class_of(r["metric"]))
                   or (r["axis"] == "copy_layers" and r["metric"] == "val_top1")})


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def draw(summary: list[dict], paper: dict, folder: Path) -> dict[str, dict]:
    """One figure per series with scores beyond pretraining's own, a panel per task and metric: the
    figure's path and what it plots."""
    figures = {}
    for series in sorted({r["series"] for r in summary}):
        rows = [r for r in summary if r["series"] == series]
        if panels(rows):
            plotted = {f"{task} {metric}": plotted_panel(series, [r for r in rows if (r["task"], r["metric"]) == (task, metric)], paper)
                       for task, metric in panels(rows)}
            figures[series] = {"path": str(plot(series, plotted, folder / f"{slug(series)}.png")), "panels": plotted}
    return figures


def plotted_panel(series: str, rows: list[dict], paper: dict) -> dict:
    """What one panel plots. Along a number: a line per `line` of (x, mean, std), each through the reference
    cell's point, and the published scores of each line. Along the variants: a point per variant."""
    task, axis = rows[0]["task"], rows[0]["axis"]
    reference = [r for r in rows if r["reference"]]
    if axis != "variant" and all(r["x"] is not None for r in rows):
        lines = {}
        for line in sorted({r["line"] for r in rows if not r["reference"]}):
            lines[line] = sorted([r["x"], r["mean"], r["std"] or 0.0] for r in rows if r["line"] == line or r["reference"])
        published_points = {line: sorted([x, v["value"]] for (t, s, l, x, c), v in paper.items()
                                         if (t, s, l, c) == (paper_task(task), series, line, "") and v["meaning"] == "score")
                            for line in lines}
        return {"axis": axis, "lines": lines, "reference": [[r["x"], r["mean"]] for r in reference],
                "published": {line: points for line, points in published_points.items() if points}}
    ordered = sorted(rows, key=lambda r: (not r["reference"], r["entry"]))
    published_points = {r["entry"]: paper[key]["value"] for r in ordered
                        if (key := (paper_task(task), series, r["line"], None, "")) in paper}
    return {"axis": "variant", "variants": [[r["entry"], r["mean"], r["std"] or 0.0] for r in ordered],
            "reference": [[r["entry"], r["mean"]] for r in reference], "published": published_points}


def plot(series: str, plotted: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from curate.fileio import atomic_path

    fig, axes = plt.subplots(1, len(plotted), figsize=(4.4 * len(plotted), 3.8), squeeze=False)
    for ax, (panel, data) in zip(axes[0], plotted.items()):
        if data["axis"] != "variant":
            for line, points in data["lines"].items():
                x, mean, std = zip(*points)
                drawn = ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=line)
                if line in data["published"]:
                    ax.plot(*zip(*data["published"][line]), linestyle="--", marker="s", fillstyle="none",
                            color=drawn[0].get_color(), label=f"{line} (published)")
            for x, mean in data["reference"]:
                ax.plot([x], [mean], marker="*", markersize=12, color="black", linestyle="none", label="reference: all images")
            if data["axis"] not in LINEAR_AXES:
                ax.set_xscale("log")
        else:
            names, mean, std = zip(*data["variants"])
            ax.errorbar(range(len(names)), mean, yerr=std, marker="o", linestyle="none", capsize=3, label="ours")
            theirs = [(names.index(name), value) for name, value in data["published"].items()]
            if theirs:
                ax.plot(*zip(*theirs), marker="s", fillstyle="none", linestyle="none", label="published")
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
        ax.set_title(f"{series}: {panel}", fontsize=10)
        ax.set_xlabel(AXIS_WORDS.get(data["axis"], data["axis"]))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("score (mean ± std over seeds)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
