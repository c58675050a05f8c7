"""`python -m train grid FILE`: every cell of an experiment file, run once, its results in one table.

A grid has three kinds of cell: a pretraining variant (`experiment.Variant`), the k-NN score of a
variant's features on another label set, and a transfer of a variant to a task with one seed. Pretraining
cells run first, then the cells that need them, on this machine (under torchrun with --nproc-per-node N) or
each as a job through submitit (Slurm, or its local executor).

Following one cell: the experiment file gives its settings (`experiment.py`), its images give its tables
(`grid_images.py`); `Grid.config` makes its config once, `Grid.key` hashes what defines it, and
`Grid.run_cell` runs that config through the command's own `run`.

Everything the grid knows lives in its output folder, so a second machine (or a Slurm job) sees it too:
  tables/       the image tables each variant trains on, built through curate's library
  cells/<cell>-<key>/   one folder a cell: its run, and done.json (the result) or failed.json (the error)
  results.parquet       one row per cell x metric, with the hashes that say what was trained on what
The key of a pretraining cell is the hash of its manifest, image tables and the settings that define it
(`settings.defining`); a transfer's or k-NN's adds its own to its variant's key. A cell whose key has a
done.json is not run again; one with a checkpoint and no done.json resumes; one that fails is recorded and
the grid goes on (cells that needed it are skipped).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from curate.errors import CurateError
from curate.fileio import atomic_path, make_folder
from curate.labels.manifest import labels_hash
from train.config import EvaluateConfig, FinetuneConfig, GridConfig, PretrainConfig, check, with_task_defaults
from train.errors import TrainError
from train.experiment import Experiment, Knn, Transfer, Variant, read_experiment, worded
from train.grid_images import GridImages, digest
from train.runs import check_folder, write_json
from train.settings import argv_of, defaults, defining
from train.tasks import TASK

NOMINAL_PER_CLASS = 1281  # ILSVRC-2012 train images per class on average (1,281,167 / 1000), for a plan made before the data
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
        return None if self.kind == "pretrain" else self.variant.name


def slug(text: str) -> str:
    """`text` as a part of a folder name: letters, digits, dots, '=' and dashes."""
    return re.sub(r"[^A-Za-z0-9.=]+", "-", text).strip("-")


def cells_of(experiment: Experiment) -> list[Cell]:
    """Every cell, in the order they run: each variant, then its k-NN scores and transfers."""
    cells = []
    for variant in experiment.variants:
        cells.append(Cell(variant.name, "pretrain", variant))
        cells += [Cell(f"{variant.name}.knn-{slug(k.labels)}", "knn", variant, knn=k) for k in experiment.knn]
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
        self._configs: dict[str, object] = {}

    # --- each cell's config, key and folder ----------------------------------------------------------------

    def config(self, cell: Cell):
        """The config the cell runs (its run folder aside), made once."""
        if cell.name not in self._configs:
            self._configs[cell.name] = self.make_config(cell)
        return self._configs[cell.name]

    def make_config(self, cell: Cell):
        tables = self.images.tables(cell.variant)
        data = {"table": tables.train, "val_table": tables.val, "root": tables.root, "val_root": tables.val_root}
        if cell.kind == "pretrain":
            return PretrainConfig(**data, **cell.variant.settings, quiet=True)
        checkpoint = self.folder(self.pretrain_cell(cell)) / "run" / "checkpoint.pt"
        if cell.kind == "knn":
            return EvaluateConfig(checkpoint=checkpoint, **data, knn_labels=self.images.manifest(cell.knn.labels),
                                  **cell.knn.settings, quiet=True)
        transfer = cell.transfer
        return FinetuneConfig(task=transfer.task, data=self.images.task_folder(transfer.data), seed=cell.transfer_seed,
                              checkpoint=checkpoint, **transfer.settings, quiet=True)

    def key(self, cell: Cell) -> str:
        """What makes the cell the cell it is: for a variant the hashes of its manifest and image tables and
        the settings that define its run; for the others their variant's key and their own (never paths)."""
        config = self.config(cell)
        if cell.kind == "pretrain":
            tables = self.images.tables(cell.variant)
            return digest({"labels": tables.labels_hash, "train": tables.train_hash, "val": tables.val_hash,
                           "settings": defining(config)})
        if cell.kind == "knn":
            own = {"labels": labels_hash(self.images.label_set(cell.knn.labels)), **defining(config)}
        else:
            own = {"data": cell.transfer.data, **defining(config)}
        return digest({"variant": self.key(self.pretrain_cell(cell)), cell.kind: own})

    def folder(self, cell: Cell) -> Path:
        return self.out / "cells" / f"{cell.name}-{self.key(cell)[:12]}"

    def pretrain_cell(self, cell: Cell) -> Cell:
        return Cell(cell.variant.name, "pretrain", cell.variant)

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
        return (pretrain if cell.kind == "pretrain" else finetune).run(config)

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
        """The rows of results.parquet that one done cell gives."""
        variant, result = cell.variant, record["result"]
        tables = self.images.tables(variant)
        pretraining = self.config(self.pretrain_cell(cell))
        base = {"cell": cell.name, "kind": cell.kind, "entry": variant.entry, "series": variant.series,
                "labels": variant.labels, "label_count": tables.label_count, "per_class": variant.per_class,
                "budget": variant.budget, "train_images": tables.train_images, "model": pretraining.model,
                "augment": pretraining.augment, "seed": variant.seed, "labels_hash": tables.labels_hash,
                "table_hash": tables.train_hash, "cell_key": record["key"]}
        if cell.kind == "pretrain":
            metrics = {k: result[k] for k in ("val_top1", "val_top5", "train_loss") if result.get(k) is not None}
            task = "pretrain"
        elif cell.kind == "knn":
            metrics, task = {"knn_top1": result["knn_top1"]}, f"knn {cell.knn.labels}"
        else:
            metrics = {k: result[k] for k in ("test_map", "test_top1") if result.get(k) is not None}
            task = cell.transfer.task
        return [{**base, "task": task, "transfer_seed": cell.transfer_seed, "metric": metric, "value": float(value)}
                for metric, value in metrics.items()]


