"""Docs that cannot go stale: every README command runs, every command has help and is documented."""

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from curate.cli import app
from curate.labels.classlists import builtin_list

README = (Path(__file__).parents[2] / "README.md").read_text()
CURATE_LINES = [line.split(" # ")[0].strip() for line in re.findall(r"^uv run curate .*$", README, re.M)]
TRAIN_LINES = re.findall(r"^uv run --extra train (?:python -m train|torchrun .*?-m train) (.*)$", README, re.M)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """One folder for the README's commands, run in order as a user would: a git repository, the ILSVRC-2012
    devkit's `train_cls.txt` style list (550 images a class, not present) and a validation folder."""
    folder = tmp_path_factory.mktemp("readme")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    wnids = builtin_list("ilsvrc2012").wnids
    lines = (f"{w}/{w}_{i} {n * 550 + i + 1}" for n, w in enumerate(wnids) for i in range(550))
    (folder / "train_cls.txt").write_text("\n".join(lines) + "\n")
    from PIL import Image  # a validation folder of one small real JPEG per class, to pack

    (folder / "imagenet" / "val").mkdir(parents=True)
    solution = ["ImageId,PredictionString"]
    for n, wnid in enumerate(wnids, start=1):
        Image.new("RGB", (48, 36), (n % 256, 40, 200)).save(folder / "imagenet" / "val" / f"ILSVRC2012_val_{n:08d}.JPEG")
        solution.append(f"ILSVRC2012_val_{n:08d},{wnid} 1 1 20 20")
    (folder / "LOC_val_solution.csv").write_text("\n".join(solution) + "\n")
    return folder


@pytest.mark.parametrize("line", CURATE_LINES)
def test_readme_command_runs(line, curate_cli, workspace, monkeypatch, request):
    args = shlex.split(line)[3:]
    if args[:1] == ["wordnet"]:
        request.getfixturevalue("nltk_wordnet")  # needs NLTK's WordNet, which CI installs
    monkeypatch.chdir(workspace)
    result = curate_cli(*args)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("line", TRAIN_LINES)
def test_readme_training_flags_parse(line):
    from train.flags import get_args_parser

    if line.startswith("demo"):
        pytest.skip("the demo runs in CI (.ci/run)")
    get_args_parser().parse_args(shlex.split(line))


def test_readme_opens_with_the_two_commands():
    setup = README.split("## Set up and run", 1)[1].split("##", 1)[0]
    assert "uv run curate coarsen --depth 3" in setup and "uv run --extra train pytest" in setup


def all_commands(typer_app):
    command = typer.main.get_command(typer_app)
    for name in command.commands:
        sub = command.commands[name]
        if sub.hidden:  # an old name kept working (`curate recipes`), not one to document
            continue
        if hasattr(sub, "commands"):
            yield from ((f"{name} {n}", c) for n, c in sub.commands.items())
        else:
            yield name, sub


@pytest.mark.parametrize("name,command", list(all_commands(app)))
def test_every_command_has_help_and_is_documented(name, command):
    assert command.help and len(command.help) > 40, name
    assert f"curate {name}" in README, name


@pytest.mark.parametrize("name", ["", *(name for name, _ in all_commands(app))])
def test_switches_read_as_switches_in_help(curate_cli, name):
    """A switch shows no value in --help; Typer's own --help option is the one it still shows as <bool>."""
    result = curate_cli(*name.split(), "--help")
    assert result.exit_code == 0
    assert [line for line in result.stdout.splitlines() if "<bool>" in line and "--help" not in line] == []


@pytest.mark.parametrize("name,option", [("exclude", r"--synset\s+-s\s+WNID\s"), ("extend", r"--branch\s+WNID\s")])
def test_repeatable_options_show_one_value(curate_cli, name, option):
    help_text = curate_cli(name, "--help").stdout
    assert re.search(option, help_text) and "list[str]" not in help_text


def short_options() -> dict[str, set[str]]:
    """Each short option letter of curate's commands and of `python -m train`, with the long names it stands for."""
    from train.flags import get_args_parser

    names: dict[str, set[str]] = {}
    params = [param for _, command in all_commands(app) for param in command.params]
    pairs = [param.opts + param.secondary_opts for param in params]
    parsers = [get_args_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())
            pairs.append(list(action.option_strings))
    for opts in pairs:
        longs = {opt for opt in opts if opt.startswith("--")}
        for short in (opt for opt in opts if not opt.startswith("--")):
            names.setdefault(short, set()).update(longs)
    return names


def test_a_short_option_means_one_thing_everywhere():
    assert {short: longs for short, longs in short_options().items() if len(longs) > 1} == {}


@pytest.mark.parametrize("argv", [["coarsen", "--depth", "3", "-b", "ilsvrc2012"], ["images", "subset", "x.parquet", "-n", "5"]])
def test_a_short_letter_taken_back_is_refused(curate_cli, argv):
    """-b is train's --batch-size (not --base), -n is --classes (not --per-class), -s is --synset (not --seed)."""
    result = curate_cli(*argv)
    assert result.exit_code == 2 and f"No such option: {argv[-2]}" in result.stderr


HELP_EXAMPLES = [(name, line[2:].split("  #")[0]) for name, command in all_commands(app)
                 for line in command.help.splitlines() if line.startswith("$ curate ")]


def test_help_prose_is_one_line_a_paragraph_and_examples_one_a_line(curate_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    lines = [line.strip() for line in curate_cli("exclude", "--help").stdout.splitlines()]
    # the source breaks its lines after "keeps" and after "files under"; the terminal's width decides here
    assert any("keeps 771. coco" in line and "(files under curate/data/" in line for line in lines)
    assert lines[lines.index("Examples:") + 1:][:2] == ["$ curate exclude --targets coco",
                                                        "$ curate exclude -s n02084071   # every dog"]
    assert len(HELP_EXAMPLES) >= 20


@pytest.mark.parametrize("name,example", HELP_EXAMPLES)
def test_help_examples_name_real_options(name, example):
    """Each `$ curate ...` example in a command's help parses as that command's arguments."""
    command = dict(all_commands(app))[name]
    args = shlex.split(example)[1 + len(name.split()):]
    command.make_context(name, args)


PYTEST_LINES = [line.split(" # ")[0].strip() for line in re.findall(r"^uv run --extra train pytest.*$", README, re.M)]
REPO = Path(__file__).parents[2]


def test_the_readme_runs_every_test_as_ci_does():
    """The README's two test commands: the quick one, and the one CI runs (.ci/run), with the slow tests."""
    assert PYTEST_LINES == ["uv run --extra train pytest", "uv run --extra train pytest --slow"]
    assert PYTEST_LINES[1] in (REPO / ".ci" / "run").read_text().splitlines()


@pytest.mark.parametrize("options,runs", [([], False), (["--slow"], True)])
def test_the_slow_stress_test_runs_only_with_slow(options, runs):
    slow = "tests/cli/test_outputs.py::test_show_and_diff_never_abort_at_exit"
    listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", *options, "tests/cli/test_outputs.py"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert (slow in listed.splitlines()) == runs
