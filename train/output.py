"""What a run leaves and shows: its output folder, its metrics log (metrics.jsonl), its progress bar."""

from __future__ import annotations

import json
from pathlib import Path

from train.errors import TrainError


def make_output_dir(path: Path) -> None:
    """Create --output-dir, or say in one sentence why it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrainError(f"Cannot create --output-dir {path}: {error.strerror or error}.") from None


class JsonLog:
    """One JSON object per line (rank 0 only; None disables). A new run starts the file afresh; a resumed
    run (`append`) continues it."""

    def __init__(self, path: Path | None, append: bool = False):
        self.path = path
        if path is not None and not append:
            Path(path).unlink(missing_ok=True)

    def write(self, **record) -> None:
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(record, sort_keys=True) + "\n")


def progress_bar(enabled: bool):
    """A rich progress bar on stderr, shown only on a terminal (rank 0 decides `enabled`)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(), console=console, transient=True, disable=not (enabled and console.is_terminal),
    )
