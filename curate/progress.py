"""Progress, in one form. A long library call takes a `progress` callback and reports through it:

    advance = progress("Packing images", total)   # total: None when unknown
    advance()  /  advance(n)  /  advance(n, status="loss 2.310")

The library's default is `no_progress`. What people see is `progress_bar`: one rich bar per call on stderr,
drawn only on a terminal and removed when done (a pipe or a log gets nothing), with a status column.
`track(items, description, progress)` iterates, advancing once an item.

    with progress_bar(console) as progress:        # or progress_bar(enabled=not quiet)
        index = ImageIndex.build(root, progress=progress)
        for item in track(items, "Checking", progress): ...

No Typer here: the CLI and train/ both use it. rich is imported only when a bar is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

T = TypeVar("T")


class Advance(Protocol):
    def __call__(self, n: int = 1, status: str | None = None) -> None: ...


Progress = Callable[[str, "int | None"], Advance]


def no_progress(description: str, total: int | None) -> Advance:
    def advance(n: int = 1, status: str | None = None) -> None:
        pass

    return advance


@contextmanager
def progress_bar(console=None, *, enabled: bool = True) -> Iterator[Progress]:
    """A `Progress` drawn as rich bars on `console` (default: a new console on stderr), transient, shown only
    where the console is a terminal and `enabled` (e.g. not --quiet, or rank 0 of a distributed run)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bars, TextColumn, TimeRemainingColumn

    console = console if console is not None else Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
               TimeRemainingColumn())
    with Bars(*columns, console=console, transient=True, disable=not (enabled and console.is_terminal)) as bars:

        def start(description: str, total: int | None) -> Advance:
            task, done = bars.add_task(description, total=total, status=""), [0]

            def advance(n: int = 1, status: str | None = None) -> None:
                bars.update(task, advance=n, **({} if status is None else {"status": status}))
                done[0] += n
                if total is not None and done[0] >= total:  # a finished bar goes: a run's epochs leave no stack
                    bars.remove_task(task)

            return advance

        yield start


def track(items: Iterable[T], description: str, progress: Progress, total: int | None = None) -> Iterator[T]:
    """Each of `items`, advancing `progress` once an item is done; `total` defaults to len(items) if it has one."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    advance = progress(description, total)
    for item in items:
        yield item
        advance()
