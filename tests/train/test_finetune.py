"""`python -m train finetune`: the transfer tasks read from their layouts, and fine-tuning that learns well
above chance (and above what the same probe at learning rate 0 gives)."""

from __future__ import annotations

import json

import pytest
import torch
from commands import FAST, run


# What each mode reaches from the coarse checkpoint on the shapes task (chance 25%), measured on this CPU
# over four seeds: linear, lr 0.1, 6 epochs: 56-64%; full, lr 0.05, 6 epochs: 44-62%; either at lr 0: 20-28%.
LEARNS = {"linear": ("0.1", 45), "full": ("0.05", 40)}


@pytest.mark.parametrize("mode", ["linear", "full"])
def test_finetune_learns_a_task_the_features_can_solve(coarse_run, data, shapes_task, tmp_path, mode):
    lr, at_least = LEARNS[mode]
    code, result = run(["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "imagefolder",
                        "--data", str(shapes_task), "--mode", mode, "--epochs", "6", "--lr", lr,
                        "--output-dir", str(tmp_path), *FAST])
    assert code == 0
    assert result["classes"] == 4 and result["mode"] == mode
    assert result["test_top1"] >= at_least
    assert result["pretrain_labels_hash"] == data["coarse"]["labels_hash"]
    assert (tmp_path / "checkpoint.pt").is_file()
    assert json.loads((tmp_path / "results.json").read_text())["test_top1"] == result["test_top1"]


def test_full_finetune_gives_pretrained_layers_a_lower_lr(coarse_run, shapes_task, monkeypatch):
    from train import finetune

    seen = {}
    real_sgd = torch.optim.SGD

    def spy(groups, **kwargs):
        optimizer = real_sgd(groups, **kwargs)
        seen["lrs"] = [group["lr"] for group in optimizer.param_groups]
        return optimizer

    monkeypatch.setattr(finetune.torch.optim, "SGD", spy)
    code, _ = run(["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "imagefolder", "--data",
                   str(shapes_task), "--mode", "full", "--epochs", "1", "--lr", "0.1", "--backbone-lr-scale", "0.1",
                   *FAST])
    assert code == 0
    assert seen["lrs"] == pytest.approx([0.01, 0.1])


def write_voc2007(root, per_class: dict[str, int], seed: int):
    """VOCdevkit/VOC2007 under `root` (JPEGImages, ImageSets/Main/<class>_<set>.txt): each image holds one
    drawn shape, of the class that shape stands for; every image of the class's test set is positive for it
    and negative for the others. Aeroplane images whose number is a multiple of 5 count as `difficult` (0)."""
    import numpy as np
    from PIL import Image

    from train.world import draw
    from train.tasks.voc import VOC_CLASSES

    voc = root / "VOCdevkit" / "VOC2007"
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    rng = np.random.default_rng(seed)
    truth = {split: {} for split in per_class}
    number = 0
    for split, count in per_class.items():
        for name, shape in VOC_SHAPES.items():
            for i in range(count):
                number += 1
                image_id = f"{number:06d}"
                image = draw(shape, ("solid", "stripes", "checks")[i % 3], rng)
                Image.fromarray(image).save(voc / "JPEGImages" / f"{image_id}.jpg", quality=95)
                truth[split][image_id] = (name, number % 5 == 0 and name == "aeroplane")
    for split, images in truth.items():
        for name in VOC_CLASSES:
            lines = [f"{image_id} {(0 if difficult else 1) if drawn == name else -1:2d}\n"
                     for image_id, (drawn, difficult) in sorted(images.items())]
            (voc / "ImageSets" / "Main" / f"{name}_{split}.txt").write_text("".join(lines))
    return voc


VOC_SHAPES = {"aeroplane": "circle", "bicycle": "triangle", "bird": "square", "boat": "cross"}


