"""The recipes equal the references they cite: every parameter's learning rate and weight decay, read from the
optimizer, against the prototxts and solvers (fast-rcnn's CaffeNet for voc07-det and voc12-action, BVLC's
bvlc_reference_caffenet for pretraining with --augment caffe); the whole training set unless a held-out share
is asked for, and results.json saying which; Caffe's input (BGR 0..255 minus ImageNet's mean pixel) on both
loading paths, and a pretrained network fed the input it learnt on by finetune and evaluate."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from commands import error_of, run, sizes
from PIL import Image

import synthetic_voc
from curate.images.index import ImageIndex
from curate.images.pack import pack
from curate.labels.manifest import read_labels
from train import checkpoint
from train.config import implied_settings, with_task_defaults
from train.data.tables import image_loader, load_table
from train.flags import parse

CPU = ["--device", "cpu", "-j", "0", "-q"]


# --- the prototxts' numbers ------------------------------------------------------------------------------------

# rbgirshick/fast-rcnn models/CaffeNet/train.prototxt: per layer, the (lr_mult, decay_mult) of its weights and of
# its bias; solver.prototxt: base_lr 0.001, weight_decay 0.0005.
FAST_RCNN_CAFFENET = {
    "conv1": ((0, 0), (0, 0)),
    **{layer: ((1, 1), (2, 0)) for layer in ("conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "cls_score", "bbox_pred")},
}
FAST_RCNN_SOLVER = {"base_lr": 0.001, "weight_decay": 0.0005}
# rbgirshick/py-faster-rcnn models/pascal_voc/VGG_CNN_M_1024/faster_rcnn_end2end/train.prototxt: the RPN's layers,
# lr_mult 1 and 2; the bias decay_mult there is Caffe's default 1, here 0 like every other bias (README: a departure).
RPN = {layer: ((1, 1), (2, 0)) for layer in ("rpn_conv/3x3", "rpn_cls_score", "rpn_bbox_pred")}
# BVLC/caffe models/bvlc_reference_caffenet/train_val.prototxt: every layer weights (1, 1), biases (2, 0);
# solver.prototxt: base_lr 0.01, weight_decay 0.0005.
BVLC_CAFFENET = {layer: ((1, 1), (2, 0)) for layer in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")}
BVLC_SOLVER = {"base_lr": 0.01, "weight_decay": 0.0005}

# Where each Caffe layer is in the torch models: the detector (`detection.alexnet_parts` and torchvision's
# Faster R-CNN), and CaffeNet itself (`models.CaffeNet`; a classification fine-tune puts its new layer at fc8's place).
DETECTOR_LAYERS = {"backbone.body.0": "conv1", "backbone.body.4": "conv2", "backbone.body.8": "conv3",
                   "backbone.body.10": "conv4", "backbone.body.12": "conv5", "roi_heads.box_head.1": "fc6",
                   "roi_heads.box_head.4": "fc7", "roi_heads.box_predictor.cls_score": "cls_score",
                   "roi_heads.box_predictor.bbox_pred": "bbox_pred", "rpn.head.conv.0.0": "rpn_conv/3x3",
                   "rpn.head.cls_logits": "rpn_cls_score", "rpn.head.bbox_pred": "rpn_bbox_pred"}
CAFFENET_LAYERS = {"features.0": "conv1", "features.4": "conv2", "features.8": "conv3", "features.10": "conv4",
                   "features.12": "conv5", "classifier.0": "fc6", "classifier.3": "fc7", "classifier.6": "fc8"}


def expected(prototxt: dict, solver: dict, layers: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Parameter name -> (learning rate, weight decay) as Caffe computes them: base_lr x lr_mult, weight_decay x
    decay_mult."""
    result = {}
    for module, layer in layers.items():
        for kind, (lr_mult, decay_mult) in zip(("weight", "bias"), prototxt[layer]):
            result[f"{module}.{kind}"] = (solver["base_lr"] * lr_mult, solver["weight_decay"] * decay_mult)
    return result