def result_schema() -> dict:
    """The columns of results.parquet and their types."""
    import pyarrow as pa

    text, number, whole = pa.string(), pa.float64(), pa.int64()
    return {"cell": text, "kind": text, "entry": text, "series": text, "labels": text, "label_count": whole,
            "per_class": whole, "budget": whole, "train_images": whole, "model": text, "augment": text,
            "seed": whole, "task": text, "transfer_seed": whole, "metric": text, "value": number,
            "labels_hash": text, "table_hash": text, "cell_key": text}


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
        images = train_images // 3
    else:
        transfer = cell.transfer
        settled = with_task_defaults(FinetuneConfig(task=transfer.task, data=Path(transfer.data), **transfer.settings),
                                     frozenset(transfer.settings))
        images = task_images(grid, transfer) * settled.epochs
        rate = transfer.images_per_s or rate
    return images, images / rate / 3600 if rate else None


def task_images(grid: Grid, transfer: Transfer) -> int:
    """The training samples of a transfer's task: the task's own count, or those its class folders hold."""
    if TASK[transfer.task].train_images is not None:
        return TASK[transfer.task].train_images
    folder = grid.images.task_folder(transfer.data) / "train"
    return sum(1 for _ in folder.glob("*/*")) if folder.is_dir() else 0


def show_plan(grid: Grid, quiet: bool = False) -> dict:
    """Print the plan (every cell, what is done, what it costs); return its totals."""
    from rich.console import Console
    from rich.table import Table

    rows = []
    for cell in grid.cells:
        images, hours = cost(grid, cell)
        rows.append((cell, grid.state(cell), images, hours))
    table = Table(title=f"grid {grid.experiment.name}: {len(rows)} cells, output in {grid.out}")
    for column in ("cell", "kind", "state", "images", "GPU-hours"):
        table.add_column(column, justify="right" if column in ("images", "GPU-hours") else "left")
    for cell, state, images, hours in rows:
        table.add_row(cell.name, cell.kind, state, f"{images:,}", "-" if hours is None else f"{hours:,.2f}" if hours >= 0.01 else "<0.01")
    left = [(images, hours) for _, state, images, hours in rows if state != "done"]
    total_images = sum(images for images, _ in left)
    total_hours = None if any(h is None for _, h in left) else sum(h for _, h in left)
    console = Console(stderr=True, quiet=quiet, width=None if sys.stderr.isatty() else 160)
    console.print(table)
    rate = f"at {grid.experiment.throughput:,.0f} images/s" if grid.experiment.throughput else "(no throughput stated)"
    console.print(f"left to run: {len(left)} of {len(rows)} cells, {total_images:,} images, "
                  + (f"{total_hours:,.2f} GPU-hours {rate}" if total_hours is not None else "GPU-hours unknown: give throughput = images/s"))
    states = [state for _, state, _, _ in rows]
    return {"cells": len(rows), **{s: states.count(s) for s in sorted(set(states))}, "images_left": total_images,
            "gpu_hours_left": total_hours}


# --- running every cell -------------------------------------------------------------------------------------


def run_all(grid: Grid, config: GridConfig) -> dict:
    """Run every cell not done (pretraining cells first, then the cells that need them); record failures
    and go on; results.parquet after each stage. One sentence at the end if any cell failed."""
    from train.distributed import print0

    say = (lambda text: None) if config.quiet else print0
    failed, ran, before, skipped = {}, 0, 0, 0
    for stage in ("pretrain", "after"):
        todo = []
        for cell in grid.cells:
            if (cell.kind == "pretrain") != (stage == "pretrain"):
                continue
            if cell.needs in failed:
                skipped += 1
                say(f"skip {cell.name}: its pretraining failed")
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
    return {"cells": len(grid.cells), "ran": ran, "done_before": before, "skipped": skipped,
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
