"""`python -m train grid FILE`: every cell of an experiment file, run once, its results in one table.

A grid has three kinds of cell: a pretraining variant (`experiment.Variant`), the k-NN score of a
variant's features on a label set (one bank and one query set for every variant: `Knn`), and a transfer
of a variant to a task with one seed. Cells that would train the same thing (the same key: the same
tables and settings) run once and are reported under each of their names. Pretraining
cells run first (those that copy layers from another's network after it: `copy_from`), then the cells that need
them, on this machine (under torchrun with --nproc-per-node N) or each as a job through submitit (Slurm, or its
local executor).

Following one cell: the experiment file gives its settings (`experiment.py`), its images give its tables
(`grid_images.py`); `Grid.config` makes its config once, `Grid.key` hashes what defines it, and
`Grid.run_cell` runs that config through the command's own `run`.

Everything the grid knows lives in its output folder, so a second machine (or a Slurm job) sees it too:
  tables/       the image tables each variant trains on, built through curate's library
  cells/<cell>-<key>/   one folder a cell: its run, and done.json (the result) or failed.json (the error)
  results.parquet       one row per cell x metric, with the hashes that say what was trained on what
The key of a pretraining cell is the hash of its manifest, image tables and the settings that define it
(`settings.defining`); a transfer's or k-NN's adds its own to its variant's key. Before the images are at
hand (a plan), the tables are named by what makes them: the label set and the subset (one index serves
them all). A cell whose key has a done.json is not run again; one with a checkpoint and no done.json
resumes; one that fails is recorded and the grid goes on (cells that needed it are skipped).
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from curate.errors import CurateError
from curate.fileio import atomic_path, make_folder
from curate.images.store import ImageStore
from curate.labels.manifest import labels_hash
from train.claims import claim, release
from train.config import EvaluateConfig, FinetuneConfig, GridConfig, PretrainConfig, check, with_task_defaults
from train.errors import TrainError
from train.experiment import Experiment, Knn, Transfer, Variant, read_experiment, worded
from train.grid_images import GridImages, digest
from train.runs import check_folder, write_json
from train.series import check_pools, pool_text, x_of
from train.settings import argv_of, defaults, defining
from train.tasks import TASK

NOMINAL_PER_CLASS = 1281  # ILSVRC-2012 train images per class on average (1,281,167 / 1000), for a plan made before the data
NOMINAL_VAL_PER_CLASS = 50  # ... and its val images per class
# Images one loader process prepares per CPU-second for a training batch at 224 px crops, as bench/RESULTS.md
# measured them on 500x375 crops of photographs ("The loader at 224 px crops"): a worker decoding the original
# JPEGs (train/ loader on the JPEGs), a worker decoding a JPEG store of short side 256 (the batch alone,
# normalised on the GPU), and the training process reading a raw store of 224 px (the host side alone, cropped
# on the GPU).
JPEG_PER_WORKER = 323
JPEG_STORE_PER_WORKER = 586
RAW_STORE = 21979
LOCAL_TIMEOUT_MIN = 7 * 24 * 60  # submitit's local executor kills a job after its timeout_min: give one no cell reaches


@dataclass(frozen=True)
class Cell:
    """One unit of work: its name, kind (pretrain, knn, transfer), what it does, and the cell it needs."""

    name: str
    kind: str
    variant: Variant
    knn: Knn | None = None
    transfer: Transfer | None = None
    transfer_seed: int | None = None

    @property
    def needs(self) -> str | None:
        return self.variant.source if self.kind == "pretrain" else self.variant.name

    @property
    def stage(self) -> str:
        """When it runs: the networks that copy nothing, then those that copy from them, then the rest."""
        return "after" if self.kind != "pretrain" else "copies" if self.variant.copy_from else "pretrain"


def slug(text: str) -> str:
    """`text` as a part of a folder name: letters, digits, dots, '=' and dashes."""
    return re.sub(r"[^A-Za-z0-9.=]+", "-", text).strip("-")


def cells_of(experiment: Experiment) -> list[Cell]:
    """Every cell, in the order they run: each variant, then its k-NN scores and transfers."""
    cells = []
    for variant in experiment.variants:
        cells.append(Cell(variant.name, "pretrain", variant))
        cells += [Cell(f"{variant.name}.knn-{slug(k.labels)}", "knn", variant, knn=k) for k in experiment.knn
                  if k.scores(variant)]
        cells += [Cell(f"{variant.name}.{t.task}-s{seed}", "transfer", variant, transfer=t, transfer_seed=seed)
                  for t in experiment.transfers for seed in t.seeds]
    return cells


class Grid:
    """The grid of an experiment file in its output folder."""

    def __init__(self, experiment: Experiment, out: Path):
        self.experiment, self.out = experiment, Path(out)
        self.cells = cells_of(experiment)
        self.images = GridImages(experiment.data, self.out,
                                 {v.labels for v in experiment.variants} | {k.labels for k in experiment.knn})
        check_pools(experiment, self.images)
        self._configs: dict[str, object] = {}
        self._keys: dict[str, str] = {}

    # --- each cell's config, key and folder ----------------------------------------------------------------

    def config(self, cell: Cell):
        """The config the cell runs (its run folder aside), made once."""
        if cell.name not in self._configs:
            self._configs[cell.name] = self.make_config(cell)
        return self._configs[cell.name]

    def make_config(self, cell: Cell):
        tables = self.images.tables(cell.variant)
        stores = {"store": self.images.store, "val_store": self.images.val_store}
        data = {"table": tables.train, "val_table": tables.val, "root": tables.root, "val_root": tables.val_root, **stores}
        if cell.kind == "pretrain":
            source = {"copy_from": self.folder(self.source_cell(cell)) / "run" / "checkpoint.pt"} if cell.needs else {}
            return PretrainConfig(**data, **cell.variant.settings, **source, quiet=True)
        checkpoint = self.folder(self.pretrain_cell(cell)) / "run" / "checkpoint.pt"
        if cell.kind == "knn":
            bank = self.images.knn_tables(cell.knn)
            return EvaluateConfig(checkpoint=checkpoint, table=bank.train, val_table=bank.val, root=bank.root,
                                  val_root=bank.val_root, knn_labels=self.images.manifest(cell.knn.labels), knn_only=True,
                                  **stores, **cell.knn.settings, quiet=True)
        transfer = cell.transfer
        return FinetuneConfig(task=transfer.task, data=self.images.task_folder(transfer.data), seed=cell.transfer_seed,
                              checkpoint=checkpoint, **transfer.settings, quiet=True)

    def key(self, cell: Cell) -> str:
        """What makes the cell the cell it is: for a variant the hashes of its manifest and image tables and
        the settings that define its run; for the others their variant's key and their own (never paths)."""
        if cell.name not in self._keys:
            self._keys[cell.name] = self.make_key(cell)
        return self._keys[cell.name]

    def make_key(self, cell: Cell) -> str:
        settings = defining(self.settings_config(cell))
        if cell.kind == "pretrain":
            source = {"copied_from": self.key(self.source_cell(cell))} if cell.needs else {}
            stored = {"read_from": "packed stores"} if self.images.store else {}  # resized pixels: another run
            return digest({**self.tables_identity(cell.variant), "settings": settings, **source, **stored})
        if cell.kind == "knn":
            knn = cell.knn
            bank = ({"bank": (tables := self.images.knn_tables(knn)).train_hash, "queries": tables.val_hash}
                    if self.images.available() else {"bank": [knn.bank_per_class, knn.bank_seed]})
            own = {"labels": labels_hash(self.images.label_set(knn.labels)), **bank, **settings}
        else:
            own = {"data": cell.transfer.data, **settings}
        return digest({"variant": self.key(self.pretrain_cell(cell)), cell.kind: own})

    def settings_config(self, cell: Cell):
        """The cell's config without its images: what `defining` reads (no setting that defines a run is a path),
        known before the images are."""
        if cell.kind == "pretrain":
            return PretrainConfig(**cell.variant.settings)
        if cell.kind == "knn":
            return EvaluateConfig(checkpoint=Path("checkpoint.pt"), knn_only=True, **cell.knn.settings)
        transfer = cell.transfer
        return FinetuneConfig(task=transfer.task, data=Path(transfer.data), seed=cell.transfer_seed, **transfer.settings)

    def tables_identity(self, variant: Variant) -> dict:
        """What a variant's tables hold: their hashes, or before the images are at hand what they are made of
        (a budget spread evenly over single-class labels is that many images per class: the same rows)."""
        if self.images.available():
            tables = self.images.tables(variant)
            # A redrawn world keeps its paths, which are what an index without sizes holds: its draw is named too.
            world = {"world": self.images.world()} if self.images.synthetic else {}
            return {"labels": tables.labels_hash, "train": tables.train_hash, "val": tables.val_hash, **world}
        labels = self.images.label_set(variant.labels)
        per_class, budget = variant.per_class, variant.budget
        if budget and len(labels.kept) == labels.label_count and budget % labels.label_count == 0:
            per_class, budget = budget // labels.label_count, None
        subset = [per_class, budget, variant.subset_seed] if per_class or budget else None
        return {"labels": labels_hash(labels), "subset": subset}  # one index serves every cell: no path in a key

    def same_as(self, cell: Cell) -> Cell:
        """The first cell with the same key: the one that runs, for every name it has."""
        return self.first_of_key[self.key(cell)]

    @functools.cached_property
    def first_of_key(self) -> dict[str, Cell]:
        first: dict[str, Cell] = {}
        for cell in self.cells:
            first.setdefault(self.key(cell), cell)
        return first

    def folder(self, cell: Cell) -> Path:
        first = self.same_as(cell)
        return self.out / "cells" / f"{first.name}-{self.key(first)[:12]}"

    def pretrain_cell(self, cell: Cell) -> Cell:
        return Cell(cell.variant.name, "pretrain", cell.variant)

    def source_cell(self, cell: Cell) -> Cell:
        """The pretraining cell whose layers a copying cell starts from."""
        return next(other for other in self.cells if other.name == cell.needs)

    def state(self, cell: Cell) -> str:
        """done, failed, started (a checkpoint to resume) or todo; 'no data' when its images are not at hand."""
        if not self.images.available():
            return "todo" if self.images.synthetic else "no data"  # a synthetic world is drawn by the run
        folder = self.folder(cell)
        for name in ("done", "failed"):
            if (folder / f"{name}.json").is_file():
                return name
        return "started" if (folder / "run" / "checkpoint.pt").is_file() else "todo"

    # --- running -----------------------------------------------------------------------------------------

    def run_cell(self, cell: Cell) -> dict:
        """Run one cell here (resuming it if it was started) and record its result or its error."""
        folder = self.folder(cell)
        make_folder(folder)
        (folder / "failed.json").unlink(missing_ok=True)
        try:
            result = self.execute(cell, folder / "run")
        except (CurateError, OSError, RuntimeError, ValueError) as error:
            record = {"cell": cell.name, "error": worded(error) if isinstance(error, CurateError) else f"{type(error).__name__}: {error}"}
            write_json(folder / "failed.json", record)
            return record
        record = {"cell": cell.name, "kind": cell.kind, "key": self.key(cell), "result": result}
        write_json(folder / "done.json", record)
        return record

    def execute(self, cell: Cell, run: Path) -> dict:
        """The cell's command on its config: into the folder `run`, resumed from the checkpoint an earlier,
        interrupted run left there."""
        from train import evaluate, finetune, pretrain

        config = self.config(cell)
        if cell.kind == "knn":
            return evaluate.run(config)
        resume = run / "checkpoint.pt"
        config = replace(config, output_dir=run, resume=resume if resume.is_file() else None)
        if self.experiment.nproc_per_node > 1:
            return self.launch(cell.kind, config)
        try:
            return (pretrain if cell.kind == "pretrain" else finetune).run(config)
        finally:
            release(run)  # a grid of many cells holds one claim at a time

    def launch(self, command: str, config) -> dict:
        """Run `command` under torchrun with the grid's processes per node; its result line."""
        argv = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(self.experiment.nproc_per_node),
                "-m", "train", command, *argv_of(config)]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
            raise TrainError(lines[-1][len("Error: "):] if lines else f"torchrun exited with status {done.returncode}.")
        return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])

    def write_results(self) -> Path:
        """results.parquet: one row per done cell x metric."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = []
        for cell in self.cells:
            path = self.folder(cell) / "done.json"
            if path.is_file():
                rows += self.result_rows(cell, json.loads(path.read_text()))
        table = pa.table({name: pa.array([row.get(name) for row in rows], type=kind) for name, kind in result_schema().items()})
        with atomic_path(self.out / "results.parquet") as tmp:
            pq.write_table(table, tmp)
        return self.out / "results.parquet"

    def result_rows(self, cell: Cell, record: dict) -> list[dict]:
        """The rows of results.parquet that one done cell gives: under its own series and line, and under each
        series that names its variant as the reference (`reference` true: a point on every line)."""
        variant, result = cell.variant, record["result"]
        tables = self.images.tables(variant)
        pretraining = self.config(self.pretrain_cell(cell))
        base = {"cell": cell.name, "kind": cell.kind, "entry": variant.entry, "labels": variant.labels,
                "label_count": tables.label_count, "per_class": variant.per_class, "budget": variant.budget,
                "train_images": tables.train_images, "model": pretraining.model, "augment": pretraining.augment,
                "seed": variant.seed, "mark": variant.mark, "why": variant.why, "labels_hash": tables.labels_hash,
                "table_hash": tables.train_hash, "cell_key": record["key"], "same_as": self.same_as(cell).name}
        if cell.kind == "pretrain":
            metrics = {k: result[k] for k in ("val_top1", "val_top5", "train_loss") if result.get(k) is not None}
            task = "pretrain"
        elif cell.kind == "knn":
            metrics, task = {"knn_top1": result["knn_top1"]}, f"knn {cell.knn.labels}"
        else:
            metrics = {k: result[k] for k in ("test_map", "test_top1") if result.get(k) is not None}
            metrics.update({f"test_ap {name}": ap for name, ap in (result.get("test_ap") or {}).items() if ap is not None})
            task = cell.transfer.task
            if cell.transfer.mark:
                base.update(mark=cell.transfer.mark, why=cell.transfer.why)
        places = [(series, variant.line if series.name == variant.series else None,
                   series.reference == variant.entry and variant.all_images)
                  for series in self.experiment.series
                  if series.name == variant.series or (series.reference == variant.entry and variant.all_images)]
        return [{**base, "series": series.name, "axis": series.x, "line": line, "reference": reference,
                 "x": x_of(series, variant, tables.class_count, tables.label_count, tables.train_images), "task": task,
                 "transfer_seed": cell.transfer_seed, "metric": metric, "value": float(value)}
                for series, line, reference in places for metric, value in metrics.items()]


def result_schema() -> dict:
    """The columns of results.parquet and their types."""
    import pyarrow as pa

    text, number, whole, flag = pa.string(), pa.float64(), pa.int64(), pa.bool_()
    return {"cell": text, "kind": text, "entry": text, "series": text, "axis": text, "line": text, "reference": flag, "x": number,
            "labels": text, "label_count": whole, "per_class": whole, "budget": whole, "train_images": whole,
            "model": text, "augment": text, "seed": whole, "mark": text, "why": text, "task": text,
            "transfer_seed": whole, "metric": text, "value": number, "labels_hash": text, "table_hash": text,
            "cell_key": text, "same_as": text}


def run(config: GridConfig, given: frozenset[str] | None = None) -> dict:
    """Plan the grid of config.file (--dry-run: only say what would run and what it costs), or run it."""
    check(config)
    experiment = read_experiment(config.file)
    if config.nproc_per_node is not None:
        experiment = replace(experiment, nproc_per_node=config.nproc_per_node)
    out = Path(config.output_dir or Path("runs") / f"grid-{experiment.name}")
    check_folder(out)
    grid = Grid(experiment, out)
    if config.dry_run:
        return show_plan(grid, config.quiet)
    claim(out, "grid")
    make_folder(out)
    write_json(out / "experiment.json", {"file": str(Path(config.file).resolve()), "output_dir": str(out.resolve()),
                                         "nproc_per_node": experiment.nproc_per_node})
    grid.images.prepare()
    return run_all(grid, config)


# --- the plan ------------------------------------------------------------------------------------------------


def cost(grid: Grid, cell: Cell) -> tuple[int, float | None]:
    """Images the cell processes (forward and backward; a k-NN's forward passes count a third) and its
    GPU-hours at the experiment's stated throughput (None where it states none)."""
    experiment, variant = grid.experiment, cell.variant
    if grid.images.available():
        train_images = grid.images.tables(variant).train_images
    else:  # before the data is at hand: the synthetic world's class size, or ImageNet's average
        classes = len(grid.images.label_set(variant.labels).kept)
        available = grid.images.world()["train_per_class"] if grid.images.synthetic else NOMINAL_PER_CLASS
        train_images = variant.budget or classes * min(variant.per_class or available, available)
    rate = experiment.throughput
    if cell.kind == "pretrain":
        batch = variant.settings.get("batch_size", defaults(PretrainConfig)["batch_size"])
        iterations = variant.settings.get("iterations")
        images = iterations * batch if iterations else train_images * variant.settings["epochs"]
    elif cell.kind == "knn":
        images = knn_images(grid, cell.knn) // 3
    else:
        transfer = cell.transfer
        settled = with_task_defaults(FinetuneConfig(task=transfer.task, data=Path(transfer.data), **transfer.settings),
                                     frozenset(transfer.settings))
        images = task_images(grid, transfer) * settled.epochs
        rate = transfer.images_per_s or rate
    return images, images / rate / 3600 if rate else None


def knn_images(grid: Grid, knn: Knn) -> int:
    """The images a k-NN cell passes through the network: its bank and its queries."""
    if grid.images.available():
        tables = grid.images.knn_tables(knn)
        return tables.train_images + tables.val_images
    classes = len(grid.images.label_set(knn.labels).kept)
    world = grid.images.world() if grid.images.synthetic else {"train_per_class": NOMINAL_PER_CLASS,
                                                                "val_per_class": NOMINAL_VAL_PER_CLASS}
    return classes * (min(knn.bank_per_class, world["train_per_class"]) + world["val_per_class"])


def task_images(grid: Grid, transfer: Transfer) -> int:
    """The training samples of a transfer's task: the task's own count, or those its class folders hold."""
    if TASK[transfer.task].train_images is not None:
        return TASK[transfer.task].train_images
    folder = grid.images.task_folder(transfer.data) / "train"
    return sum(1 for _ in folder.glob("*/*")) if folder.is_dir() else 0


def loader_feed(grid: Grid) -> str | None:
    """One sentence: whether the plan's loaders, with the fewest workers a pretraining variant has, feed the
    throughput the experiment states (bench/RESULTS.md's rates); None for the synthetic world, or no throughput."""
    experiment, store = grid.experiment, grid.images.store
    if grid.images.synthetic or not experiment.throughput:
        return None
    workers = min(variant.settings.get("workers", defaults(PretrainConfig)["workers"]) for variant in experiment.variants)
    processes = f"{workers} workers" if workers else "the training process (workers 0)"
    if store is None:
        source, rate = f"{processes} decoding the original JPEGs", max(workers, 1) * JPEG_PER_WORKER
    else:
        try:
            raw = ImageStore.open(store).index.metadata["store_format"] == "raw"
        except CurateError as error:
            return f"loader: cannot tell what the store feeds: {error}"
        source, rate = (("the training process reading the raw store", RAW_STORE) if raw else
                        (f"{processes} decoding the JPEG store", max(workers, 1) * JPEG_STORE_PER_WORKER))
    enough = (f"enough for the {experiment.throughput:,.0f} images/s assumed" if rate >= experiment.throughput else
              f"too few for the {experiment.throughput:,.0f} images/s assumed: give more workers or pack a store "
              "(curate images pack)")
    return f"loader: {source}: about {rate:,} images/s (bench/RESULTS.md), {enough}."


def show_plan(grid: Grid, quiet: bool = False) -> dict:
    """Print the plan (each series' images, every cell: its mark, what it shares, what is done, what it costs);
    return it whole (stdout's JSON)."""
    from rich.console import Console
    from rich.table import Table

    experiment, cells = grid.experiment, []
    for cell in grid.cells:
        first = grid.same_as(cell)
        images, hours = cost(grid, cell) if first is cell else (0, 0.0)
        mark = cell.transfer.mark if cell.transfer and cell.transfer.mark else cell.variant.mark
        cells.append({"cell": cell.name, "kind": cell.kind, "state": grid.state(cell), "mark": mark,
                      "same_as": None if first is cell else first.name, "images": images, "gpu_hours": hours})
    console = Console(stderr=True, quiet=quiet, width=None if sys.stderr.isatty() else 160)
    series = [{"series": s.name, "x": s.x, "reference": s.reference, "pool": pool_text(experiment, s, grid.images),
               "pool_stated": s.pool is not None} for s in experiment.series]
    table = Table(title=f"grid {experiment.name}: {len(series)} series, what each trains on")
    for column in ("series", "x", "reference", "images"):
        table.add_column(column)
    for row in series:
        table.add_row(row["series"], row["x"], row["reference"] or "", row["pool"] + (" (stated)" if row["pool_stated"] else ""))
    console.print(table)
    table = Table(title=f"grid {experiment.name}: {len(cells)} cells, output in {grid.out}")
    for column in ("cell", "kind", "mark", "state", "images", "GPU-hours"):
        table.add_column(column, justify="right" if column in ("images", "GPU-hours") else "left")
    for row in cells:
        hours = row["gpu_hours"]
        table.add_row(row["cell"], row["kind"], row["mark"] or "",
                      f"same as {row['same_as']}" if row["same_as"] else row["state"], f"{row['images']:,}",
                      "-" if hours is None else f"{hours:,.2f}" if hours >= 0.01 or hours == 0 else "<0.01")
    console.print(table)
    marks = [(v.entry, v.mark, v.why) for v in experiment.variants] + [(t.task, t.mark, t.why) for t in experiment.transfers]
    for name, mark, why in dict.fromkeys(m for m in marks if m[1]):
        console.print(f"{name}: {mark}: {why}", highlight=False)
    left = [row for row in cells if row["state"] != "done" and not row["same_as"]]
    total_images = sum(row["images"] for row in left)
    total_hours = None if any(row["gpu_hours"] is None for row in left) else sum(row["gpu_hours"] for row in left)
    merged = sum(1 for row in cells if row["same_as"])
    rate = f"at {experiment.throughput:,.0f} images/s" if experiment.throughput else "(no throughput stated)"
    console.print(f"left to run: {len(left)} of {len(cells)} cells ({merged} the same as another, run once), "
                  f"{total_images:,} images, "
                  + (f"{total_hours:,.2f} GPU-hours {rate}" if total_hours is not None else "GPU-hours unknown: give throughput = images/s"))
    feed = loader_feed(grid)
    if feed:
        console.print(feed, highlight=False)
    states = [row["state"] for row in cells]
    return {"cells": len(cells), **{s: states.count(s) for s in sorted(set(states))}, "merged": merged,
            "images_left": total_images, "gpu_hours_left": total_hours, "series": series, "plan": cells}


# --- running every cell -------------------------------------------------------------------------------------


def run_all(grid: Grid, config: GridConfig) -> dict:
    """Run every cell not done (pretraining cells first, then the cells that need them); record failures
    and go on; results.parquet after each stage. One sentence at the end if any cell failed."""
    from train.distributed import print0

    say = (lambda text: None) if config.quiet else print0
    failed, ran, before, skipped = {}, 0, 0, set()
    for stage in ("pretrain", "copies", "after"):
        todo = []
        for cell in grid.cells:
            if cell.stage != stage:
                continue
            if grid.same_as(cell) is not cell:
                continue  # the cell it is the same as runs, for both
            if cell.needs in failed or cell.needs in skipped:
                skipped.add(cell.name)
                say(f"skip {cell.name}: {cell.needs}, which it starts from, failed")
                continue
            state = grid.state(cell)
            if state == "done":
                before += 1
                continue
            todo.append((cell, state))
        for (cell, state), record in zip(todo, run_cells(grid, todo, config.launcher, say)):
            if "error" in record:
                failed[cell.name] = record["error"]
                say(f"FAILED {cell.name}: {record['error']}")
            else:
                ran += 1
        grid.write_results()
    if failed:
        first = next(iter(failed))
        raise TrainError(f"{len(failed)} of {len(grid.cells)} cells failed (first: {first}: {failed[first]}); the others "
                         f"are in {grid.out / 'results.parquet'}: run the grid again to retry the failed ones.")
    return {"cells": len(grid.cells), "ran": ran, "done_before": before, "skipped": len(skipped),
            "results": str(grid.out / "results.parquet")}


def run_cells(grid: Grid, todo: list, launcher: str, say) -> list[dict]:
    """The records of running the cells `todo` ((cell, state) pairs): here one after another, or as
    submitit jobs all at once (Slurm, or submitit's local executor), waiting for them all."""
    if launcher == "here":
        records = []
        for number, (cell, state) in enumerate(todo, 1):
            say(f"[{number}/{len(todo)}] {cell.name}" + (" (resuming)" if state == "started" else ""))
            records.append(grid.run_cell(cell))
        return records
    import submitit

    executor = submitit.AutoExecutor(folder=grid.out / "submitit", cluster="local" if launcher == "submitit-local" else "slurm")
    executor.update_parameters(name=f"grid-{grid.experiment.name}", **{"timeout_min": LOCAL_TIMEOUT_MIN, **grid.experiment.slurm})
    jobs = [executor.submit(run_cell_job, str(grid.out), cell.name) for cell, _ in todo]
    say(f"submitted {len(jobs)} job(s) ({launcher}); waiting")
    records = []
    for (cell, _), job in zip(todo, jobs):
        try:
            records.append(job.result())
        except Exception as error:  # the job itself died: say how, and go on
            records.append({"cell": cell.name, "error": f"its job failed: {str(error).strip().splitlines()[-1]}"})
    return records


def run_cell_job(out: str, name: str) -> dict:
    """A submitit job: the grid in `out` (as experiment.json names it), one cell of it."""
    meta = json.loads((Path(out) / "experiment.json").read_text())
    experiment = replace(read_experiment(Path(meta["file"])), nproc_per_node=meta.get("nproc_per_node", 1))
    grid = Grid(experiment, Path(out))
    return grid.run_cell(next(cell for cell in grid.cells if cell.name == name))