def test_voc07_task_reads_the_devkit_layout(tmp_path):
    from train.tasks import TASK
    from train.tasks.voc import VOC_CLASSES

    write_voc2007(tmp_path, {"trainval": 5, "test": 2}, seed=0)
    task = TASK["voc07-cls"].load(tmp_path, None)
    (train_files, train_truth), (test_files, test_truth), classes = (task.train.files, task.train.targets), (task.test.files, task.test.targets), task.classes
    assert classes == VOC_CLASSES and classes[0] == "aeroplane" and len(classes) == 20
    assert [f.name for f in train_files] == [f"{n:06d}.jpg" for n in range(1, 21)]
    assert [row[0] for row in train_truth[:6]] == [1, 1, 1, 1, 0, -1]  # image 5 is a difficult aeroplane
    assert [row[:4] for row in test_truth] == [[1, -1, -1, -1]] * 2 + [[-1, 1, -1, -1]] * 2 + [[-1, -1, 1, -1]] * 2 + [[-1, -1, -1, 1]] * 2
    assert all(f.is_file() for f in train_files + test_files)


def test_voc07_classification_learns_the_drawn_classes(coarse_run, tmp_path):
    # Measured on this CPU over three seeds: 55-60 mAP after 10 epochs at lr 0.5; 31-39 at lr 0 (random head).
    write_voc2007(tmp_path, {"trainval": 10, "test": 15}, seed=3)
    code, result = run(["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "voc07-cls", "--data",
                        str(tmp_path), "--epochs", "10", "--lr", "0.5", *FAST])
    assert code == 0
    assert result["classes"] == 20
    assert result["test_map"] >= 50


def test_sun397_reads_the_official_partition_files(tmp_path):
    from PIL import Image

    from train.config import FinetuneConfig
    from train.tasks import TASK

    classes = ["/a/abbey", "/b/beach", "/b/bedroom"]
    (tmp_path / "Partitions").mkdir()
    (tmp_path / "Partitions" / "ClassName.txt").write_text("\n".join(classes) + "\n")
    lines = {"Training": [], "Testing": []}
    for c, name in enumerate(classes):
        folder = tmp_path / "SUN397" / name.lstrip("/")
        folder.mkdir(parents=True)
        for n, kind in enumerate(["Training", "Testing", "Training"]):
            Image.new("RGB", (8, 8)).save(folder / f"sun_{c}{n}.jpg")
            lines[kind].append(f"{name}/sun_{c}{n}.jpg")
    for kind, entries in lines.items():
        (tmp_path / "Partitions" / f"{kind}_01.txt").write_text("\n".join(entries) + "\n")
    task = TASK["sun397"].load(tmp_path, FinetuneConfig(task="sun397", data=tmp_path, partition=1))
    train_files, train_targets, test_files, test_targets, names = task.train.files, task.train.targets, task.test.files, task.test.targets, task.classes
    assert names == classes
    assert train_targets == [0, 0, 1, 1, 2, 2] and test_targets == [0, 1, 2]
    assert all(f.is_file() for f in train_files + test_files)
    assert test_files[1] == tmp_path / "SUN397" / "b" / "beach" / "sun_11.jpg"


# --- resume ----------------------------------------------------------------------------------------------


