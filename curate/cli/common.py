"""What every curate command shares: error translation, the stderr console, options. (The progress bar is
`curate.progress.progress_bar`.)"""

from __future__ import annotations

import functools
import inspect
from contextvars import ContextVar
from pathlib import Path

import typer

from curate.errors import CurateError, SystemRefused
from curate.interrupts import EXIT_CODES, Terminated, sentence
from curate.wording import bounded

OPTIONS = {"verbose": False}  # app-wide options, set by the app's callback


def flag(*names: str, **options):
    """A switch, off unless given; its --help line shows no value (Typer would show `<bool>`)."""
    return typer.Option(False, *names, metavar="", **options)


QUIET_OPTION = flag("--quiet", "-q", help="Print no progress or summary on stderr.")


def readable_help(text: str | None) -> str | None:
    """A docstring as --help should show it: each paragraph one line for the terminal to wrap (Typer keeps
    the source's line breaks), except a paragraph of examples, whose lines are one command each."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("Example") else " ".join(p.split("\n")) for p in paragraphs)


RUNNING: ContextVar = ContextVar("running_command", default=None)  # the click command being run, set by App


def command_words() -> dict[str, str]:
    """The running command's words for the library's parameter names: each option's long name (`per_class`
    -> --per-class), each argument's name as --help shows it. Library sentences (errors, notes) are worded
    with them."""
    command = RUNNING.get()
    words = {}
    for param in command.params if command is not None else ():
        if param.param_type_name == "option":
            names = param.opts + param.secondary_opts
            words[param.name] = next((name for name in names if name.startswith("--")), names[0])
        else:
            words[param.name] = param.human_readable_name
    return words


class App(typer.Typer):
    """A Typer app whose commands turn a CurateError into `Error: <sentence>` on stderr and exit code 1 (the
    sentence in the command's words: `command_words`), and
    an interrupt (SIGINT, SIGTERM) into `Interrupted.` / `Terminated.` and exit code 130 / 143, after every
    output being written has been cleaned up. Help texts read as `readable_help` makes them."""

    def __init__(self, *, help: str | None = None, **options):
        super().__init__(help=readable_help(help), **options)

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)

        def decorate(function):
            @functools.wraps(function)
            def run(*a, running_context: typer.Context, **kw):
                token = RUNNING.set(running_context.command)
                try:
                    return function(*a, **kw)
                except CurateError as error:
                    if OPTIONS["verbose"]:
                        raise
                    typer.echo(f"Error: {bounded(error.worded(command_words()))}", err=True)
                    raise typer.Exit(1) from None
                except (KeyboardInterrupt, Terminated) as interrupt:
                    typer.echo(sentence(interrupt), err=True)
                    raise typer.Exit(EXIT_CODES[sentence(interrupt)]) from None
                except BrokenPipeError:
                    if not stdout_closed():
                        raise
                    raise typer.Exit(0) from None  # `curate find dog | head -2` has what it asked for, as grep's reader has
                except OSError as error:
                    if OPTIONS["verbose"]:
                        raise
                    typer.echo(f"Error: {bounded(str(SystemRefused(error)))}", err=True)
                    raise typer.Exit(1) from None
                finally:
                    RUNNING.reset(token)

            # Typer passes the click context to a parameter annotated typer.Context: the wrapper takes it, the
            # command's own signature stays as written.
            signature = inspect.signature(function)
            context = inspect.Parameter("running_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
            run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), context])
            run.__doc__ = readable_help(function.__doc__)
            return register(run)

        return decorate


def stdout_closed() -> bool:
    """Whether the reader of stdout has gone (`| head -2` read its lines and left). If so, stdout now points to
    /dev/null: Python flushes stdout once more at exit, and would fail on the closed pipe there."""
    import os
    import select
    import sys

    try:
        poller = select.poll()  # a pipe whose reader has gone polls as an error (POSIX; Windows has no poll)
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        if not any(events & select.POLLERR for _, events in poller.poll(0)):
            return False
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):  # no poll, or a stdout without a file (a test's)
        return False
    return True


def check_output(output: Path | None, *inputs: Path | str | None) -> None:
    """Check an output path before any work: writable, a regular file (or none yet), and not an input."""
    if output is not None:
        from curate.fileio import check_not_input, check_writable

        check_writable(output)
        check_not_input(output, list(inputs))


def say(line: str, quiet: bool = False) -> None:
    """A line for people on stderr, as plain text (so stdout carries only data)."""
    if not quiet:
        typer.echo(line, err=True)


def stderr_console(quiet: bool = False):
    """Rich output for people: on stderr, so stdout carries only data."""
    from rich.console import Console

    return Console(stderr=True, quiet=quiet)

