"""Git integration: route *.parquet through `curate show`, so `git diff` shows class lines.

The textconv is a shell command that looks for curate when git runs it, not when it was set up: a virtual
environment gets deleted, rebuilt or moved with its clone, and a textconv that fails makes `git diff` die
(exit 128) on every file. It tries, in order: the Python that ran `curate git-setup` (where it still is),
`curate` on PATH (an activated environment, `uv tool install`, pipx), and `uv run` in the project curate was
installed from (uv rebuilds a deleted environment). Where none is there, the text is one line saying so
and the file's checksum, so `git diff` still runs and shows that the file changed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from curate.errors import CurateError

ATTRIBUTE = "*.parquet diff=curate"
NOT_FOUND = "# curate show could not run here (no curate on PATH, nor in the environment `curate git-setup` recorded): this line and the checksum below stand in for the file"


def git(folder: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True)
    except FileNotFoundError:
        raise CurateError("git is not installed.") from None
    if done.returncode != 0:
        raise CurateError(f"{folder} is not inside a git repository.")
    return done.stdout.strip()


def source_project() -> Path | None:
    """The project folder curate runs from when it is installed from a checkout (editable), else None."""
    folder = Path(__file__).resolve().parents[1]
    return folder if (folder / "pyproject.toml").is_file() else None


def textconv_command(python: str, project: str | None) -> str:
    """The textconv git runs (with the file's path after it): the first curate it finds shows the file.

    `project` is written relative to the top of the repository when it lies inside (git runs a textconv
    there), so a moved clone of curate's own repository still finds itself. The text of an image index
    keeps its key lines, which `curate show` sends to stderr when its output is not a terminal: a success
    prints both streams, in order; a failure sends them to stderr for git to show beside its error."""
    py = shlex.quote(python)
    runners = [f'if [ -x {py} ]; then {py} -m curate show "$1"', 'elif command -v curate >/dev/null 2>&1; then curate show "$1"']
    if project is not None:
        where = shlex.quote(project)
        runners.append(f'elif command -v uv >/dev/null 2>&1 && [ -f {where}/pyproject.toml ]; then '
                       f'uv run --quiet --project {where} curate show "$1"')
    runners.append(f'else echo {shlex.quote(NOT_FOUND)}; cksum <"$1"; fi')
    show = "; ".join(runners)
    return (f'curate_show() {{ {show}; }}; text=$(curate_show "$1" 2>&1) && printf "%s\\n" "$text" '
            f'|| {{ printf "%s\\n" "$text" >&2; exit 1; }} #')


def configure_textconv(folder: Path) -> list[str]:
    """Set diff.curate.textconv for the repository of `folder`; add the attribute if nothing sets it."""
    top = Path(git(folder, "rev-parse", "--show-toplevel"))
    project = source_project()
    if project is not None and project.is_relative_to(top.resolve()):
        project = Path(os.path.relpath(project, top.resolve()))
    git(top, "config", "diff.curate.textconv", textconv_command(sys.executable, None if project is None else str(project)))
    done = [f"git config diff.curate.textconv: curate show, by {sys.executable} while it is there, else curate on PATH"
            + ("" if project is None else f", else uv run --project {project}")]
    if git(folder, "check-attr", "diff", "--", "probe.parquet").endswith(": diff: curate"):
        return done
    attributes = top / ".gitattributes"
    text = attributes.read_text() if attributes.exists() else ""
    attributes.write_text(text + ("" if text.endswith("\n") or not text else "\n") + ATTRIBUTE + "\n")
    return done + [f"added `{ATTRIBUTE}` to {attributes}"]
