"""What a run leaves and shows: its output folder, its metrics log (metrics.jsonl), its progress bar.

A run's folder is created when the run first writes into it, so a run that fails at the start leaves none;
the log is rewritten whole (atomically) after each checkpoint from the history the checkpoint carries, so it
never holds an epoch the checkpoint does not, and a resumed run never repeats a line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from curate.fileio import atomic_path, check_folder_writable
from train.errors import TrainError

RUNS = Path("runs")  # where a run without --output-dir goes


def default_folder(command: str) -> Path:
    """A new folder under runs/ for a run given no --output-dir: runs/<command>-<UTC date and time>."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    folder, n = RUNS / f"{command}-{stamp}", 1
    while folder.exists():
        n += 1
        folder = RUNS / f"{command}-{stamp}-{n}"
    return folder


def check_folder(path: Path) -> None:
    """Fail in one sentence, before any work, when the run folder `path` could not be created or written."""
    if path.exists() and not path.is_dir():
        raise TrainError(f"--output-dir {path} is a file, not a folder.")
    check_folder_writable(path, "the run")


def refuse_to_replace(path: Path, resuming: Path | None, overwrite: bool) -> None:
    """A run never writes over another run's checkpoint.pt unless it continues
    that very checkpoint (--resume) or is told to (--overwrite)."""
    existing = path / "checkpoint.pt"
    if overwrite or not existing.is_file() or (resuming is not None and existing.samefile(resuming)):
        return
    raise TrainError(f"{path} already holds a run (checkpoint.pt): continue it with --resume {existing}, replace it with "
                     "--overwrite, or give another --output-dir.")


def make_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrainError(f"Cannot create --output-dir {path}: {error.strerror or error}.") from None


def write_log(path: Path, history: list[dict]) -> None:
    """metrics.jsonl: one JSON object per epoch of `history`, written whole and atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(record, sort_keys=True) + "\n" for record in history))


def progress_bar(enabled: bool):
    """A rich progress bar on stderr, shown only on a terminal (rank 0 decides `enabled`)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(), console=console, transient=True, disable=not (enabled and console.is_terminal),
    )
