"""`python -m train {pretrain,finetune,evaluate,demo}`: parse flags (torchvision's names), run, translate errors.

Every error a user can cause ends as one `Error: <sentence>` line on stderr and exit status 1 (`--verbose`
shows the traceback). stdout carries data: each command prints its final metrics as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from curate.errors import CurateError

MODEL_NAMES = "alexnet, resnet18, resnet50, tiny"


def data_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--table", type=Path, help="image table written by `curate images apply`")
    group.add_argument("--labels", type=Path, help="label manifest (with --images, instead of --table)")
    group.add_argument("--images", type=Path, help="image index (with --labels, instead of --table)")
    group.add_argument("--root", type=Path, help="folder the table's paths are relative to (default: the table's own root)")
    group.add_argument("--val-table", type=Path, help="image table to validate on (default: the table's val split)")
    group.add_argument("--val-images", type=Path, help="image index to validate on, labelled by --labels")
    group.add_argument("--val-root", type=Path, help="root of the validation table's paths (default: its own root)")


def size_options(parser: argparse.ArgumentParser, crop: int = 224, resize: int = 256) -> None:
    group = parser.add_argument_group("input size and augmentation")
    group.add_argument("--train-crop-size", type=int, default=crop, help="random-resized crop size (default %(default)s)")
    group.add_argument("--val-resize-size", type=int, default=resize, help="short side before the centre crop (default %(default)s)")
    group.add_argument("--val-crop-size", type=int, default=crop, help="centre crop size (default %(default)s)")
    group.add_argument("--min-scale", type=float, default=0.08, help="smallest crop area of the random-resized crop (default %(default)s)")


def run_options(parser: argparse.ArgumentParser, epochs: int, lr: float, wd: float, batch: int) -> None:
    group = parser.add_argument_group("optimisation")
    group.add_argument("--model", default="resnet18", help=f"network: {MODEL_NAMES} (default %(default)s)")
    group.add_argument("--epochs", type=int, default=epochs, help="number of epochs (default %(default)s)")
    group.add_argument("-b", "--batch-size", type=int, default=batch, help="images per process and step (default %(default)s)")
    group.add_argument("--lr", type=float, default=lr, help="learning rate (default %(default)s)")
    group.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default %(default)s)")
    group.add_argument("--wd", "--weight-decay", dest="wd", type=float, default=wd, help="weight decay (default %(default)s)")
    group.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    group.add_argument("--label-smoothing", type=float, default=0.0, help="label smoothing (default %(default)s)")
    group.add_argument("--lr-scheduler", choices=["step", "cosine", "constant"], default="step", help="LR schedule (default %(default)s)")
    group.add_argument("--lr-step-size", type=int, default=30, help="step schedule: epochs between decays (default %(default)s)")
    group.add_argument("--lr-gamma", type=float, default=0.1, help="step schedule: decay factor (default %(default)s)")
    group.add_argument("--lr-min", type=float, default=0.0, help="cosine schedule: final LR (default %(default)s)")
    group.add_argument("--lr-warmup-epochs", type=int, default=0, help="linear warm-up epochs (default %(default)s)")
    group.add_argument("--lr-warmup-decay", type=float, default=0.01, help="warm-up starts at LR times this (default %(default)s)")
    system = parser.add_argument_group("system")
    system.add_argument("-j", "--workers", type=int, default=4, help="data-loading processes per process (default %(default)s)")
    system.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda (default %(default)s)")
    system.add_argument("--amp", action="store_true", help="mixed precision: autocast to --amp-dtype")
    system.add_argument("--amp-dtype", choices=["bfloat16", "float16"], default="bfloat16", help="(default %(default)s; float16 adds a GradScaler, CUDA only)")
    system.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    system.add_argument("--compile", action="store_true", help="torch.compile the model")
    system.add_argument("--output-dir", type=Path, help="checkpoint.pt and metrics.jsonl go here")
    system.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    system.add_argument("--use-deterministic-algorithms", action="store_true", help="bitwise-reproducible kernels (slower)")
    system.add_argument("-q", "--quiet", action="store_true", help="no progress bar, epoch lines or summary on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Pretrain CNNs on curate's image tables (one GPU, CPU or torchrun), transfer and evaluate them; "
        "`demo` shows the whole story on a CPU in minutes.",
    )
    parser.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pretrain = commands.add_parser("pretrain", help="train a network from scratch on an image table's labels",
                                   description="Train from scratch on the labels of an image table (also under torchrun).")
    data_options(pretrain)
    run_options(pretrain, epochs=90, lr=0.1, wd=1e-4, batch=32)
    size_options(pretrain)
    pretrain.add_argument("--resume", type=Path, help="continue the run of this checkpoint (same model and manifest)")
    pretrain.add_argument("--test-only", action="store_true", help="only evaluate (with --resume: the checkpoint)")

    finetune = commands.add_parser("finetune", help="transfer a pretrained network to a task",
                                   description="Replace the classifier of a pretrain checkpoint and train on a task.")
    finetune.add_argument("--checkpoint", type=Path, help="pretrain checkpoint (required unless --random-init)")
    finetune.add_argument("--random-init", action="store_true", help="baseline: an untrained --model instead of a checkpoint")
    finetune.add_argument("--task", required=True, choices=["imagefolder", "voc07-cls", "sun397"], help="transfer task")
    finetune.add_argument("--data", type=Path, required=True,
                          help="imagefolder: folder with train/ and val/ class folders; voc07-cls: folder holding "
                          "VOCdevkit/VOC2007 (or that folder); sun397: folder with SUN397/ and Partitions/")
    finetune.add_argument("--mode", choices=["linear", "full"], default="linear",
                          help="linear: frozen features, train the new classifier; full: train all layers (default %(default)s)")
    finetune.add_argument("--backbone-lr-scale", type=float, default=0.1,
                          help="full mode: pretrained layers learn at LR times this (default %(default)s)")
    finetune.add_argument("--partition", type=int, default=1, help="sun397: official partition 1..10 (default %(default)s)")
    run_options(finetune, epochs=30, lr=0.01, wd=0.0, batch=32)
    size_options(finetune)

    evaluate = commands.add_parser("evaluate", help="top-1/top-5 on the pretraining labels; k-NN on another label set",
                                   description="Score a pretrain checkpoint on the val split of an image table.")
    evaluate.add_argument("--checkpoint", type=Path, required=True, help="pretrain checkpoint")
    data_options(evaluate)
    evaluate.add_argument("--knn-labels", type=Path, help="label manifest to score k-NN top-1 against (same images)")
    evaluate.add_argument("--knn-k", type=int, default=20, help="neighbours (default %(default)s)")
    evaluate.add_argument("--knn-temperature", type=float, default=0.07, help="vote weight exp(sim/T) (default %(default)s)")
    evaluate.add_argument("-b", "--batch-size", type=int, default=64, help="images per step (default %(default)s)")
    evaluate.add_argument("-j", "--workers", type=int, default=4, help="data-loading processes (default %(default)s)")
    evaluate.add_argument("--device", default="auto", help="auto, cpu or cuda (default %(default)s)")
    evaluate.add_argument("--amp", action="store_true", help="bf16 autocast")
    evaluate.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    evaluate.add_argument("-q", "--quiet", action="store_true", help="print nothing on stderr")
    size_options(evaluate)

    demo = commands.add_parser("demo", help="the whole story on a CPU in minutes: synthetic data, curate, train, transfer",
                               description="Generate a synthetic ImageNet-layout dataset, curate fine and coarse label "
                               "sets, pretrain on each, score k-NN on fine labels and a linear-probe transfer.")
    demo.add_argument("--output-dir", type=Path, default=Path("demo-output"), help="where data and results go (default %(default)s)")
    demo.add_argument("--epochs", type=int, default=12, help="pretraining epochs per variant (default %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress or table on stderr")
    return parser


def sentence(error: Exception) -> str:
    """The error's sentence; a DataLoader worker wraps it in its traceback text, whose last line holds it."""
    text = str(error).strip()
    if "Original Traceback" in text:
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return text


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "pretrain":
            from train.pretrain import main as command
        elif args.command == "finetune":
            from train.transfer import main as command
        elif args.command == "evaluate":
            from train.evaluate import main as command
        else:
            from train.demo import main as command
        result = command(args)
    except CurateError as error:
        if args.verbose:
            raise
        print(f"Error: {sentence(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    if result is not None:
        print(json.dumps(result, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