def spy_on_sgd(monkeypatch, module) -> dict:
    """Every trainable parameter's (learning rate, weight decay) in the optimizer `module.sgd` makes, by name, and
    the parameters it leaves out."""
    seen, real = {}, module.sgd

    def spy(model, *args):
        optimizer = real(model, *args)
        name = {id(p): n for n, p in model.named_parameters()}
        seen["trained"] = {name[id(p)]: (group["lr"], group["weight_decay"]) for group in optimizer.param_groups
                           for p in group["params"]}
        seen["frozen"] = {n: (0.0, 0.0) for n, p in model.named_parameters() if not p.requires_grad}
        return optimizer

    monkeypatch.setattr(module, "sgd", spy)
    return seen


def assert_as_caffe(seen: dict, want: dict[str, tuple[float, float]]) -> None:
    got = {**seen["trained"], **seen["frozen"]}
    assert sorted(got) == sorted(want)  # every parameter of the model, and no other
    for name, (lr, decay) in want.items():
        assert got[name] == pytest.approx((lr, decay), rel=1e-12, abs=0), name
        assert (name in seen["frozen"]) == (lr == 0), name  # lr_mult 0: frozen, not in the optimizer


# --- fixtures --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def caffe_pretrained(few, tmp_path_factory) -> dict:
    """CaffeNet pretrained as Caffe trains it (--augment caffe, BVLC's solver numbers) at the smallest input it
    takes, and what its optimizer gave each parameter."""
    out = tmp_path_factory.mktemp("caffenet")
    from train import pretrain

    with pytest.MonkeyPatch.context() as patch:
        seen = spy_on_sgd(patch, pretrain)
        code, result = run(["pretrain", *few, *CPU, "--model", "caffenet", "--augment", "caffe", *sizes(39), "-b", "8",
                            "--epochs", "1", "--lr", "0.01", "--wd", "5e-4", "--output-dir", str(out)])
    assert code == 0
    return {"checkpoint": out / "checkpoint.pt", "result": result, "seen": seen}


@pytest.fixture(scope="module")
def small_voc(tmp_path_factory):
    """VOC 2007 detection (4 trainval, 2 test images) and VOC 2012 actions (8 train, 4 val images)."""
    root = tmp_path_factory.mktemp("voc")
    synthetic_voc.write_detection(root, {"trainval": 4, "test": 2}, seed=1, size=64)
    synthetic_voc.write_action(root, {"train": 8, "val": 4}, seed=2, size=64)
    return root


# --- per-parameter learning rates and weight decays --------------------------------------------------------------


def test_caffe_pretraining_gives_every_parameter_the_bvlc_prototxt_lr_and_decay(caffe_pretrained):
    assert_as_caffe(caffe_pretrained["seen"], expected(BVLC_CAFFENET, BVLC_SOLVER, CAFFENET_LAYERS))


def test_voc07_det_gives_every_parameter_fast_rcnn_s_lr_and_decay(caffe_pretrained, small_voc, tmp_path, monkeypatch):
    from train import finetune

    seen = spy_on_sgd(monkeypatch, finetune)
    code, result = run(["finetune", "--checkpoint", str(caffe_pretrained["checkpoint"]), "--task", "voc07-det", "--data",
                        str(small_voc), *CPU, "--min-size", "64", "--max-size", "96", "--epochs", "1",
                        "--output-dir", str(tmp_path)])
    assert code == 0
    assert_as_caffe(seen, expected({**FAST_RCNN_CAFFENET, **RPN}, FAST_RCNN_SOLVER, DETECTOR_LAYERS))
    assert result["settings"]["--backbone-lr-scale"] == 1.0 and result["settings"]["--bias-lr-scale"] == 2.0


def test_voc12_action_gives_every_parameter_fast_rcnn_s_lr_and_decay(caffe_pretrained, small_voc, tmp_path, monkeypatch):
    """Every layer trains (conv1 too: the fast-rcnn prototxt freezes it for detection only), fc8 is new."""
    from train import finetune

    seen = spy_on_sgd(monkeypatch, finetune)
    code, _ = run(["finetune", "--checkpoint", str(caffe_pretrained["checkpoint"]), "--task", "voc12-action", "--data",
                   str(small_voc), *CPU, *sizes(39), "--epochs", "1", "--output-dir", str(tmp_path)])
    assert code == 0
    trained_conv1 = {**FAST_RCNN_CAFFENET, "conv1": FAST_RCNN_CAFFENET["conv2"], "fc8": FAST_RCNN_CAFFENET["cls_score"]}
    assert_as_caffe(seen, expected(trained_conv1, FAST_RCNN_SOLVER, CAFFENET_LAYERS))


