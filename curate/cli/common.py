"""What every curate command shares: error translation, the stderr console, the progress bar, options."""

from __future__ import annotations

import functools
from contextlib import contextmanager

import typer

from curate.errors import CurateError

OPTIONS = {"verbose": False}  # app-wide options, set by the app's callback

QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="Print no progress or summary on stderr.")


class App(typer.Typer):
    """A Typer app whose commands turn a CurateError into `Error: <sentence>` on stderr and exit code 1."""

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)

        def decorate(function):
            @functools.wraps(function)
            def run(*a, **kw):
                try:
                    return function(*a, **kw)
                except CurateError as error:
                    if OPTIONS["verbose"]:
                        raise
                    typer.echo(f"Error: {error}", err=True)
                    raise typer.Exit(1) from None

            return register(run)

        return decorate


def stderr_console(quiet: bool = False):
    """Rich output for people: on stderr, so stdout carries only data."""
    from rich.console import Console

    return Console(stderr=True, quiet=quiet)


@contextmanager
def progress_bar(console):
    """A progress(description, total) -> advance(n) for the library; a rich bar on a terminal, else nothing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:

        def start(description: str, total: int | None):
            task = bar.add_task(description, total=total)
            return lambda n=1: bar.advance(task, n)

        yield start


def track(items, description: str, console, total: int | None = None):
    """Iterate `items` behind a transient rich bar on `console` (shown only on a terminal)."""
    from rich.progress import track as rich_track

    return rich_track(items, description, total=total, console=console, transient=True)
