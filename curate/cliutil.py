"""What every curate command shares: error translation, the stderr console, common options."""

from __future__ import annotations

import functools

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