def test_a_flag_given_wins_over_the_task_s_multipliers(caffe_pretrained, small_voc, tmp_path, monkeypatch):
    from train import finetune

    seen = spy_on_sgd(monkeypatch, finetune)
    code, _ = run(["finetune", "--checkpoint", str(caffe_pretrained["checkpoint"]), "--task", "voc12-action", "--data",
                   str(small_voc), *CPU, *sizes(39), "--epochs", "1", "--backbone-lr-scale", "0.1", "--bias-lr-scale", "1",
                   "--bias-weight-decay", "1e-4", "--output-dir", str(tmp_path)])
    assert code == 0
    assert seen["trained"]["features.4.weight"] == pytest.approx((1e-4, 5e-4))
    assert seen["trained"]["features.4.bias"] == pytest.approx((1e-4, 1e-4))
    assert seen["trained"]["classifier.6.bias"] == pytest.approx((1e-3, 1e-4))


SETTLED = [  # the flags, and the backbone LR scale, bias LR scale, bias weight decay and held-out share they run with
    (["--task", "voc07-det"], (1.0, 2.0, 0.0, 0.0)),
    (["--task", "voc12-action"], (1.0, 2.0, 0.0, 0.0)),
    (["--task", "voc12-action", "--val-fraction", "0.1"], (1.0, 2.0, 0.0, 0.1)),
    (["--task", "sun397"], (0.1, 1.0, None, 0.1)),
    (["--task", "voc07-cls"], (0.1, 1.0, None, 0.1)),
]


@pytest.mark.parametrize("argv,settled", SETTLED, ids=[" ".join(argv) for argv, _ in SETTLED])
def test_the_tasks_that_cite_fast_rcnn_take_its_multipliers_and_all_their_data(argv, settled):
    _, config, _, given = parse(["finetune", "--data", "d", "--checkpoint", "c.pt", *argv])
    config = with_task_defaults(config, given)
    assert (config.backbone_lr_scale, config.bias_lr_scale, config.bias_weight_decay, config.val_fraction) == settled


IMPLIED = [  # pretrain's flags, and the input, bias LR scale and bias weight decay they run with
    ([], ("torchvision", 1.0, None)),
    (["--augment", "caffe"], ("caffe", 2.0, 0.0)),
    (["--augment", "caffe", "--bias-lr-scale", "1"], ("caffe", 1.0, 0.0)),
    (["--augment", "caffe", "--input-norm", "torchvision", "--bias-weight-decay", "5e-4"], ("torchvision", 2.0, 5e-4)),
    (["--input-norm", "caffe"], ("caffe", 1.0, None)),
]


@pytest.mark.parametrize("argv,settled", IMPLIED, ids=[" ".join(argv) or "no flags" for argv, _ in IMPLIED])
def test_augment_caffe_implies_caffe_s_input_and_bias_multipliers_unless_given(argv, settled):
    _, config, _, given = parse(["pretrain", "--table", "t.parquet", *argv])
    config = implied_settings(config, given)
    assert (config.input_norm, config.bias_lr_scale, config.bias_weight_decay) == settled


def test_a_pretrain_run_records_caffe_s_settings(caffe_pretrained):
    config = torch.load(caffe_pretrained["checkpoint"], weights_only=True)["config"]
    assert (config["input_norm"], config["bias_lr_scale"], config["bias_weight_decay"]) == ("caffe", 2.0, 0.0)
    assert caffe_pretrained["result"]["input_norm"] == "caffe"


# --- the data a task trains on ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [None, 0.25], ids=["default", "a quarter"])
def test_results_say_how_much_of_the_training_split_was_held_out(small_voc, tmp_path, fraction):
    from train.tasks import TASK

    persons = len(TASK["voc12-action"].load(small_voc, None).train)
    held_out = round(fraction * persons) if fraction else 0
    code, result = run(["finetune", "--random-init", "--model", "tiny", "--task", "voc12-action", "--data", str(small_voc),
                        *CPU, *sizes(32), "--epochs", "1", *(["--val-fraction", str(fraction)] if fraction else []),
                        "--output-dir", str(tmp_path)])
    assert code == 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert (saved["train_samples"], saved["held_out_samples"]) == (persons - held_out, held_out)
    assert saved["held_out"] == (f"none: all {persons} training samples trained on (--val-fraction 0)" if not fraction else
                                 f"{held_out} of the {persons} training samples (--val-fraction 0.25), chosen by a fixed "
                                 "hash of their positions (the same for every seed), validated on after each epoch and "
                                 "not trained on")
    assert ("val_map" in saved) == bool(fraction)


