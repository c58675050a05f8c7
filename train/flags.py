"""The flags of `python -m train` (torchvision's reference names), made from the settings the configs declare.

    command, config, verbose, given = parse(["pretrain", "--table", "t.parquet", "--epochs", "2"])

Every flag, its help, its default and its group come from its config field (`config.py`, `settings.py`); the
commands' own words are in `COMMANDS`. A flag left out takes the config's default, so `given` (the fields the
command line set) is exactly what argparse found.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass

from train.config import DemoConfig, EvaluateConfig, FinetuneConfig, GridConfig, PretrainConfig, ProposalsConfig, ReportConfig
from train.settings import Declared, declared, words_of
from train.tasks import TASK


@dataclass(frozen=True)
class Command:
    config: type
    help: str
    description: str
    epilog: str = ""


def task_table() -> str:
    """The tasks, and the defaults a task has of its own, for finetune's --help."""
    words = words_of(FinetuneConfig)
    lines = ["tasks:"] + [f"  {task.name:<13} {task.about}" for task in TASK.values()]
    lines += ["", "a task's own defaults (a flag given wins):"]
    for task in TASK.values():
        lines += [f"  {task.name:<13} " + flags(task.defaults)] if task.defaults else []
        lines += [f"  {task.name:<13} with {words[name].split('/')[-1]} {value}: " + flags(more)
                  for name, by_value in task.defaults_by.items() for value, more in by_value.items()]
    return "\n".join(lines)


def flags(values: dict) -> str:
    """Settings and values as flags: '--lr 0.001 --wd 0.0005'."""
    words = words_of(FinetuneConfig)
    return " ".join(f"{words[k].split('/')[-1]} {v}" for k, v in values.items())


COMMANDS = {
    "pretrain": Command(PretrainConfig, "train a network from scratch on an image table's labels",
                        "Train from scratch on the labels of an image table (also under torchrun)."),
    "finetune": Command(
        FinetuneConfig, "transfer a pretrained network to a task",
        "Transfer a pretrain checkpoint to a task: a new classifier (or a Faster R-CNN detector) on its network, trained "
        "on the task's training data less a held-out validation share, scored on its test set once at the end. Writes "
        "checkpoint.pt each epoch (continue with --resume), metrics.jsonl and results.json.", task_table()),
    "evaluate": Command(EvaluateConfig, "top-1/top-5 on the pretraining labels; k-NN on another label set",
                        "Score a pretrain checkpoint on the val split of an image table."),
    "demo": Command(DemoConfig, "the paper's question on a CPU in minutes: a synthetic world, curate, a grid, a report",
                    "Run the demo grid (experiments/demo.toml: a synthetic world of shapes and textures, fine and coarse "
                    "WordNet label sets, a tiny CNN, three seeds) once under each grouping of its world into "
                    "OUTPUT_DIR/<grouping>/, and report each: mean ± std tables and figures. Running it again trains "
                    "nothing."),
    "grid": Command(
        GridConfig, "run an experiment file: every pretraining variant, transfer and k-NN score, once",
        "Run every cell of an experiment file (experiments/ has the paper's and the demo's): pretrain each\n"
        "variant, score it by k-NN, transfer it to each task with each seed. A cell whose inputs and settings are\n"
        "unchanged is not run again; an interrupted one resumes; a failed one is recorded and the grid goes on.\n"
        "Results: OUTPUT_DIR/results.parquet (then: python -m train report OUTPUT_DIR).",
        "examples:\n  python -m train grid experiments/huh2016.toml --dry-run\n"
        "  python -m train grid experiments/demo.toml --output-dir runs/demo\n"
        "  python -m train grid experiments/huh2016.toml --launcher slurm --output-dir /shared/huh2016"),
    "proposals": Command(
        ProposalsConfig, "selective-search proposals of VOC 2007's images, for finetune --detector fast-rcnn",
        "Compute the object proposals Fast R-CNN detects in (OpenCV's selective search, fast mode; needs "
        "opencv-contrib-python-headless) for every trainval and test image of VOC 2007, on every core, into one "
        "Parquet file (one row per image: its path and boxes). Images the file holds already are kept; an "
        "interrupted run, run again, goes on. Use it where Fast R-CNN's own voc_2007_*.mat files are not at hand."),
    "report": Command(ReportConfig, "mean ± std tables and the paper's figures of a grid's results",
                      "Read a grid's results.parquet: print mean ± std over seeds for every variant and task (with the "
                      "paper's published numbers beside ours where it gives them) and draw the paper's figures into "
                      "FOLDER/figures/."),
}
GROUPS = ("run", "transfer", "data", "k-NN", "optimisation", "system", "input size and augmentation")


def help_of(d: Declared) -> str:
    """A setting's help line, with its default (argparse's %(default)s would show its suppressed default)."""
    text = d.setting.help.replace("%", "%%")
    if d.type is bool or d.setting.positional or d.default is MISSING:
        return text
    shown = d.setting.default_help or (None if d.default is None else d.default)
    return f"{text} (default {shown})" if shown is not None else text


def add_setting(parser, d: Declared) -> None:
    """The flag of one setting; its default suppressed, so that a parsed namespace holds only what was given."""
    if d.setting.positional:
        parser.add_argument(d.name, type=d.type, help=help_of(d))
        return
    options = {"dest": d.name, "default": argparse.SUPPRESS, "help": help_of(d)}
    if d.type is bool:
        parser.add_argument(*d.flags, action="store_true", **options)
        return
    metavar = d.setting.metavar or ("{" + ",".join(map(str, d.setting.choices)) + "}" if d.setting.choices else None)
    parser.add_argument(*d.flags, type=d.type, metavar=metavar, required=d.default is MISSING, **options)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Pretrain CNNs on curate's image tables (one GPU, CPU or torchrun), transfer and evaluate them; "
        "`demo` shows the whole story on a CPU in minutes.",
    )
    parser.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        raw = {"formatter_class": argparse.RawDescriptionHelpFormatter} if command.epilog else {}
        sub = commands.add_parser(name, help=command.help, description=command.description, epilog=command.epilog, **raw)
        settings = declared(command.config)
        groups = {title: sub.add_argument_group(title) for title in GROUPS if any(d.setting.group == title for d in settings)}
        for d in settings:
            add_setting(groups.get(d.setting.group, sub), d)  # no group: the command's own options
    return parser


def parse(argv: list[str] | None = None):
    """The command `argv` names, its config, whether --verbose was given, and the config fields the flags
    set (the others have their defaults; a resumed run takes those from its checkpoint)."""
    args = vars(get_args_parser().parse_args(argv))
    command, verbose = args.pop("command"), args.pop("verbose")
    return command, COMMANDS[command].config(**args), verbose, frozenset(args)


WORDS = words_of(*(command.config for command in COMMANDS.values()))  # setting -> its flag, as sentences name it
