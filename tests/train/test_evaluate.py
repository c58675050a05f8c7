"""`python -m train evaluate`: top-1 on the pretraining labels, k-NN on another label set, and bad input."""

from __future__ import annotations

import pytest
from commands import SIZES, error_of, run, tables


def test_evaluate_scores_own_labels_and_knn_on_fine_labels(coarse_run, data):
    code, result = run(["evaluate", "--checkpoint", str(coarse_run["checkpoint"]), *tables(data["coarse"]),
                        "--knn-labels", str(data["fine"]["labels"]), "--device", "cpu", "-j", "0", *SIZES])
    assert code == 0
    assert result["top1"] == pytest.approx(coarse_run["result"]["val_top1"])
    assert result["knn_label_count"] == 12 and result["label_count"] == 4  # JSON numbers, not "4"
    # coarse features still tell fine classes apart: 40% on this CPU, against 8.3% by chance
    assert result["knn_top1"] >= 3 * 100 / 12


def test_a_file_that_is_not_a_checkpoint(data, tmp_path, capsys):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    line = error_of(["evaluate", "--checkpoint", str(bogus), *tables(data["coarse"]), "--device", "cpu"], capsys)
    assert line == f"Error: {bogus} is not a checkpoint this module can read (foreign or damaged file)."


def test_scores_under_bf16_autocast_give_one_ap_whatever_the_input_order():
    """The head runs in fp32 under --amp: bf16 logits tie (8 significant bits) and AP would follow the order."""
    import torch

    from train.loops import evaluate
    from train.models import build_model

    torch.manual_seed(0)
    model = build_model("tiny", 20)
    images = torch.rand(240, 3, 32, 32) * 0.2  # a narrow range of inputs: logits close together
    truth = torch.randint(0, 2, (240, 20)) * 2 - 1
    order = torch.randperm(240)
    batches = [(images[i : i + 40], truth[i : i + 40]) for i in range(0, 240, 40)]
    shuffled = [(images[order][i : i + 40], truth[order][i : i + 40]) for i in range(0, 240, 40)]
    scored = [evaluate(model, b, torch.device("cpu"), torch.bfloat16, rule="voc07", input_norm="torchvision")["ap"] for b in (batches, shuffled)]
    assert scored[0] == scored[1]


def test_detector_scores_and_boxes_are_fp32_under_autocast():
    import torch

    from train.detection import build_detector
    from train.models import build_model

    predictor = build_detector(build_model("tiny", 5), "tiny", 20, 64, 96, pretrained=True, input_norm="torchvision").roi_heads.box_predictor
    with torch.autocast("cpu", dtype=torch.bfloat16):
        scores, boxes = predictor(torch.rand(7, predictor.cls_score.in_features))
    assert scores.dtype == boxes.dtype == torch.float32


def test_evaluate_takes_the_crop_sizes_the_checkpoint_was_trained_with(coarse_run, data):
    """The coarse run validated on 32 px crops; evaluate's defaults (256/224) would score another network."""
    base = ["evaluate", "--checkpoint", str(coarse_run["checkpoint"]), *tables(data["coarse"]), "--device", "cpu", "-j", "0", "-q"]
    code, result = run(base)
    assert code == 0
    assert (result["val_resize_size"], result["val_crop_size"], result["augment"]) == (32, 32, "rrc")
    assert result["top1"] == pytest.approx(coarse_run["result"]["val_top1"])
    code, result = run([*base, "--val-resize-size", "40", "--val-crop-size", "36"])
    assert (result["val_resize_size"], result["val_crop_size"]) == (40, 36)  # given flags win