# --- Caffe's input --------------------------------------------------------------------------------------------

CAFFE_MEAN_BGR = (104.0069879317889, 116.66876761696767, 122.6789143406786)  # caffe examples/00-classification.ipynb
TWO_COLOURS = ((200, 100, 50), (10, 20, 240))  # RGB of the left and right halves of the known image


@pytest.fixture(scope="module")
def known(data, tmp_path_factory) -> dict:
    """An image table of one known 40x40 PNG (left half one colour, right half another) under a real wnid, and a
    raw store of it."""
    out = tmp_path_factory.mktemp("known")
    folder = out / "images" / "n02085620"
    folder.mkdir(parents=True)
    pixels = np.zeros((40, 40, 3), dtype=np.uint8)
    pixels[:, :20], pixels[:, 20:] = TWO_COLOURS
    for name in ("a", "b"):
        Image.fromarray(pixels).save(folder / f"{name}.png")
    index = ImageIndex.build(out / "images", split="val")
    labels = read_labels(data["fine"]["labels"])
    index.label(labels, allow_missing=True).write(out / "table.parquet")
    store, _ = pack(index, out / "store", fmt="raw", size=40)
    store.index.label(labels, allow_missing=True).write(out / "raw.parquet")
    return {"table": load_table(out / "table.parquet"), "raw": load_table(out / "raw.parquet")}


@pytest.mark.parametrize("path", ["table", "raw"], ids=["per image", "raw store on the device path"])
@pytest.mark.parametrize("augment", ["caffe", "rrc"])
def test_a_batch_is_fed_to_the_network_as_its_input_says(known, path, augment):
    """--augment caffe: BGR 0..255 minus ImageNet's mean pixel; rrc: torchvision's RGB mean/std normalisation."""
    from train.data.loaders import to_device

    _, config, _, given = parse(["pretrain", "--table", "t.parquet", "--augment", augment, *sizes(40), "-j", "0"])
    config = implied_settings(config, given)
    on_cpu = SimpleNamespace(device=torch.device("cpu"), rank=0, world_size=1)
    (images, _), = list(image_loader(known[path], [0, 1], config, on_cpu, train=False))
    fed = to_device(images, torch.device("cpu"), input_norm=config.input_norm)
    assert fed.shape == (2, 3, 40, 40)
    for half, rgb in zip((slice(0, 20), slice(20, 40)), TWO_COLOURS):
        if augment == "caffe":
            want = [rgb[2] - CAFFE_MEAN_BGR[0], rgb[1] - CAFFE_MEAN_BGR[1], rgb[0] - CAFFE_MEAN_BGR[2]]
        else:
            want = [(v / 255 - m) / s for v, m, s in zip(rgb, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))]
        for channel, value in enumerate(want):
            assert torch.allclose(fed[:, channel, :, half], torch.tensor(value), atol=1e-4), (half, channel)


def test_every_declared_input_is_defined():
    from train.config import INPUT_NORMS as DECLARED
    from train.data.loaders import INPUT_NORMS

    assert DECLARED == tuple(INPUT_NORMS)


def spy_on_inputs(monkeypatch) -> list[str]:
    """The input normalisation of every batch a network is fed, classification and detection alike."""
    from train import detection, loops

    fed, to_device, to_unit = [], loops.to_device, detection.to_unit

    def recorded_to_device(images, device, channels_last=False, input_norm="torchvision"):
        fed.append(input_norm)
        return to_device(images, device, channels_last, input_norm)

    def recorded_to_unit(image, device, input_norm):
        fed.append(input_norm)
        return to_unit(image, device, input_norm)

    monkeypatch.setattr(loops, "to_device", recorded_to_device)
    monkeypatch.setattr(detection, "to_unit", recorded_to_unit)
    return fed


