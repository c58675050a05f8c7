"""Docs that cannot go stale: every README command runs, every command has help and is documented."""

import re
import shlex
from pathlib import Path

import pytest
import typer

from curate.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text()
COMMANDS = [line.split("#")[0].strip() for line in re.findall(r"^uv run curate .*$", README, re.M)]


def all_commands(typer_app, prefix=""):
    command = typer.main.get_command(typer_app)
    for name, sub in command.commands.items():
        if hasattr(sub, "commands"):
            yield from ((f"{prefix}{name} {n}", c) for n, c in sub.commands.items())
        else:
            yield f"{prefix}{name}", sub


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_runs(line, curate_cli, tmp_path, monkeypatch, request):
    args = shlex.split(line)[3:]
    if args[:1] == ["wordnet"]:
        request.getfixturevalue("nltk_wordnet")  # needs NLTK's WordNet, installed by CI
    if args[:1] == ["git-setup"]:
        import subprocess

        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    if args[:2] in (["build", "--check"], ["show", "coarse-127.parquet"], ["diff", "coarse-127.parquet"]):
        assert curate_cli("build", "--out", "manifests").exit_code == 0
        for name in ("coarse-127", "coarse-262"):
            assert curate_cli("coarsen", "--base", "ilsvrc2012", "-o", f"{name}.parquet", "--classes", name[-3:]).exit_code == 0
    result = curate_cli(*args)
    assert result.exit_code == 0, result.stderr


def test_readme_opens_with_the_two_commands():
    setup = README.split("## Set up and run", 1)[1].split("##", 1)[0]
    assert "uv run curate coarsen --depth 3" in setup and "uv run --extra train pytest" in setup


@pytest.mark.parametrize("name,command", list(all_commands(app)))
def test_every_command_has_help_and_is_documented(name, command):
    assert command.help and len(command.help) > 40, name
    assert f"curate {name}" in README or f"curate {name.split()[0]}" in README, name
