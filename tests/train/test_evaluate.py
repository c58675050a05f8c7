"""`python -m train evaluate`: top-1 on the pretraining labels, k-NN on another label set, and bad input."""

from __future__ import annotations

import pytest
from commands import SIZES, error_of, run, tables


def test_evaluate_scores_own_labels_and_knn_on_fine_labels(coarse_run, data):
    code, result = run(["evaluate", "--checkpoint", str(coarse_run["checkpoint"]), *tables(data["coarse"]),
                        "--knn-labels", str(data["fine"]["labels"]), "--device", "cpu", "-j", "0", *SIZES])
    assert code == 0
    assert result["top1"] == pytest.approx(coarse_run["result"]["val_top1"])
    assert result["knn_label_count"] == 12
    # coarse features still tell fine classes apart: 40% on this CPU, against 8.3% by chance
    assert result["knn_top1"] >= 3 * 100 / 12


def test_a_file_that_is_not_a_checkpoint(data, tmp_path, capsys):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    line = error_of(["evaluate", "--checkpoint", str(bogus), *tables(data["coarse"]), "--device", "cpu"], capsys)
    assert line == f"Error: {bogus} is not a checkpoint this module can read (foreign or damaged file)."
