"""How much of the image an untrained CaffeNet sees under each input: the across-image std over the mean
activation after conv2 and at fc7, on 64 of the tests' synthetic VOC scenes (256 px, central 227 crop), fed as
Caffe fed it (BGR 0..255 minus the mean pixel) and as torchvision normalises.

    uv run --extra train python bench/caffe_input_scale.py

A small ratio means the activations hardly differ between images: the network starts nearly blind to them.
"""
import sys

import numpy as np
import torch

from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "train"))
import synthetic_voc  # noqa: E402
from train.models import build_model
from train.data.loaders import to_device
from train.data.crops import square_resize

torch.manual_seed(0)
rng = np.random.default_rng(0)
kinds = list(synthetic_voc.SHAPES.values())
images = []
for _ in range(64):
    pick = [kinds[i] for i in rng.choice(len(kinds), size=int(rng.integers(1, 4)))]
    image, _ = synthetic_voc.scene(rng, pick, (256, 341), (256 / 12, 256 / 3.7))
    images.append(square_resize(torch.from_numpy(image).permute(2, 0, 1)[None], 256)[0, :, 14:241, 14:241])
batch = torch.stack(images)
net = build_model("caffenet", 1000).eval()
seen = {}
net.features[5].register_forward_hook(lambda m, i, o: seen.__setitem__("conv2", o.detach().flatten(1).clone()))
net.classifier[4].register_forward_hook(lambda m, i, o: seen.__setitem__("fc7", o.detach().flatten(1).clone()))
for norm in ("torchvision", "caffe"):
    x = to_device(batch, torch.device("cpu"), input_norm=norm)
    with torch.no_grad():
        net(x)
    ratio = {k: float(v.std(0).mean() / v.mean()) for k, v in seen.items()}
    print(norm, "input std %.2f" % float(x.std()), " ".join(f"{k} {r:.4f}" for k, r in ratio.items()))
