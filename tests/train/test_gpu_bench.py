"""bench/gpu.sh runs as written on the GPU machine: from a bare checkout (curate not installed) with torch,
torchvision, pyarrow and pillow, but no polars, nltk, torchcodec or submitit. Its dry run, here on the CPU, under
those conditions: every part gives its figures."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Started before the script in every process (workers too): the missing packages cannot be imported, and
# the checkout is not on the path (this venv installs curate from it), so only the script's own set-up finds it.
AS_ON_THE_GPU_MACHINE = f"""
import importlib.abc, sys
MISSING = {{"polars", "nltk", "torchcodec", "submitit"}}


class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in MISSING:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)


sys.meta_path.insert(0, Missing())
sys.path[:] = [p for p in sys.path if p not in ("", {str(REPO)!r})]
"""


def test_the_dry_run_gives_every_figure_without_the_packages_the_gpu_machine_lacks(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(AS_ON_THE_GPU_MACHINE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "PYTHON": sys.executable, "OUT": str(tmp_path / "out"),
           "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else every run compiles torch._dynamo's sources again (~20 s)
    unfound = subprocess.run([sys.executable, "-c", "import curate"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert "No module named 'curate'" in unfound.stderr  # the conditions hold: only the script's set-up finds it
    run = subprocess.run([str(REPO / "bench" / "gpu.sh"), "--device", "cpu", "--quick", "-j", "2"], env=env, cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    parts = json.loads((tmp_path / "out" / "gpu.json").read_text())["parts"]
    assert list(parts) == ["data", "train resnet18 32px", "knn", "detection alexnet faster-rcnn", "detection alexnet fast-rcnn"]
    assert parts["data"]["images"] == 64
    figures = {"train resnet18 32px": ("loader_images_per_s", "eager_images_per_s", "compile_s", "compiled_images_per_s",
                                       "gflop_per_image", "tflops"),
               "knn": ("queries_per_s", "top1"), "detection alexnet faster-rcnn": ("train_images_per_s",),
               "detection alexnet fast-rcnn": ("train_images_per_s",)}
    for part, keys in figures.items():
        assert all(parts[part][key] > 0 for key in keys), parts[part]
    # torchvision's ResNet-18: 1.814 G multiply-adds at 224 px, so at 32 px 2 * 1.814 * (32/224)**2 GFLOP forward, twice that backward
    assert parts["train resnet18 32px"]["gflop_per_image"] == pytest.approx(3 * 2 * 1.814 * (32 / 224) ** 2, rel=0.03)
