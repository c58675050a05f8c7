"""The flags build the configs the runs take: defaults come from one place, and every flag lands."""

from __future__ import annotations

import pytest

from train.config import DemoConfig, EvaluateConfig, FinetuneConfig, GridConfig, PretrainConfig, ReportConfig
from train.flags import parse

REQUIRED = {
    "pretrain": ([], {}),
    "finetune": (["--task", "sun397", "--data", "SUN"], {"task": "sun397", "data": "SUN"}),
    "evaluate": (["--checkpoint", "c.pt"], {"checkpoint": "c.pt"}),
    "demo": ([], {}),
    "grid": (["x.toml"], {"file": "x.toml"}),
    "report": (["runs/x"], {"folder": "runs/x"}),
}
CONFIGS = {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "evaluate": EvaluateConfig, "demo": DemoConfig,
           "grid": GridConfig, "report": ReportConfig}


@pytest.mark.parametrize("command", CONFIGS)
def test_flags_left_out_give_the_config_defaults(command):
    from pathlib import Path

    argv, required = REQUIRED[command]
    parsed, config, verbose, given = parse([command, *argv])
    assert (parsed, verbose, given) == (command, False, frozenset(required))
    assert config == CONFIGS[command](**{key: Path(value) if key != "task" else value for key, value in required.items()})


def test_flags_given_land_in_the_config():
    _, config, verbose, given = parse(["--verbose", "pretrain", "--table", "t.parquet", "-b", "7", "--lr", "0.5", "--wd", "0",
                                       "--epochs", "3", "-j", "2", "--amp", "--amp-dtype", "float16", "--channels-last"])
    assert verbose
    assert given == {"table", "batch_size", "lr", "wd", "epochs", "workers", "amp", "amp_dtype", "channels_last"}
    assert (str(config.table), config.batch_size, config.lr, config.wd, config.epochs, config.workers) == ("t.parquet", 7, 0.5, 0.0, 3, 2)
    assert (config.amp, config.amp_dtype, config.channels_last, config.compile) == (True, "float16", True, False)


def test_commands_differ_where_the_paper_s_recipes_do():
    assert (PretrainConfig().epochs, PretrainConfig().lr, PretrainConfig().wd) == (90, 0.1, 1e-4)
    finetune = FinetuneConfig(task="voc07-cls", data="VOC")
    assert (finetune.epochs, finetune.lr, finetune.wd) == (30, 0.01, 0.0)
    assert EvaluateConfig(checkpoint="c.pt").batch_size == 64


def test_the_model_setting_offers_every_model_there_is():
    from train.config import MODELS as DECLARED
    from train.models import MODELS

    assert DECLARED == tuple(MODELS)
