"""Yosinski et al. 2014's transfer: a network whose first n layers are copied, by position, from another
network's checkpoint (`pretrain --copy-from CKPT --copy-layers N`), frozen (--freeze-copied) or trained on."""

from __future__ import annotations

import pytest
import torch
from commands import FAST, error_of, run, tables

from train.models import LAYERS, build_model, copy_layers

# The state_dict keys of the first n layers, written out: what "by position" means for each network.
CAFFENET_FIRST_TWO = {"features.0.weight", "features.0.bias", "features.4.weight", "features.4.bias"}
TINY_FIRST = {f"features.0.{k}" for k in ("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                          "1.num_batches_tracked")}


def two_networks(name: str, classes: tuple[int, int] = (6, 6)):
    torch.manual_seed(1)
    source = build_model(name, classes[0])
    with torch.no_grad():  # every tensor unlike a fresh network's (batch-norm scales and statistics too)
        for tensor in source.state_dict().values():
            tensor.add_(torch.rand_like(tensor) + 1 if tensor.is_floating_point() else 3)
    torch.manual_seed(2)
    return source, build_model(name, classes[1])


@pytest.mark.parametrize("name, count, expected", [("caffenet", 2, CAFFENET_FIRST_TWO), ("tiny", 1, TINY_FIRST)])
def test_the_first_layers_are_the_tensors_at_those_positions(name, count, expected):
    source, target = two_networks(name)
    assert set(copy_layers(target, name, source.state_dict(), count)) == expected


@pytest.mark.parametrize("name", ["caffenet", "alexnet", "tiny", "resnet18"])
def test_copying_n_layers_copies_exactly_those_tensors_and_nothing_else(name):
    for count in range(1, len(LAYERS[name]) + 1):
        source, target = two_networks(name, (6, 4))  # another label count: the classifier is never copied
        before = {key: tensor.clone() for key, tensor in target.state_dict().items()}
        copied = set(copy_layers(target, name, source.state_dict(), count))
        layers = tuple(path + "." for _, paths in LAYERS[name][:count] for path in paths)
        assert copied == {key for key in before if key.startswith(layers)}
        for key, tensor in target.state_dict().items():
            if key in copied:
                assert torch.equal(tensor, source.state_dict()[key]), (count, key)
            else:
                assert torch.equal(tensor, before[key]), (count, key)
                if tensor.is_floating_point() and tensor.numel() > 1 and key.endswith("weight"):
                    assert not torch.equal(tensor, source.state_dict().get(key, tensor * 0)), (count, key)


def test_caffenet_has_the_papers_seven_layers_conv1_to_fc7():
    model = build_model("caffenet", 10)
    kinds = [type(model.get_submodule(paths[0])).__name__ for _, paths in LAYERS["caffenet"]]
    assert [layer for layer, _ in LAYERS["caffenet"]] == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"]
    assert kinds == ["Conv2d"] * 5 + ["Linear"] * 2
    assert [model.get_submodule(paths[0]).out_channels if i < 5 else model.get_submodule(paths[0]).out_features
            for i, (_, paths) in enumerate(LAYERS["caffenet"])] == [96, 256, 384, 384, 256, 4096, 4096]


def test_every_network_has_its_layers_named():
    from train.config import MODELS

    assert set(LAYERS) == set(MODELS)


def copied_run(data, coarse_run, folder, *flags):
    code, result = run(["pretrain", *tables(data["fine"]), *FAST, "--epochs", "2", "--lr", "0.05",
                        "--copy-from", str(coarse_run["checkpoint"]), "--copy-layers", "2", *flags,
                        "--output-dir", str(folder)])
    assert code == 0
    return result, torch.load(folder / "checkpoint.pt", weights_only=True)["model"]


def test_frozen_copied_layers_do_not_change_while_the_rest_trains(data, coarse_run, tmp_path):
    source = torch.load(coarse_run["checkpoint"], weights_only=True)["model"]
    result, trained = copied_run(data, coarse_run, tmp_path, "--freeze-copied")
    assert result["copied_layers"] == ["block1", "block2"] and result["copied_from"] == str(coarse_run["checkpoint"])
    for key, tensor in trained.items():
        if key.startswith(("features.0.", "features.2.")):
            assert torch.equal(tensor, source[key]), key  # weights and batch-norm statistics alike
        elif key.endswith(("running_mean", "weight")) and key in source and source[key].shape == tensor.shape:
            assert not torch.equal(tensor, source[key]), key  # freshly initialised, and trained


def test_copied_layers_not_frozen_learn_with_the_rest(data, coarse_run, tmp_path):
    source = torch.load(coarse_run["checkpoint"], weights_only=True)["model"]
    _, trained = copied_run(data, coarse_run, tmp_path)
    for key in ("features.0.0.weight", "features.2.0.weight", "features.0.1.running_mean"):
        assert not torch.equal(trained[key], source[key]), key


@pytest.mark.parametrize("flags, sentence", [
    (["--copy-layers", "5"], "Error: --copy-layers 5 is more than the 4 layers of tiny (block1, block2, block3, block4)."),
    (["--copy-layers", "2", "--model", "resnet18"], "Error: --copy-from {ckpt} holds a tiny network, not the resnet18 "
                                                    "of --model: layers are copied between networks of one model."),
])
def test_a_copy_no_network_can_take_is_one_sentence(data, coarse_run, tmp_path, capsys, flags, sentence):
    argv = ["pretrain", *tables(data["fine"]), *FAST, "--epochs", "1", "--copy-from", str(coarse_run["checkpoint"]),
            *flags, "--output-dir", str(tmp_path / "run")]
    assert error_of(argv, capsys) == sentence.format(ckpt=coarse_run["checkpoint"])
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.parametrize("flags, sentence", [
    (["--copy-layers", "2"], "Error: --copy-layers says how many layers --copy-from gives: give --copy-from too "
                             "(a pretrain checkpoint)."),
    (["--copy-from", "x.pt"], "Error: --copy-from needs --copy-layers: how many of its layers to copy."),
    (["--freeze-copied"], "Error: --freeze-copied freezes the layers --copy-layers copies: give --copy-layers and "
                          "--copy-from too."),
])
def test_a_copy_half_given_is_one_sentence(data, tmp_path, capsys, flags, sentence):
    argv = ["pretrain", *tables(data["fine"]), *FAST, "--epochs", "1", *flags, "--output-dir", str(tmp_path / "run")]
    assert error_of(argv, capsys) == sentence
