"""How commands print rows of data on stdout: `--json`, a rich table on a terminal, else plain TSV.

Rich wraps a table at the terminal's width (80 columns where there is none) and would split names across
lines in a pipe; TSV keeps one row a line, for `cut`, `sort` and spreadsheets.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import typer

from curate.cli.common import flag

JSON_OPTION = flag("--json", help="Print the answer as JSON on stdout.")


def cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value).replace("\t", " ").replace("\n", " ")


def stdout_console():
    """Rich's console on stdout where stdout is a terminal, else None. Rich takes a pipe for a terminal only
    when FORCE_COLOR or TTY_COMPATIBLE tells it to, so short of those isatty() answers without importing rich
    (a sixth of a short command's time)."""
    if not sys.stdout.isatty() and not {"FORCE_COLOR", "TTY_COMPATIBLE"} & os.environ.keys():
        return None
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else None


def print_rows(rows: list, answer=None, *, as_json: bool = False, title: str = "") -> None:
    """Print dataclass `rows` (one column per field): as JSON (of `answer` where given), a rich table with
    `title` on a terminal, or TSV with a header line."""
    if as_json:
        import json

        typer.echo(json.dumps(to_json(rows if answer is None else answer), indent=2, ensure_ascii=False))
        return
    columns = [field.name for field in dataclasses.fields(rows[0])] if rows else []
    console = stdout_console()
    if console is None:
        for values in [columns, *([getattr(row, c) for c in columns] for row in rows)]:
            typer.echo("\t".join(cell(value) for value in values))
        return
    from rich.table import Table

    table = Table(title=title or None, title_justify="left")
    for column in columns:
        table.add_column(column, no_wrap=column in ("wnid", "label_wnid"))
    for row in rows:
        table.add_row(*(cell(getattr(row, c)) for c in columns))
    console.print(table)


def to_json(value):
    """Dataclasses (and lists of them) as plain JSON values."""
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return value
