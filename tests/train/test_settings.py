"""Each run setting declared once: its flag, its check, its role in a run's key, its word in an experiment file
and the flags that give it back all come from the one declaration, and agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from commands import error_of

from train.config import EvaluateConfig, FinetuneConfig, GridConfig, PretrainConfig, explicit
from train.flags import parse
from train.settings import argv_of, defining

CHANGED = {  # a value other than the default for settings of every kind: numbers, switches, choices, paths
    "pretrain": PretrainConfig(table=Path("t.parquet"), batch_size=7, lr=0.5, wd=0.0, amp=True, augment="caffe",
                               lr_scheduler="cosine", output_dir=Path("runs/x"), quiet=True, seed=3),
    "finetune": FinetuneConfig(task="voc07-det", data=Path("VOC"), random_init=True, mode="full", val_fraction=0.0,
                               test_every_epoch=True, epochs=3, min_size=300),
    "evaluate": EvaluateConfig(checkpoint=Path("c.pt"), knn_labels=Path("in1k.parquet"), knn_k=5, batch_size=32),
    "grid": GridConfig(file=Path("x.toml"), dry_run=True, launcher="slurm", nproc_per_node=2),
}


@pytest.mark.parametrize("command", CHANGED)
def test_the_flags_of_a_config_give_that_config_back(command):
    config = CHANGED[command]
    parsed, again, _, given = parse([command, *argv_of(config)])
    assert (parsed, again) == (command, config)
    assert given == explicit(config, None)  # the flags given are the settings that are not their defaults
    assert len(given) >= 4


def test_what_defines_a_run_is_what_its_declarations_say():
    assert set(defining(PretrainConfig())) == {
        "model", "batch_size", "lr", "momentum", "wd", "nesterov", "label_smoothing", "lr_scheduler", "lr_step_size",
        "lr_gamma", "lr_min", "lr_warmup_epochs", "lr_warmup_decay", "amp", "amp_dtype", "channels_last", "augment",
        "input_norm", "bias_lr_scale", "bias_weight_decay",
        "train_crop_size", "val_resize_size", "val_crop_size", "min_scale", "seed", "use_deterministic_algorithms", "epochs",
        "iterations", "copy_layers", "freeze_copied"}
    transfer = set(defining(FinetuneConfig(task="sun397", data=Path("SUN"))))
    assert transfer - set(defining(PretrainConfig())) == {"task", "mode", "head", "random_init", "backbone_lr_scale", "partition",
                                                          "val_fraction", "test_crops", "min_size", "max_size",
                                                          "detector"}


GRID = """
[data]
synthetic = "factors"
train_per_class = 4
[[pretrain]]
name = "a"
labels = "identity"
model = "tiny"
epochs = 1
"""
BAD_VALUES = [  # (what the file says, the sentence after "FILE ")
    ('[[pretrain]]\nname = "b"\nlabels = "identity"\nepochs = "ten"\n', "[[pretrain]] 'b': epochs must be a whole number, not 'ten'."),
    ('[[pretrain]]\nname = "b"\nlabels = "identity"\niterations = "many"\n',
     "[[pretrain]] 'b': iterations must be a whole number, not 'many'."),
    ('[[pretrain]]\nname = "b"\nlabels = "identity"\nepochs = 1\nlr = -1\n', "[[pretrain]] 'b': lr must be 0 or more, not -1.0."),
    ('[[pretrain]]\nname = "b"\nlabels = "identity"\nepochs = 1\nlr = "fast"\n', "[[pretrain]] 'b': lr must be a number, not 'fast'."),
    ('[[pretrain]]\nname = "b"\nlabels = "identity"\nepochs = 1\nsubset_seed = "0"\n',
     "[[pretrain]] 'b': subset_seed must be a whole number, not '0'."),
    ('[[pretrain]]\nname = "b"\nlabels = "identity"\nepochs = 1\nper_class = "most"\n',
     "[[pretrain]] 'b': per_class must be a whole number of at least 1 or \"all\", or a list of them, not 'most'."),
    ('[[pretrain]]\nname = "b"\nlabels = "identity"\nepochs = 1\nseed = [0, -1]\n',
     "[[pretrain]] 'b': seed must be a whole number of at least 0, or a list of them, not [0, -1]."),
    ('[[pretrain]]\nname = "b"\nlabels = "identity"\nepochs = 1\ntable = "t.parquet"\n', "[[pretrain]] 'b': unknown key 'table'"),
    ('[[pretrain]]\nname = "b"\nlabels = "identity"\nepochs = 1\naugment = "fancy"\n',
     "[[pretrain]] 'b': augment must be rrc or caffe, not 'fancy'."),
    ('[[knn]]\nlabels = "identity"\nknn_k = "x"\n', "[[knn]] 'identity': knn_k must be a whole number, not 'x'."),
    ('[[knn]]\nlabels = "identity"\nk = 3\n', "[[knn]] 'identity': 'k' is now knn_k."),
    ('[[transfer]]\ntask = "imagefolder"\ndata = "synthetic"\nepochs = 0\n',
     "[[transfer]] 'imagefolder': epochs must be 1 or more, not 0."),
    ('[[transfer]]\ntask = "voc07-det"\ndata = "VOC"\nmode = "linear"\n',
     "[[transfer]] 'voc07-det': voc07-det trains the whole detector: mode linear is for the classification tasks."),
    ("nproc_per_node = \"2\"\n", ": nproc_per_node must be a whole number, not '2'."),
    ("throughput = \"fast\"\n", ": throughput must be a number, not 'fast'."),
    ("[settings]\nworkers = 1.5\n", "[settings]: workers must be a whole number, not 1.5."),
]


@pytest.mark.parametrize("text,sentence", BAD_VALUES, ids=[s.split(": ", 1)[-1][:40] for _, s in BAD_VALUES])
def test_a_value_of_the_wrong_kind_in_an_experiment_file_is_one_sentence(tmp_path, capsys, text, sentence):
    file = tmp_path / "bad.toml"
    file.write_text(GRID + text if text.startswith("[") else text + GRID)
    line = error_of(["grid", str(file), "--output-dir", str(tmp_path / "out"), "--dry-run"], capsys)
    assert line.startswith(f"Error: {file}{'' if sentence.startswith(':') else ' '}{sentence}"), line
    assert not (tmp_path / "out").exists()


def test_a_setting_given_in_an_experiment_file_reaches_the_run(tmp_path):
    from train.experiment import read_experiment
    from train.grid import Grid

    file = tmp_path / "x.toml"
    file.write_text(GRID + "label_smoothing = 0.1\nnesterov = true\n[settings]\ndevice = \"cpu\"\n")
    grid = Grid(read_experiment(file), tmp_path / "out")
    grid.images.prepare()
    config = grid.config(grid.cells[0])
    assert (config.label_smoothing, config.nesterov, config.device, config.model) == (0.1, True, "cpu", "tiny")
    assert re.fullmatch(r"a-s0", grid.cells[0].name)