def test_a_resumed_finetune_ends_where_the_straight_one_does(coarse_run, shapes_task, tmp_path, monkeypatch):
    from commands import straight_and_resumed

    args = ["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "imagefolder", "--data", str(shapes_task),
            "--mode", "full", "--epochs", "4", "--lr", "0.05", "--lr-step-size", "2", "--seed", "3", *FAST, "-j", "1"]
    straight, resumed = straight_and_resumed(args, tmp_path, 3, monkeypatch)
    assert resumed["epoch"] == straight["epoch"] == 3
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    for key, state in straight["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], resumed["optimizer"]["state"][key]["momentum_buffer"])
    def measured(history):  # all but the speed
        return [{k: v for k, v in record.items() if k != "train_images_per_s"} for record in history]

    assert measured(resumed["history"]) == measured(straight["history"])  # losses, validation, the final test
    assert "test_top1" in resumed["history"][-1] and "test_top1" not in resumed["history"][-2]
    results = [json.loads((tmp_path / name / "results.json").read_text()) for name in ("straight", "broken")]
    assert results[0]["test_top1"] == results[1]["test_top1"]


def test_resume_refuses_another_pretrained_network(coarse_run, shapes_task, tmp_path, capsys):
    from commands import error_of

    first = ["finetune", "--random-init", "--task", "imagefolder", "--data", str(shapes_task), "--epochs", "2",
             "--output-dir", str(tmp_path), *FAST]
    assert run(first)[0] == 0
    line = error_of(["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "imagefolder", "--data",
                     str(shapes_task), "--epochs", "3", "--resume", str(tmp_path / "checkpoint.pt"), *FAST], capsys)
    assert line == (f"Error: --checkpoint {coarse_run['checkpoint']} contradicts {tmp_path / 'checkpoint.pt'}, which "
                    "fine-tunes a random init: leave --checkpoint out, or start a new run.")


def test_resume_refuses_a_task_whose_labels_changed(shapes_task, tmp_path, capsys):
    import shutil

    from commands import error_of

    data = tmp_path / "shapes"
    shutil.copytree(shapes_task, data)
    first = ["finetune", "--random-init", "--task", "imagefolder", "--data", str(data), "--epochs", "2",
             "--output-dir", str(tmp_path / "run"), *FAST]
    assert run(first)[0] == 0
    tench, other = sorted((data / "train").iterdir())[:2]
    moved = sorted(tench.iterdir())[0]
    moved.rename(other / moved.name)  # the same images, one under another class
    line = error_of([*first[:-len(FAST)], "--epochs", "3", "--resume", str(tmp_path / "run" / "checkpoint.pt"), *FAST],
                    capsys)
    assert line == (f"Error: {tmp_path / 'run' / 'checkpoint.pt'} was fine-tuned on other imagefolder data than {data} "
                    "holds (its images or their labels differ): start a new run instead of --resume.")


def test_ten_crops_see_a_corner_that_the_centre_crop_misses():
    """An 8x8 image, dark but for a red 2x2 patch in its top-left corner, scored by a 'network' that gives the
    mean red of what it sees: the centre 4x4 crop misses the patch; of the ten crops, the top-left one and the
    mirror's top-right one each hold it whole (4 of 16 pixels), so the mean is 1/20 of the way to red."""
    import torch
    from torch import nn

    from train.data.loaders import MEAN, STD, EvalTransform
    from train.loops import scores_of

    class MeanRed(nn.Module):
        def forward(self, x):
            return x[:, 0].mean(dim=(1, 2)).unsqueeze(1)

    image = torch.zeros(3, 8, 8, dtype=torch.uint8)
    image[0, :2, :2] = 255
    dark, red = (0 - MEAN[0] * 255) / (STD[0] * 255), (255 - MEAN[0] * 255) / (STD[0] * 255)
    scored = {crops: float(scores_of(MeanRed(), torch.stack(EvalTransform(8, 4, crops).many([image], [0])), torch.device("cpu"),
                                     input_norm="torchvision"))
              for crops in ("center", "whole", "ten")}
    assert scored["center"] == pytest.approx(dark)
    assert scored["ten"] == pytest.approx(dark + (red - dark) / 20)
    assert dark + (red - dark) / 20 < scored["whole"] < red  # the whole image, shrunk: the patch is in it


def test_voc07_classification_records_how_test_images_were_cropped(coarse_run, tmp_path):
    write_voc2007(tmp_path, {"trainval": 10, "test": 6}, seed=3)
    args = ["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "voc07-cls", "--data", str(tmp_path),
            "--epochs", "1", *FAST]
    code, result = run([*args, "--test-crops", "ten", "--output-dir", str(tmp_path / "run")])
    assert code == 0 and result["settings"]["--test-crops"] == "ten"
    assert result["test_images"] == 24  # 6 per drawn class, each scored once (its ten crops averaged)
    code, centre = run([*args, "--output-dir", str(tmp_path / "centre")])  # the same network, scored on one crop
    assert code == 0 and centre["settings"]["--test-crops"] == "center" and centre["test_ap"] != result["test_ap"]
