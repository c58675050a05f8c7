"""The flags of `python -m train` (torchvision's reference names), and the configs they build.

    command, config, verbose = parse(["pretrain", "--table", "t.parquet", "--epochs", "2"])

Every default comes from the config classes (`config.py`), so the flags and a config made in Python agree.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from train.config import COMMANDS, DemoConfig, EvaluateConfig, FinetuneConfig, GridConfig, PretrainConfig, defaults, flag
from train.tasks import SETTINGS, TASKS

MODEL_NAMES = "alexnet, caffenet, resnet18, resnet50, tiny"


def data_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--table", type=Path, help="image table written by `curate images apply`")
    group.add_argument("--labels", type=Path, help="label manifest (with --images, instead of --table)")
    group.add_argument("--images", type=Path, help="image index (with --labels, instead of --table)")
    group.add_argument("--root", type=Path, help="folder the table's paths are relative to (default: the table's own root)")
    group.add_argument("--val-table", type=Path, help="image table to validate on (default: the table's val split)")
    group.add_argument("--val-images", type=Path, help="image index to validate on, labelled by --labels")
    group.add_argument("--val-root", type=Path, help="root of the validation table's paths (default: its own root)")
    group.add_argument("--store", type=Path, help="read the table's images from this packed store (`curate images pack`)")
    group.add_argument("--val-store", type=Path, help="read the validation table's images from this packed store")


def size_flags(parser: argparse.ArgumentParser, default: dict) -> None:
    group = parser.add_argument_group("input size and augmentation")
    group.add_argument("--train-crop-size", type=int, default=default["train_crop_size"],
                       help="training crop size (default %(default)s; 227 with --augment caffe)")
    group.add_argument("--val-resize-size", type=int, default=default["val_resize_size"],
                       help="short side before the centre crop; --augment caffe: both sides (default %(default)s)")
    group.add_argument("--val-crop-size", type=int, default=default["val_crop_size"],
                       help="centre crop size (default %(default)s; 227 with --augment caffe)")
    group.add_argument("--min-scale", type=float, default=default["min_scale"], help="smallest crop area of the random-resized crop (default %(default)s)")
    group.add_argument("--augment", choices=["rrc", "caffe"], default=default["augment"],
                       help="rrc: torchvision's random-resized crop (--min-scale..1 of the area, aspect ratio 3/4..4/3) "
                       "resized to --train-crop-size, and a random flip; to evaluate, the short side resized to "
                       "--val-resize-size and the central --val-crop-size. caffe (pretrain, evaluate): Caffe's ImageNet "
                       "recipe, as Huh et al. trained: the image resized to a --val-resize-size square (aspect not kept), "
                       "a random --train-crop-size crop and a random mirror; to evaluate, the central --val-crop-size of "
                       "that square; crop sizes not given are then 227 (default %(default)s)")


def device_flags(group, default: dict) -> None:
    group.add_argument("-b", "--batch-size", type=int, default=default["batch_size"], help="images per process and step (default %(default)s)")
    group.add_argument("-j", "--workers", type=int, default=default["workers"], help="data-loading processes per process (default %(default)s)")
    group.add_argument("--device", default=default["device"], help="auto (CUDA when present), cpu or cuda (default %(default)s)")
    group.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bar, epoch lines or summary on stderr")


def training_flags(parser: argparse.ArgumentParser, default: dict) -> None:
    group = parser.add_argument_group("optimisation")
    group.add_argument("--model", default=default["model"], help=f"network: {MODEL_NAMES} (default %(default)s)")
    group.add_argument("--epochs", type=int, default=default["epochs"], help="number of epochs (default %(default)s)")
    group.add_argument("--lr", type=float, default=default["lr"], help="learning rate (default %(default)s)")
    group.add_argument("--momentum", type=float, default=default["momentum"], help="SGD momentum (default %(default)s)")
    group.add_argument("--wd", "--weight-decay", dest="wd", type=float, default=default["wd"], help="weight decay (default %(default)s)")
    group.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    group.add_argument("--label-smoothing", type=float, default=default["label_smoothing"], help="label smoothing (default %(default)s)")
    group.add_argument("--lr-scheduler", choices=["step", "cosine", "constant"], default=default["lr_scheduler"], help="LR schedule (default %(default)s)")
    group.add_argument("--lr-step-size", type=int, default=default["lr_step_size"], help="step schedule: epochs between decays (default %(default)s)")
    group.add_argument("--lr-gamma", type=float, default=default["lr_gamma"], help="step schedule: decay factor (default %(default)s)")
    group.add_argument("--lr-min", type=float, default=default["lr_min"], help="cosine schedule: final LR (default %(default)s)")
    group.add_argument("--lr-warmup-epochs", type=int, default=default["lr_warmup_epochs"], help="linear warm-up epochs (default %(default)s)")
    group.add_argument("--lr-warmup-decay", type=float, default=default["lr_warmup_decay"], help="warm-up starts at LR times this (default %(default)s)")
    system = parser.add_argument_group("system")
    device_flags(system, default)
    system.add_argument("--amp", action="store_true", help="mixed precision: autocast to --amp-dtype")
    system.add_argument("--amp-dtype", choices=["bfloat16", "float16"], default=default["amp_dtype"], help="(default %(default)s; float16 adds a GradScaler, CUDA only)")
    system.add_argument("--compile", action="store_true", help="torch.compile the model")
    system.add_argument("--output-dir", type=Path,
                        help="the run's folder: checkpoint.pt and metrics.jsonl (default: a new runs/<command>-<date>-<time>; "
                        "with --resume, the checkpoint's folder)")
    system.add_argument("--overwrite", action="store_true", help="replace the run that --output-dir already holds")
    system.add_argument("--seed", type=int, default=default["seed"], help="random seed (default %(default)s)")
    system.add_argument("--use-deterministic-algorithms", action="store_true", help="bitwise-reproducible kernels (slower)")
    size_flags(parser, default)


def task_table() -> str:
    """The tasks, and the defaults a task has of its own, for finetune's --help."""
    lines = ["tasks:"] + [f"  {name:<13} {about}" for name, about in TASKS.items()]
    lines += ["", "a task's own defaults (a flag given wins):"]
    lines += [f"  {name:<13} " + " ".join(f"{flag(k).split('/')[-1]} {v}" for k, v in values.items()) for name, values in SETTINGS.items()]
    return "\n".join(lines)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Pretrain CNNs on curate's image tables (one GPU, CPU or torchrun), transfer and evaluate them; "
        "`demo` shows the whole story on a CPU in minutes.",
    )
    parser.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pretrain = commands.add_parser("pretrain", help="train a network from scratch on an image table's labels",
                                   description="Train from scratch on the labels of an image table (also under torchrun).")
    data_flags(pretrain)
    training_flags(pretrain, defaults(PretrainConfig))
    pretrain.add_argument("--resume", type=Path, help="continue the run of this checkpoint (same model and manifest)")
    pretrain.add_argument("--test-only", action="store_true", help="only evaluate (with --resume: the checkpoint)")

    finetune = commands.add_parser(
        "finetune", help="transfer a pretrained network to a task",
        description="Transfer a pretrain checkpoint to a task: a new classifier (or a Faster R-CNN detector) on its "
        "network, trained on the task's training data less a held-out validation share, scored on its test set once at "
        "the end. Writes checkpoint.pt each epoch (continue with --resume), metrics.jsonl and results.json.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=task_table())
    default = defaults(FinetuneConfig)
    finetune.add_argument("--checkpoint", type=Path, help="pretrain checkpoint (required unless --random-init or --resume)")
    finetune.add_argument("--random-init", action="store_true",
                          help="the scratch baseline: an untrained --model, every layer trained at the full LR")
    finetune.add_argument("--resume", type=Path, help="continue the fine-tune of this checkpoint.pt, with its settings")
    finetune.add_argument("--task", required=True, choices=list(TASKS), help="transfer task (see the list below)")
    finetune.add_argument("--data", type=Path, required=True,
                          help="imagefolder: folder with train/ and val/ class folders; voc07-cls, voc07-det: folder "
                          "holding VOCdevkit/VOC2007 (or that folder); voc12-action: the same for VOC2012; sun397: "
                          "folder with SUN397/ and Partitions/")
    finetune.add_argument("--mode", choices=["linear", "full"], default=None,
                          help="linear: frozen features, train the new classifier; full: train all layers "
                          "(default: linear; full for voc07-det, voc12-action and --random-init)")
    finetune.add_argument("--backbone-lr-scale", type=float, default=default["backbone_lr_scale"],
                          help="full mode: pretrained layers learn at LR times this (default %(default)s)")
    finetune.add_argument("--partition", type=int, default=default["partition"], help="sun397: official partition 1..10 (default %(default)s)")
    finetune.add_argument("--val-fraction", type=float, default=default["val_fraction"],
                          help="share of the training data held out to validate on each epoch; 0 trains on all of it "
                          "(default %(default)s)")
    finetune.add_argument("--test-every-epoch", action="store_true", help="score the test set after every epoch, not only the last")
    finetune.add_argument("--test-crops", choices=["center", "whole", "ten"], default=default["test_crops"],
                          help="how val and test images are scored: center, resize the short side to --val-resize-size "
                          "and take the central --val-crop-size crop; whole, the whole image resized to a --val-crop-size "
                          "square; ten, the four corners and centre of the resized image and their mirrors, scores "
                          "averaged (default %(default)s)")
    finetune.add_argument("--min-size", type=int, default=default["min_size"],
                          help="voc07-det: images resized to this shorter side (default %(default)s, as Fast/Faster R-CNN)")
    finetune.add_argument("--max-size", type=int, default=default["max_size"], help="voc07-det: and at most this longer side (default %(default)s)")
    training_flags(finetune, default)

    evaluate = commands.add_parser("evaluate", help="top-1/top-5 on the pretraining labels; k-NN on another label set",
                                   description="Score a pretrain checkpoint on the val split of an image table.")
    default = defaults(EvaluateConfig)
    evaluate.add_argument("--checkpoint", type=Path, required=True, help="pretrain checkpoint")
    data_flags(evaluate)
    evaluate.add_argument("--knn-labels", type=Path, help="label manifest to score k-NN top-1 against (same images)")
    evaluate.add_argument("--knn-k", type=int, default=default["knn_k"], help="neighbours (default %(default)s)")
    evaluate.add_argument("--knn-temperature", type=float, default=default["knn_temperature"], help="vote weight exp(sim/T) (default %(default)s)")
    system = evaluate.add_argument_group("system")
    device_flags(system, default)
    system.add_argument("--amp", action="store_true", help="bf16 autocast")
    size_flags(evaluate, default)

    demo = commands.add_parser("demo", help="the paper's question on a CPU in minutes: a synthetic world, curate, a grid, a report",
                               description="Run the demo grid (experiments/demo.toml: a synthetic world of shapes and "
                               "textures, fine and coarse WordNet label sets, a tiny CNN, three seeds) and report it: "
                               "mean ± std tables and figures. Running it again trains nothing.")
    default = defaults(DemoConfig)
    demo.add_argument("--output-dir", type=Path, default=default["output_dir"], help="the grid's folder (default %(default)s)")
    demo.add_argument("--experiment", type=Path, help="another experiment file to run as the demo (default experiments/demo.toml)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress or table on stderr")

    grid = commands.add_parser(
        "grid", help="run an experiment file: every pretraining variant, transfer and k-NN score, once",
        description="Run every cell of an experiment file (experiments/ has the paper's and the demo's): pretrain each\n"
        "variant, score it by k-NN, transfer it to each task with each seed. A cell whose inputs and config are\n"
        "unchanged is not run again; an interrupted one resumes; a failed one is recorded and the grid goes on.\n"
        "Results: OUTPUT_DIR/results.parquet (then: python -m train report OUTPUT_DIR).",
        epilog="examples:\n  python -m train grid experiments/huh2016.toml --dry-run\n"
        "  python -m train grid experiments/demo.toml --output-dir runs/demo\n"
        "  python -m train grid experiments/huh2016.toml --launcher slurm --output-dir /shared/huh2016",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    default = defaults(GridConfig)
    grid.add_argument("file", type=Path, help="the experiment file (TOML)")
    grid.add_argument("--output-dir", type=Path, help="the grid's folder, shared by every machine that runs it "
                      "(default runs/grid-NAME)")
    grid.add_argument("--dry-run", action="store_true", help="print the plan: every cell, what is done, what is left and "
                      "its cost in images and GPU-hours; run nothing")
    grid.add_argument("--launcher", choices=["here", "submitit-local", "slurm"], default=default["launcher"],
                      help="here: one cell after another on this machine; slurm: each cell a Slurm job through submitit "
                      "(its [slurm] table: partition, gpus_per_node, timeout_min, ...); submitit-local: the same on this "
                      "machine (default %(default)s)")
    grid.add_argument("--nproc-per-node", type=int, help="run each cell under torchrun with N processes (default: the "
                      "file's nproc_per_node, else 1)")
    grid.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    report = commands.add_parser("report", help="mean ± std tables and the paper's figures of a grid's results",
                                 description="Read a grid's results.parquet: print mean ± std over seeds for every "
                                 "variant and task (with the paper's published numbers beside ours where it gives them) "
                                 "and draw the paper's figures into FOLDER/figures/.")
    report.add_argument("folder", type=Path, help="a grid's output folder (holding results.parquet)")
    report.add_argument("-q", "--quiet", action="store_true", help="no table on stderr")
    return parser


def parse(argv: list[str] | None = None):
    """The command `argv` names, its config, whether --verbose was given, and the config fields the flags
    set (the others have their defaults; a resumed run takes those from its checkpoint)."""
    parser = get_args_parser()
    args = parser.parse_args(argv)
    config = COMMANDS[args.command]
    return args.command, config(**{f.name: getattr(args, f.name) for f in fields(config)}), args.verbose, given(parser, argv)


def given(parser: argparse.ArgumentParser, argv: list[str] | None) -> frozenset[str]:
    """The fields that `argv` sets: parsed again with every default suppressed, only given flags remain."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # no public way in
    for command in commands.choices.values():
        for option in command._actions:
            option.default = argparse.SUPPRESS
    return frozenset(vars(parser.parse_args(argv))) - {"command", "verbose"}
