"""Fast R-CNN on given proposals (`--detector fast-rcnn --proposals`): Fast R-CNN's own .mat files read as
fast-rcnn reads them, the Parquet proposals `python -m train proposals` writes, bad proposals refused in one
sentence, fast-rcnn's sampling and solver, and the RPN minimum box size of Faster R-CNN."""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from commands import FAST, error_of, run
from scipy.io import savemat

import synthetic_voc
from train.config import FinetuneConfig, with_task_defaults
from train.detection import (FAST_RCNN_SAMPLING, RPN_MIN_SIZE, TEST_PROPOSALS, DetectionDataset, build_detector,
                             continuous)
from train.models import build_model
from train.proposals import compute, read_proposals, write_cache
from train.tasks import TASK
from train.tasks.voc import VOC_CLASSES


def jittered(annotation, rng: np.random.Generator) -> np.ndarray:
    """Proposals as a region proposer gives them: boxes around each object (shifted and scaled, so that some
    overlap it well and some poorly) and boxes anywhere; VOC boxes (xmin, ymin, xmax, ymax) in the image."""
    boxes = []
    for o in annotation.objects:
        xmin, ymin, xmax, ymax = o.box
        width, height = xmax - xmin + 1, ymax - ymin + 1
        for _ in range(10):
            cx, cy = (xmin + xmax) / 2 + rng.uniform(-0.4, 0.4) * width, (ymin + ymax) / 2 + rng.uniform(-0.4, 0.4) * height
            sx, sy = rng.uniform(0.7, 1.4, 2)
            boxes.append((cx - sx * width / 2, cy - sy * height / 2, cx + sx * width / 2, cy + sy * height / 2))
    for _ in range(30):
        (x1, x2), (y1, y2) = np.sort(rng.uniform(1, annotation.width, 2)), np.sort(rng.uniform(1, annotation.height, 2))
        boxes.append((x1, y1, x2, y2))
    boxes = np.round(np.array(boxes))
    boxes[:, 0::2] = boxes[:, 0::2].clip(1, annotation.width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(1, annotation.height)
    return boxes


def write_mat(path: Path, ids: list[str], boxes: list[np.ndarray]) -> None:
    """A selective-search file as Fast R-CNN distributes it: cell arrays `boxes` (per image its (y1, x1, y2, x2)
    rows, 1-based, as doubles) and `images` (the image ids)."""
    cells, images = np.empty((1, len(ids)), dtype=object), np.empty((len(ids), 1), dtype=object)
    for i, (image_id, rows) in enumerate(zip(ids, boxes)):
        cells[0, i], images[i, 0] = np.asarray(rows, dtype=np.float64).reshape(-1, 4)[:, [1, 0, 3, 2]], image_id
    savemat(path, {"boxes": cells, "images": images})


@pytest.fixture(scope="module")
def voc_with_proposals(tmp_path_factory):
    """VOC 2007 detection (60 trainval, 30 test images), Fast R-CNN's two .mat files of proposals for it
    (`selective_search_data/`), and those proposals (image id -> VOC boxes)."""
    root = tmp_path_factory.mktemp("voc-proposals")
    synthetic_voc.write_detection(root / "data", {"trainval": 60, "test": 30}, seed=1, size=64)
    task = TASK["voc07-det"].load(root / "data", None)
    rng, truth = np.random.default_rng(0), {}
    (root / "selective_search_data").mkdir()
    for name, split in (("trainval", task.train), ("test", task.test)):
        boxes = [jittered(annotation, rng) for annotation in split.targets]
        write_mat(root / "selective_search_data" / f"voc_2007_{name}.mat", split.ids, boxes)
        truth.update(zip(split.ids, boxes))
    return {"data": root / "data", "mat": root / "selective_search_data", "truth": truth, "task": task}


def finetune_args(world: dict, *more: str) -> list[str]:
    return ["finetune", "--data", str(world["data"]), "--task", "voc07-det", "--min-size", "64", "--max-size", "96",
            *FAST, "-b", "4", *more]


def test_fast_rcnn_learns_to_detect_the_drawn_objects_in_given_proposals(coarse_run, voc_with_proposals, tmp_path):
    """Fast R-CNN on the coarse-pretrained tiny network, on proposals read from Fast R-CNN's .mat files, finds
    the shapes; its untrained heads find none; results.json says which detector and proposals made it."""
    args = finetune_args(voc_with_proposals, "--checkpoint", str(coarse_run["checkpoint"]), "--detector", "fast-rcnn",
                         "--proposals", str(voc_with_proposals["mat"]), "--lr-step-size", "10")
    code, trained = run([*args, "--epochs", "12", "--lr", "0.02", "--output-dir", str(tmp_path / "trained")])
    assert code == 0
    code, untrained = run([*args, "--epochs", "1", "--lr", "0", "--output-dir", str(tmp_path / "untrained")])
    assert code == 0
    assert trained["test_map"] >= 50 and untrained["test_map"] <= 5, (trained["test_map"], untrained["test_map"])
    assert all(trained["test_ap"][name] >= 15 for name in synthetic_voc.SHAPES), trained["test_ap"]
    saved = json.loads((tmp_path / "trained" / "results.json").read_text())
    assert (saved["detector"], saved["proposals"], saved["settings"]["--detector"]) == (
        "fast-rcnn", str(voc_with_proposals["mat"]), "fast-rcnn")
    assert saved["proposals_hash"] == untrained["proposals_hash"] and saved["proposals_hash"].startswith("sha256:")


def test_faster_rcnn_stays_the_default_and_says_so(voc_with_proposals, tmp_path):
    code, result = run(finetune_args(voc_with_proposals, "--random-init", "--epochs", "1", "--output-dir", str(tmp_path)))
    assert code == 0
    assert (result["detector"], result["proposals"], result["proposals_hash"], result["settings"]["--detector"]) == (
        "faster-rcnn", None, None, "faster-rcnn")


def test_the_mat_reader_takes_fast_rcnn_s_layout_by_image_id(voc_with_proposals, tmp_path):
    """Each image gets its own rows, turned from (y1, x1, y2, x2) to (xmin, ymin, xmax, ymax), matched by the
    `images` cell array, whatever the order of the file."""
    task = voc_with_proposals["task"]
    found = read_proposals(voc_with_proposals["mat"], {"training": task.train, "test": task.test})
    truth = voc_with_proposals["truth"]
    assert sorted(found) == sorted(truth)
    for image_id, boxes in truth.items():
        np.testing.assert_array_equal(found[image_id], boxes)
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    order = list(reversed(task.test.ids))
    write_mat(shuffled / "voc_2007_test.mat", order, [truth[i] for i in order])
    shutil.copy(voc_with_proposals["mat"] / "voc_2007_trainval.mat", shuffled)
    again = read_proposals(shuffled, {"test": task.test})
    assert all(np.array_equal(again[i], truth[i]) for i in task.test.ids)


def stripes(path: Path) -> np.ndarray:
    """A proposer that needs no OpenCV: vertical halves and thirds of the image, as VOC boxes."""
    from PIL import Image

    width, height = Image.open(path).size
    return np.array([[1, 1, width // 2, height], [width // 2 + 1, 1, width, height], [1, 1, width // 3, height]])


def test_the_proposals_file_gives_back_what_the_command_computed(voc_with_proposals, tmp_path):
    """`compute` (the command's work, on two processes) writes each image's boxes under its path; the reader
    gives every image exactly those; run again it keeps them and computes only images it lacks."""
    task = voc_with_proposals["task"]
    output = tmp_path / "proposals.parquet"
    done = compute(voc_with_proposals["data"], output, workers=2, propose=stripes, quiet=True)
    assert (done["images"], done["computed"], done["kept"], done["proposals_per_image"]) == (90, 90, 0, 3.0)
    found = read_proposals(output, {"training": task.train, "test": task.test})
    for image_id, file in zip(task.train.ids + task.test.ids, task.train.files + task.test.files):
        np.testing.assert_array_equal(found[image_id], stripes(file))
    import pyarrow.parquet as pq

    assert pq.read_table(output).column("path").to_pylist()[:2] == ["JPEGImages/000001.jpg", "JPEGImages/000002.jpg"]
    write_cache(output, {f"JPEGImages/{i}.jpg": found[i] for i in task.train.ids[:50]})  # as if interrupted
    assert compute(voc_with_proposals["data"], output, workers=2, propose=stripes, quiet=True)["computed"] == 40


def test_the_proposals_command_without_opencv_is_one_sentence(voc_with_proposals, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cv2", None)  # as where opencv-contrib-python-headless is not installed
    line = error_of(["proposals", "--data", str(voc_with_proposals["data"]), "-o", str(tmp_path / "p.parquet")], capsys)
    assert line == ("Error: Computing proposals needs OpenCV's selective search (cv2.ximgproc): pip install "
                    "opencv-contrib-python-headless, or give --proposals Fast R-CNN's selective_search_data folder.")
    assert list(tmp_path.iterdir()) == []


# --- bad proposals: one sentence, exit 1, no run folder ----------------------------------------------------------

def rewrite_test(folder: Path, truth: dict, ids: list[str], change) -> None:
    boxes = [truth[i].copy() for i in ids]
    ids = change(ids, boxes)
    write_mat(folder / "voc_2007_test.mat", ids, boxes)


def missing_image(ids, boxes):
    boxes.pop(2)
    return ids[:2] + ids[3:]


def outside(ids, boxes):
    boxes[2][4, 2] = 500
    return ids


def empty(ids, boxes):
    boxes[2] = np.zeros((0, 4))
    return ids


BAD = [
    (missing_image, r"selective_search_data has no proposals for image 000063 of the test set: it was made for other "
                    r"images; compute these images' own with `python -m train proposals`\."),
    (outside, r"selective_search_data: proposal 5 of image 000063, \(\d+, \d+, 500, \d+\), lies outside its \d+x\d+ image "
              r"\(boxes are 1-based pixels, 1 <= xmin <= xmax <= width\): it was made for another image; compute these "
              r"images' own with `python -m train proposals`\."),
    (empty, r"selective_search_data gives image 000063 no proposals, and Fast R-CNN detects only in proposals: compute "
            r"them again with `python -m train proposals`\."),
]


@pytest.mark.parametrize("change, sentence", BAD, ids=[change.__name__ for change, _ in BAD])
def test_bad_proposals_are_refused_in_one_sentence(voc_with_proposals, tmp_path, capsys, change, sentence):
    folder = tmp_path / "selective_search_data"
    shutil.copytree(voc_with_proposals["mat"], folder)
    rewrite_test(folder, voc_with_proposals["truth"], voc_with_proposals["task"].test.ids, change)
    line = error_of(finetune_args(voc_with_proposals, "--random-init", "--detector", "fast-rcnn", "--proposals", str(folder),
                                  "--output-dir", str(tmp_path / "run")), capsys)
    assert re.fullmatch("Error: .*" + sentence, line), line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, sentence", [
    (["--detector", "fast-rcnn"], "Error: --detector fast-rcnn detects in given proposals: give --proposals (Fast R-CNN's "
                                  "selective_search_data folder, or a file of `python -m train proposals`)."),
    (["--proposals", "x"], "Error: --detector faster-rcnn proposes its own regions: --proposals are for --detector fast-rcnn."),
    (["--detector", "fast-rcnn", "--proposals", "{tmp}"], "Error: {tmp} lacks voc_2007_trainval.mat: a folder of proposals "
     "holds Fast R-CNN's voc_2007_trainval.mat and voc_2007_test.mat (its data/selective_search_data)."),
    (["--detector", "fast-rcnn", "--proposals", "{tmp}/a.parquet"], "Error: --proposals {tmp}/a.parquet does not exist."),
])
def test_proposals_that_cannot_serve_are_one_sentence(voc_with_proposals, tmp_path, capsys, args, sentence):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert error_of(finetune_args(voc_with_proposals, "--random-init", *args), capsys) == sentence.replace("{tmp}", str(tmp_path))


def test_a_detector_on_a_classification_task_is_refused(capsys, tmp_path):
    line = error_of(["finetune", "--random-init", "--task", "voc07-cls", "--data", str(tmp_path), "--detector", "fast-rcnn",
                     *FAST], capsys)
    assert line == "Error: --detector applies to detection (voc07-det) only."


# --- the references' numbers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("detector, own", [
    # fast-rcnn's models/CaffeNet/solver.prototxt (base_lr 0.001, stepsize 30000 of 40000 iterations, momentum 0.9,
    # weight_decay 0.0005) at IMS_PER_BATCH 2: 30000 and 40000 steps of 2 images are 12 and 16 epochs of VOC07 trainval
    ("fast-rcnn", {"batch_size": 2, "epochs": 16, "lr_step_size": 12}),
    # py-faster-rcnn's end-to-end VOC 2007 solver: one image a step, 50000 of 70000 iterations over the flipped set
    ("faster-rcnn", {"batch_size": 1, "epochs": 14, "lr_step_size": 10}),
])
def test_each_detector_trains_on_its_reference_s_solver(detector, own):
    config = with_task_defaults(FinetuneConfig(task="voc07-det", data=Path("VOC"), random_init=True, detector=detector,
                                               proposals=Path("p") if detector == "fast-rcnn" else None),
                                frozenset({"task", "data", "random_init", "detector", "proposals"}))
    assert {k: getattr(config, k) for k in own} == own
    assert (config.lr, config.momentum, config.wd, config.bias_lr_scale, config.bias_weight_decay, config.mode) == (
        0.001, 0.9, 5e-4, 2.0, 0.0, "full")
    given = with_task_defaults(replace(config, epochs=3), frozenset({"task", "data", "detector", "proposals", "epochs"}))
    assert given.epochs == 3  # a flag given wins


def shifted(overlaps: dict[float, int]) -> torch.Tensor:
    """Proposals overlapping the box (0, 0, 100, 100) by each of `overlaps` (that many of each): the same box
    shifted right by 100 (1 - t) / (1 + t)."""
    return torch.cat([torch.tensor([[s, 0.0, 100 + s, 100.0]]).repeat(n, 1)
                      for s, n in ((100 * (1 - t) / (1 + t), n) for t, n in overlaps.items())])


@pytest.mark.parametrize("overlaps, foreground, background", [
    ({0.05: 80, 0.3: 80, 0.7: 80}, (16, {0.7, 1.0}), 48),  # a quarter of 64 foreground, the rest background
    ({0.05: 80, 0.3: 10}, (1, {1.0}), 10),  # no proposal on the object: its own box; too little background, none below 0.1
])
def test_fast_rcnn_samples_as_fast_rcnn_does(overlaps, foreground, background):
    """64 RoIs an image, at most a quarter of them foreground (overlap >= 0.5), background only from [0.1, 0.5),
    the ground truth added to the proposals; the test NMS 0.3 (fast-rcnn's lib/fast_rcnn/config.py)."""
    from torchvision.ops import box_iou

    assert FAST_RCNN_SAMPLING == {"batch_size_per_image": 64, "positive_fraction": 0.25, "fg_iou_thresh": 0.5,
                                  "bg_iou_thresh": 0.5, "background_low": 0.1, "nms_thresh": 0.3}
    torch.manual_seed(0)
    heads = build_detector(build_model("tiny", 5), "tiny", 20, 64, 96, True, "torchvision", "fast-rcnn").roi_heads
    assert heads.nms_thresh == 0.3
    truth = {"boxes": torch.tensor([[0.0, 0.0, 100.0, 100.0]]), "labels": torch.tensor([3])}
    sampled, _, labels, _ = heads.select_training_samples([shifted(overlaps)], [truth])
    overlap = [round(v, 2) for v in box_iou(sampled[0], truth["boxes"])[:, 0].tolist()]
    fg, bg = ([v for v, label in zip(overlap, labels[0].tolist()) if label == want] for want in (3, 0))
    assert len(fg) == foreground[0] and set(fg) <= foreground[1]
    assert len(bg) == background and set(bg) == {0.3}


def test_an_image_is_scored_on_its_first_2000_proposals_and_trains_on_all_flipped_with_it(voc_with_proposals):
    task = voc_with_proposals["task"]
    image_id, annotation = task.train.ids[0], task.train.targets[0]
    many = np.tile(voc_with_proposals["truth"][image_id], (2500 // len(voc_with_proposals["truth"][image_id]) + 1, 1))[:2500]
    assert TEST_PROPOSALS == 2000
    _, target, _ = DetectionDataset(task.train, VOC_CLASSES, False, proposals={image_id: many}).sample(0, False)
    assert torch.equal(target["proposals"], continuous(many[:2000]))
    _, target, _ = DetectionDataset(task.train, VOC_CLASSES, True, proposals={image_id: many}).sample(0, True)
    mirrored = np.stack([annotation.width + 1 - many[:, 2], many[:, 1], annotation.width + 1 - many[:, 0], many[:, 3]], 1)
    assert torch.equal(target["proposals"], continuous(mirrored))


# --- Faster R-CNN: py-faster-rcnn's RPN_MIN_SIZE -------------------------------------------------------------------

@pytest.mark.parametrize("side, minimum, smallest_anchors_kept", [(32, 32.0, False), (256, 4.0, True)])
def test_the_rpn_drops_proposals_under_16_px_of_the_original_image(side, minimum, smallest_anchors_kept):
    """At min-size 64, a 32 px image is enlarged twice (16 original px are 32 at the input) and a 256 px one
    shrunk to a quarter (16 px are 4): with the RPN's outputs zeroed its proposals are its anchors (14, 27 and
    55 px), clipped to the image; those under the minimum go, at both scales."""
    assert RPN_MIN_SIZE == 16
    torch.manual_seed(0)
    detector = build_detector(build_model("tiny", 5), "tiny", 20, 64, 96, True, "torchvision").eval()
    for parameter in detector.rpn.head.parameters():
        torch.nn.init.zeros_(parameter)
    with torch.no_grad():
        batch, _ = detector.transform([torch.rand(3, side, side)])
        boxes, _ = detector.rpn(batch, {"0": detector.backbone(batch.tensors)})
    sides = torch.minimum(boxes[0][:, 2] - boxes[0][:, 0], boxes[0][:, 3] - boxes[0][:, 1])
    assert len(sides) and sides.min() >= minimum
    assert bool((sides < 27).any()) == smallest_anchors_kept
