"""Git integration: route *.parquet through `curate show`, so `git diff` shows class lines."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from curate.errors import CurateError

ATTRIBUTE = "*.parquet diff=curate"


def git(folder: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True)
    except FileNotFoundError:
        raise CurateError("git is not installed.") from None
    if done.returncode != 0:
        raise CurateError(f"{folder} is not inside a git repository.")
    return done.stdout.strip()


def configure_textconv(folder: Path) -> list[str]:
    """Set diff.curate.textconv for the repository of `folder`; add the attribute if nothing sets it."""
    top = Path(git(folder, "rev-parse", "--show-toplevel"))
    command = f"{shlex.quote(sys.executable)} -m curate show"
    git(top, "config", "diff.curate.textconv", command)
    done = [f"git config diff.curate.textconv '{command}'"]
    if git(folder, "check-attr", "diff", "--", "probe.parquet").endswith(": diff: curate"):
        return done
    attributes = top / ".gitattributes"
    text = attributes.read_text() if attributes.exists() else ""
    attributes.write_text(text + ("" if text.endswith("\n") or not text else "\n") + ATTRIBUTE + "\n")
    return done + [f"added `{ATTRIBUTE}` to {attributes}"]
