"""The synthetic data the training tests share, built once per session with curate's own calls.

One small synthetic ImageNet (`synthetic_data.py`: 12 real ILSVRC wnids, shape = coarse class, texture = fine
class, 32 px) with fine (12 labels) and coarse (4 labels) tables over 16 train and 6 val images per class;
one pretraining run on the coarse labels; the coarse tables cut to a few images a label (`few`), for the
big networks; and held-out tasks the pretrained features can solve.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from commands import FAST, run, tables  # noqa: E402

from synthetic_data import PRETRAIN_CLASSES, curate_tables  # noqa: E402

from curate.images.table import ImageTable  # noqa: E402

from train.world import make_images  # noqa: E402

torch.set_num_threads(1)
# New images of the four coarse shapes, as an ImageFolder task: what coarse pretraining should transfer to.
SHAPES = {"circle": ("circle", "stripes"), "triangle": ("triangle", "solid"), "square": ("square", "checks"),
          "cross": ("cross", "stripes")}


@pytest.fixture(scope="session")
def data(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("train-data")
    make_images(out / "images", PRETRAIN_CLASSES, {"train": 16, "val": 6}, seed=0)
    return {"out": out, **curate_tables(out, out / "images")}


@pytest.fixture(scope="session")
def coarse_run(data, tmp_path_factory) -> dict:
    """One pretraining run on the coarse labels, shared by the tests that need a trained checkpoint."""
    out = tmp_path_factory.mktemp("coarse-run")
    code, result = run(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "16", "--lr", "0.02", "--wd", "5e-4",
                        "--lr-scheduler", "cosine", "--output-dir", str(out)])
    assert code == 0
    return {"dir": out, "checkpoint": out / "checkpoint.pt", "result": result}


@pytest.fixture(scope="session")
def few(data, tmp_path_factory) -> list[str]:
    """The coarse tables cut to two training and one validation image a label: a 61 M-parameter network
    trains an epoch of them in a second."""
    out = tmp_path_factory.mktemp("few")
    for split, per_label in (("train", 2), ("val", 1)):
        whole = ImageTable.read(data["coarse"][f"{split}_table"])
        labels = whole.rows["label"].to_pylist()
        keep = [row for row, label in enumerate(labels) if labels[:row].count(label) < per_label]
        metadata = {k: v for k, v in whole.metadata.items() if k != "content_hash"}
        ImageTable(whole.rows.take(keep), metadata).write(out / f"{split}.parquet")
    return ["--table", str(out / "train.parquet"), "--val-table", str(out / "val.parquet")]


@pytest.fixture(scope="session")
def shapes_task(tmp_path_factory):
    """An ImageFolder task of 4 classes, 10 training and 20 test images each (chance: 25%)."""
    root = tmp_path_factory.mktemp("shapes")
    make_images(root, SHAPES, {"train": 10, "val": 20}, seed=5)
    return root
