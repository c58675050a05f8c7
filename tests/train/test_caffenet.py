"""The paper's network and input recipe: CaffeNet (Caffe's `bvlc_reference_caffenet`, the AlexNet variant Huh
et al. trained) layer by layer against its train_val.prototxt, and its pretraining at the smallest input it
takes; Caffe's crops (`--augment caffe`), a function of (seed, epoch, sample) alone, alike on both loading
paths, with torchvision's (`rrc`) as they were; the crop sizes --augment caffe implies, and runs that
record it and resume with it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from commands import FAST, error_of, run, sizes
from torch import nn
from torchvision.transforms import v2

from curate.images.index import ImageIndex
from curate.images.pack import pack
from curate.labels.manifest import read_labels
from train import checkpoint
from train.config import EvaluateConfig, PretrainConfig, check, explicit, implied_sizes
from train.data.crops import CaffeCrop, SeededResizedCrop, caffe_offsets, crop_boxes
from train.data.loaders import EvalTransform, ImageDataset, ShardSampler, eval_transform, train_transform
from train.data.stores import RawBatches
from train.data.tables import image_loader, load_table
from train.errors import TrainError
from train.flags import parse
from train.models import CaffeNet, backbone, build_model, feature_dim

# BVLC/caffe master, models/bvlc_reference_caffenet/train_val.prototxt: num_output, kernel_size, stride, pad,
# group, weight_filler std, bias_filler value; fc8's num_output is the class count
LAYERS = {
    "conv1": (96, 11, 4, 0, 1, 0.01, 0.0),
    "conv2": (256, 5, 1, 2, 2, 0.01, 1.0),
    "conv3": (384, 3, 1, 1, 1, 0.01, 0.0),
    "conv4": (384, 3, 1, 1, 2, 0.01, 1.0),
    "conv5": (256, 3, 1, 1, 2, 0.01, 1.0),
    "fc6": (4096, None, None, None, None, 0.005, 1.0),
    "fc7": (4096, None, None, None, None, 0.005, 1.0),
    "fc8": (1000, None, None, None, None, 0.01, 0.0),
}


@pytest.fixture(scope="module")
def net() -> CaffeNet:
    torch.manual_seed(0)
    return build_model("caffenet", 1000)


def named_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The weighted layers by their Caffe names, in order."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return dict(zip(LAYERS, layers, strict=True))


@pytest.mark.parametrize("name", LAYERS)
def test_each_layer_is_shaped_and_initialised_as_caffe_s(net, name):
    num_output, kernel, stride, pad, group, std, bias = LAYERS[name]
    layer = named_layers(net)[name]
    assert layer.weight.shape[0] == num_output
    if isinstance(layer, nn.Conv2d):
        assert (layer.kernel_size, layer.stride, layer.padding) == ((kernel, kernel), (stride, stride), (pad, pad))
        assert layer.groups == group
    assert torch.equal(layer.bias, torch.full_like(layer.bias, bias))
    weights = layer.weight.detach()
    assert weights.std().item() == pytest.approx(std, rel=0.03)  # conv1, the smallest, has 34,848 weights
    assert abs(weights.mean().item()) < std / 20


def test_the_layers_come_in_caffe_s_order(net):
    """Pool, then LRN (CaffeNet's order; the original AlexNet normalises before pooling); dropout after the ReLU."""
    kinds = [type(m).__name__ for m in net.features]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "LocalResponseNorm", "Conv2d", "ReLU", "MaxPool2d", "LocalResponseNorm",
                     "Conv2d", "ReLU", "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    assert [type(m).__name__ for m in net.classifier] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "ScoreLayer"]
    assert [m.p for m in net.classifier if isinstance(m, nn.Dropout)] == [0.5, 0.5]
    pools = [m for m in net.features if isinstance(m, nn.MaxPool2d)]
    assert [(m.kernel_size, m.stride, m.ceil_mode) for m in pools] == [(3, 2, True)] * 3
    norms = [m for m in net.features if isinstance(m, nn.LocalResponseNorm)]
    assert [(m.size, m.alpha, m.beta, m.k) for m in norms] == [(5, 1e-4, 0.75, 1.0)] * 2


def test_the_lrn_computes_caffe_s_formula(net):
    """Caffe's LRN across channels: x / (k + alpha / local_size * sum of x^2 over the 5 channels around)^beta."""
    norm = next(m for m in net.features if isinstance(m, nn.LocalResponseNorm))
    x = torch.randn(2, 8, 3, 3) * 30  # large enough for the normalisation to matter
    padded = nn.functional.pad(x.pow(2), (0, 0, 0, 0, 2, 2))
    window = torch.stack([padded[:, c : c + 5].sum(1) for c in range(8)], dim=1)
    assert torch.allclose(norm(x), x / (1 + 1e-4 / 5 * window).pow(0.75), rtol=1e-5)
    assert not torch.allclose(norm(x), x, rtol=1e-3)


@pytest.mark.parametrize("size", [227, 224])
def test_227_px_and_224_px_give_caffe_s_6x6x256_pool5(net, size):
    """227 px: 55, 27, 13, 6. At 224 px only Caffe's ceil-mode pools still give 6x6 (54 -> 27; floor: 26 -> 12 -> 5)."""
    with torch.no_grad():
        assert net.features(torch.zeros(1, 3, size, size)).shape == (1, 256, 6, 6)


def test_the_parameter_count_is_caffe_s(net):
    def conv(out, into, kernel, groups=1):
        return out * (into // groups) * kernel * kernel + out

    def fc(into, out):
        return into * out + out

    expected = (conv(96, 3, 11) + conv(256, 96, 5, 2) + conv(384, 256, 3) + conv(384, 384, 3, 2) + conv(256, 384, 3, 2)
                + fc(256 * 6 * 6, 4096) + fc(4096, 4096) + fc(4096, 1000))
    assert expected == 60_965_224
    assert sum(p.numel() for p in net.parameters()) == expected


def test_the_classifier_is_found_where_transfer_looks_for_it():
    model = build_model("caffenet", 7)
    assert feature_dim(model, "caffenet") == 4096 and model.classifier[6].out_features == 7
    features = backbone(model, "caffenet").eval()
    with torch.no_grad():
        assert features(torch.zeros(2, 3, 227, 227)).shape == (2, 4096)


# --- pretraining ---------------------------------------------------------------------------------------------


SMALLEST = 39  # conv1 (11, stride 4) must leave 8 px, so that pool1, pool2 and pool5 (3, stride 2, ceil) leave 4, 2, 1


def test_caffenet_pretrains_at_the_smallest_input_it_takes(few, tmp_path):
    code, result = run(["pretrain", *few, *FAST, "--model", "caffenet", *sizes(SMALLEST), "-b", "8", "--epochs", "1",
                        "--lr", "0.01", "--output-dir", str(tmp_path)])
    assert code == 0 and result["model"] == "caffenet" and result["val_images"] == 4
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True, mmap=True)
    assert saved["model_name"] == "caffenet" and saved["model"]["features.0.weight"].shape == (96, 3, 11, 11)


@pytest.mark.parametrize("px", [32, SMALLEST - 1])
def test_a_smaller_input_is_refused_in_one_sentence(few, tmp_path, capsys, px):
    line = error_of(["pretrain", *few, *FAST, "--model", "caffenet", *sizes(px), "--epochs", "1",
                     "--output-dir", str(tmp_path / "run")], capsys)
    assert line == f"Error: --model caffenet cannot take {px} px inputs: raise the crop sizes."
    assert not (tmp_path / "run").exists()


# --- Caffe's crops -----------------------------------------------------------------------------------------


def test_caffe_s_crop_depends_on_seed_epoch_and_sample_alone():
    offsets, flips = caffe_offsets(7, 3, np.arange(50), 256, 227)
    again, again_flips = caffe_offsets(7, 3, [41, 5, 17], 256, 227)  # another batch, another order
    assert (again == offsets[[41, 5, 17]]).all() and (again_flips == flips[[41, 5, 17]]).all()
    for other in (caffe_offsets(7, 4, np.arange(50), 256, 227), caffe_offsets(8, 3, np.arange(50), 256, 227)):
        assert (other[0] != offsets).any(axis=1).mean() > 0.9  # another epoch or seed: other crops


def test_caffe_s_offsets_are_uniform_over_0_to_29_and_half_the_crops_mirrored():
    offsets, flips = caffe_offsets(0, 0, np.arange(6000), 256, 227)  # Caffe: Rand(256 - 227 + 1) on each axis
    for axis in (0, 1):
        counts = np.bincount(offsets[:, axis], minlength=31)
        assert counts[30:].sum() == 0 and counts[:30].min() > 140  # 200 expected of each of 0..29
    assert abs(np.corrcoef(offsets[:, 0], offsets[:, 1])[0, 1]) < 0.05  # the two axes drawn apart
    assert 0.46 < flips.mean() < 0.54


def picture(height: int = 300, width: int = 200) -> torch.Tensor:
    """An image taller than the square it is resized to, and narrower: shrunk one way, stretched the other."""
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_a_training_crop_is_a_227_window_of_the_256x256_resize_mirrored_or_not():
    image = picture()
    square = v2.functional.resize(image, [256, 256], antialias=True)  # the aspect ratio not kept
    samples = list(range(10))
    offsets, flips = caffe_offsets(5, 2, samples, 256, 227)
    assert flips.any() and not flips.all()
    crops = train_transform(227, seed=5, augment="caffe", resize_size=256).many([image] * len(samples), samples, 2)
    for crop, (top, left), flip in zip(crops, offsets, flips):
        window = square[:, top : top + 227, left : left + 227]
        assert torch.equal(crop, window.flip(-1) if flip else window)


@pytest.mark.parametrize("resize,crop,start", [(256, 227, 14), (255, 224, 15)])
def test_evaluation_takes_the_central_crop_of_the_square_as_caffe_rounds(resize, crop, start):
    image = picture()
    square = v2.functional.resize(image, [resize, resize], antialias=True)
    (centre,) = eval_transform(resize, crop, augment="caffe").many([image], [0])
    assert torch.equal(centre, square[:, start : start + crop, start : start + crop])  # (resize - crop) // 2


@pytest.fixture(scope="module")
def raw_table(data, tmp_path_factory):
    """Four images a class of the synthetic train set, packed raw at 32 px, labelled coarse."""
    out = tmp_path_factory.mktemp("raw")
    source = ImageIndex.read(data["out"] / "manifests" / "images-train.parquet").subset(per_class=4)
    store, _ = pack(source, out / "store", fmt="raw", size=32)
    store.index.label(read_labels(data["coarse"]["labels"])).write(out / "table.parquet")
    return load_table(out / "table.parquet")


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("resize", [32, 40], ids=["at the stored size", "resized"])
def test_the_raw_store_batches_crop_as_the_per_image_path(raw_table, train, resize):
    rows = list(range(len(raw_table)))
    transform = (train_transform(28, seed=5, augment="caffe", resize_size=resize) if train
                 else eval_transform(resize, 28, augment="caffe"))
    dataset = ImageDataset(raw_table, rows, transform)
    one_by_one = torch.stack([dataset[(3, i)][0] for i in range(len(rows))])
    batches = RawBatches(raw_table, rows, raw_table.labels[rows], batch_size=len(rows), train=train,
                         device=torch.device("cpu"), crop_size=28, resize_size=resize, augment="caffe", seed=5)
    batches.sampler = ShardSampler(len(rows), 0, 1)  # the rows in order, at epoch 3
    batches.sampler.set_epoch(3)
    (batched, _), = list(batches)
    assert batched.shape == (len(rows), 3, 28, 28)
    assert torch.equal(batched, one_by_one)  # on a CPU both resize uint8 alike; on CUDA the batch is resized as float


def test_rrc_crops_as_it_did():
    boxes, flips = crop_boxes(0, 0, np.arange(4), 120, 90, (0.08, 1.0))
    assert boxes.tolist() == [[37, 1, 57, 51], [26, 20, 71, 63], [28, 20, 52, 52], [56, 5, 64, 64]]
    assert flips.tolist() == [False, True, False, True]
    assert isinstance(train_transform(24, 0.35, 1), SeededResizedCrop) and isinstance(eval_transform(32, 28), EvalTransform)


# --- the option: sizes, checks, wiring, runs -----------------------------------------------------------------

IMPLIED = [  # the flags, and the train crop, val resize and val crop sizes they run with
    (["pretrain"], (224, 256, 224)),
    (["pretrain", "--augment", "caffe"], (227, 256, 227)),
    (["pretrain", "--augment", "caffe", "--train-crop-size", "200"], (200, 256, 227)),
    (["pretrain", "--augment", "caffe", "--val-crop-size", "224", "--val-resize-size", "240"], (227, 240, 224)),
    (["pretrain", "--augment", "caffe", "--train-crop-size", "224", "--val-crop-size", "224"], (224, 256, 224)),
    (["evaluate", "--checkpoint", "c.pt", "--augment", "caffe"], (227, 256, 227)),
]


@pytest.mark.parametrize("argv,sizes", IMPLIED, ids=[" ".join(argv[1:]) or "no flags" for argv, _ in IMPLIED])
def test_augment_caffe_crops_227_px_unless_a_crop_size_is_given(argv, sizes):
    _, config, _, given = parse(argv)
    config = implied_sizes(config, given)
    assert (config.train_crop_size, config.val_resize_size, config.val_crop_size) == sizes


def test_a_config_made_in_python_gets_the_same_sizes():
    config = PretrainConfig(augment="caffe", val_crop_size=200)
    expected = PretrainConfig(augment="caffe", train_crop_size=227, val_crop_size=200)
    assert implied_sizes(config, explicit(config, None)) == expected
    with pytest.raises(TrainError, match=r"^`augment` must be rrc or caffe, not 'fancy'\.$"):
        check(PretrainConfig(augment="fancy"))


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_the_loaders_crop_as_the_config_says(data, raw_table, train):
    config = EvaluateConfig(checkpoint="c.pt", augment="caffe", train_crop_size=24, val_resize_size=40, val_crop_size=28, workers=0)
    on_cpu = SimpleNamespace(device=torch.device("cpu"), rank=0, world_size=1)
    jpegs = load_table(data["coarse"]["train_table"])
    transform = image_loader(jpegs, [0, 1], config, on_cpu, train=train).dataset.transform
    assert isinstance(transform, CaffeCrop)
    assert (transform.resize, transform.crop, transform.train) == (40, 24 if train else 28, train)
    batches = image_loader(raw_table, [0, 1], config, on_cpu, train=train)
    assert (batches.augment, batches.resize_size, batches.crop_size) == ("caffe", 40, 24 if train else 28)


@pytest.fixture(scope="module")
def caffe_run(few, tmp_path_factory) -> dict:
    """One epoch of the tiny net on Caffe's crops, at the sizes --augment caffe implies."""
    out = tmp_path_factory.mktemp("caffe-run")
    argv = ["pretrain", *few, "--model", "tiny", "--device", "cpu", "-j", "0", "-b", "8", "-q", "--augment", "caffe",
            "--epochs", "1", "--output-dir", str(out)]
    code, result = run(argv)
    assert code == 0
    return {"argv": argv, "checkpoint": out / "checkpoint.pt", "result": result}


def test_a_run_reports_and_records_its_augmentation(caffe_run):
    assert caffe_run["result"]["augment"] == "caffe"
    config = torch.load(caffe_run["checkpoint"], weights_only=True)["config"]
    sizes = (config["train_crop_size"], config["val_resize_size"], config["val_crop_size"])
    assert config["augment"] == "caffe" and sizes == (227, 256, 227)


def test_resume_keeps_caffe_s_crops(caffe_run, few):
    code, result = run(["pretrain", *few, "--device", "cpu", "-j", "0", "-q", "--epochs", "2",
                        "--resume", str(caffe_run["checkpoint"])])
    assert code == 0 and result["augment"] == "caffe"
    config = torch.load(caffe_run["checkpoint"], weights_only=True)["config"]
    assert (config["augment"], config["train_crop_size"], config["val_crop_size"]) == ("caffe", 227, 227)


def test_resume_refuses_another_augmentation(caffe_run, few, capsys):
    line = error_of([*caffe_run["argv"], "--augment", "rrc", "--epochs", "3", "--resume", str(caffe_run["checkpoint"])],
                    capsys)
    assert line == (f"Error: --augment rrc contradicts {caffe_run['checkpoint']}, which was trained with --augment caffe: "
                    "a resumed run keeps the settings it started with (leave it out, or start a new run).")


def test_a_checkpoint_from_before_augment_resumes_as_rrc(caffe_run, tmp_path, capsys):
    saved = torch.load(caffe_run["checkpoint"], weights_only=True)
    del saved["config"]["augment"]
    checkpoint.save(tmp_path / "old.pt", **saved)
    line = error_of([*caffe_run["argv"], "--epochs", "3", "--resume", str(tmp_path / "old.pt")], capsys)
    assert line.startswith(f"Error: --augment caffe contradicts {tmp_path / 'old.pt'}, which was trained with --augment rrc: ")


def test_evaluate_crops_227_px_with_augment_caffe(caffe_run, few, monkeypatch):
    from train import evaluate

    seen = []

    def loader(table, rows, config, *args, **kwargs):
        seen.append((config.augment, config.val_resize_size, config.val_crop_size))
        return image_loader(table, rows, config, *args, **kwargs)

    monkeypatch.setattr(evaluate, "image_loader", loader)
    code, _ = run(["evaluate", "--checkpoint", str(caffe_run["checkpoint"]), *few, "--device", "cpu", "-j", "0", "-q",
                        "--augment", "caffe"])
    assert code == 0 and seen == [("caffe", 256, 227)]