@pytest.mark.parametrize("task", ["voc12-action", "voc07-det"])
def test_finetune_feeds_a_caffe_pretrained_network_caffe_s_input(caffe_pretrained, small_voc, tmp_path, monkeypatch, task):
    fed = spy_on_inputs(monkeypatch)
    code, result = run(["finetune", "--checkpoint", str(caffe_pretrained["checkpoint"]), "--task", task, "--data",
                        str(small_voc), *CPU, *sizes(39), "--min-size", "64", "--max-size", "96", "--epochs", "1",
                        "--output-dir", str(tmp_path)])
    assert code == 0 and fed and set(fed) == {"caffe"}
    assert result["settings"]["--input-norm"] == "caffe"
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["config"]["input_norm"] == "caffe"


def test_the_detector_normalises_caffe_s_way():
    """The detector's own transform gets 0..1 BGR images: minus the mean pixel and over 1/255, they are Caffe's input."""
    from train.detection import build_detector, to_unit
    from train.models import build_model

    detector = build_detector(build_model("caffenet", 5), "caffenet", 20, 64, 96, pretrained=True, input_norm="caffe")
    image = torch.zeros(3, 4, 4, dtype=torch.uint8)
    image[0], image[1], image[2] = 200, 100, 50
    fed = detector.transform.normalize(to_unit(image, torch.device("cpu"), "caffe"))
    want = [50 - CAFFE_MEAN_BGR[0], 100 - CAFFE_MEAN_BGR[1], 200 - CAFFE_MEAN_BGR[2]]
    assert [float(fed[c, 0, 0]) for c in range(3)] == pytest.approx(want, abs=1e-3)


def test_evaluate_feeds_a_caffe_pretrained_network_caffe_s_input(caffe_pretrained, data, few, monkeypatch):
    fed = spy_on_inputs(monkeypatch)
    code, result = run(["evaluate", "--checkpoint", str(caffe_pretrained["checkpoint"]), *few, *CPU,
                        "--knn-labels", str(data["fine"]["labels"]), "-b", "8"])
    assert code == 0 and result["input_norm"] == "caffe"
    assert len(fed) == 3 and set(fed) == {"caffe"}  # top-1, the k-NN bank and its queries: a batch each


@pytest.mark.parametrize("command", ["finetune", "evaluate"])
def test_another_input_for_a_pretrained_network_is_refused(caffe_pretrained, small_voc, few, tmp_path, capsys, command):
    argv = (["finetune", "--task", "voc12-action", "--data", str(small_voc), "--output-dir", str(tmp_path / "run")]
            if command == "finetune" else ["evaluate", *few])
    checkpoint = caffe_pretrained["checkpoint"]
    line = error_of([*argv, "--checkpoint", str(checkpoint), *CPU, *sizes(39), "--input-norm", "torchvision"], capsys)
    assert line == (f"Error: --input-norm torchvision contradicts {checkpoint}, whose network was pretrained on "
                    "--input-norm caffe input: leave it out (a network is fed the input it learnt on).")
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def old_checkpoint(caffe_pretrained, tmp_path_factory):
    """The caffe checkpoint as one written before `input_norm` existed would be: without the record."""
    saved = torch.load(caffe_pretrained["checkpoint"], weights_only=True)
    for name in ("input_norm", "bias_lr_scale", "bias_weight_decay"):
        del saved["config"][name]
    path = tmp_path_factory.mktemp("old") / "checkpoint.pt"
    checkpoint.save(path, **saved)
    return path


def test_an_old_checkpoint_is_fed_torchvision_s_input(old_checkpoint, small_voc, few, tmp_path, monkeypatch):
    fed = spy_on_inputs(monkeypatch)
    code, result = run(["finetune", "--checkpoint", str(old_checkpoint), "--task", "voc12-action", "--data",
                        str(small_voc), *CPU, *sizes(39), "--epochs", "1", "--output-dir", str(tmp_path)])
    assert code == 0 and result["settings"]["--input-norm"] == "torchvision" and set(fed) == {"torchvision"}
    fed.clear()
    code, result = run(["evaluate", "--checkpoint", str(old_checkpoint), *few, *CPU])
    assert code == 0 and result["input_norm"] == "torchvision" and set(fed) == {"torchvision"}
