"""The seeded order of images and the subsets taken in it: pinned scores, nesting, stability when images
are added, budgets spread over labels, and the same choice under any PYTHONHASHSEED."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from image_world import FISH, GOLDFISH, SHARK, TENCH, TIGER_SHARK, WHITE_SHARK, file_list, index_of, label_set

from curate.images.index import ImageIndex
from curate.images.subsets import budget_quotas, class_counts, sample_budget, sample_per_class, spread
from curate.seeded import path_score, path_scores, text_key, uniforms

PINNED_SCORE = 12490700579058319407


MASK = (1 << 64) - 1


def splitmix(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def plain_score(path: str, seed: int) -> int:
    """The score as curate.seeded defines it, one path at a time in Python ints: mix(poly(path) ^ mix(seed))."""
    h = 0
    for byte in reversed(path.encode()):  # Horner's rule for sum(byte[i] * P**i)
        h = (h * 0x100000001B3 + byte) & MASK
    return splitmix(h ^ splitmix(seed & MASK))


def test_path_scores_are_a_fixed_function_of_path_and_seed():
    paths = ["", "a", f"{TENCH}/{TENCH}_10026.JPEG", "é/ünïcode.jpg", "x" * 300] + [f"p{i}" for i in range(40_000)]
    for seed in (0, 7, 2**64 + 3):
        column = path_scores(pa.array(paths).slice(1), seed).tolist()
        assert column[:4] == [plain_score(p, seed) for p in paths[1:5]] == [path_score(p, seed) for p in paths[1:5]]
        assert column[-3:] == [plain_score(p, seed) for p in paths[-3:]]  # the third chunk of paths
    assert path_scores(pa.chunked_array([paths[:3], paths[3:5]]), 1).tolist() == [plain_score(p, 1) for p in paths[:5]]


def test_the_score_of_a_path_never_changes():
    # pinned: if this number changes, every subset anyone has published changes with it
    assert path_score(f"{TENCH}/{TENCH}_10026.JPEG", 0) == PINNED_SCORE


def test_the_seeded_draws_never_change():
    """Pinned: training's crops and held-out splits follow `uniforms`, the recipes' class orders `text_key`."""
    assert uniforms(7, 3, np.array([0, 41, 2**40]), 2).tolist() == [
        [0.9918218920676956, 0.9051318016089313], [0.39355666252275157, 0.741605083931274],
        [0.9109418999468601, 0.38250990627549]]
    assert text_key(0, TENCH) == "dca4ab53fd4f7f8f5b484be637abf64a6cf7112e553712c9f7a3062c4108fd0b"


def test_per_class_subsets_nest_and_are_stable_when_images_are_added(tmp_path):
    rows = ImageIndex.read(index_of(tmp_path, {TENCH: 40, GOLDFISH: 30, WHITE_SHARK: 25})).rows
    chosen = {n: set(sample_per_class(rows, n, seed=1)["path"].to_pylist()) for n in (5, 10, 20)}
    assert chosen[5] < chosen[10] < chosen[20]
    assert class_counts(sample_per_class(rows, 10, seed=1)) == {TENCH: 10, GOLDFISH: 10, WHITE_SHARK: 10}
    assert set(sample_per_class(rows, 10, seed=2)["path"].to_pylist()) != chosen[10]
    # more images of every class, and a new class
    listing = file_list(tmp_path / "more.txt", {TENCH: 60, GOLDFISH: 30, WHITE_SHARK: 25, TIGER_SHARK: 12})
    bigger = ImageIndex.build(tmp_path, file_list=listing).rows
    after = set(sample_per_class(bigger, 10, seed=1)["path"].to_pylist())
    old = set(rows["path"].to_pylist())
    assert {p for p in after if not p.startswith(TENCH)} - {p for p in after if p.startswith(TIGER_SHARK)} == {
        p for p in chosen[10] if not p.startswith(TENCH)
    }
    assert {p for p in after if p in old} <= chosen[10]  # old images keep their order among themselves


@pytest.mark.parametrize(
    "total,capacities,shares",
    [
        (10, [None, None, None], [4, 3, 3]),
        (9, [None, None, None], [3, 3, 3]),
        (10, [1, None, None], [1, 5, 4]),
        (10, [2, 100, 3], [2, 5, 3]),
        (7, [3, 3, 3], [3, 2, 2]),
        (0, [None, None], [0, 0]),
    ],
)
def test_spread_is_as_even_as_the_capacities_allow(total, capacities, shares):
    assert spread(total, capacities) == shares


def test_spread_refuses_more_than_the_capacities_hold():
    with pytest.raises(ValueError):
        spread(10, [3, 3])


LABELS = {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: None}
PLENTY = {TENCH: 100, GOLDFISH: 100, WHITE_SHARK: 100, TIGER_SHARK: 100}


@pytest.mark.parametrize(
    "budget,counts,allow_short,quotas",
    [
        # label order is wnid order: shark n01482330 is label 0 and takes the odd image
        (13, PLENTY, False, {TENCH: 3, GOLDFISH: 3, WHITE_SHARK: 7}),
        (15, PLENTY, False, {TENCH: 4, GOLDFISH: 3, WHITE_SHARK: 8}),
        (200, PLENTY, False, {TENCH: 50, GOLDFISH: 50, WHITE_SHARK: 100}),
        (100, {**PLENTY, GOLDFISH: 10}, True, {TENCH: 40, GOLDFISH: 10, WHITE_SHARK: 50}),
        (100, {**PLENTY, GOLDFISH: 10, WHITE_SHARK: 5}, True, {TENCH: 85, GOLDFISH: 10, WHITE_SHARK: 5}),
    ],
)
def test_a_budget_spreads_over_labels_then_classes(budget, counts, allow_short, quotas):
    assert budget_quotas(label_set(LABELS), counts, budget, allow_short) == quotas


def test_budget_subsets_take_each_class_in_the_seeded_order_and_nest(tmp_path):
    rows = ImageIndex.read(index_of(tmp_path, {TENCH: 40, GOLDFISH: 30, WHITE_SHARK: 25, TIGER_SHARK: 5})).rows
    small, large = sample_budget(rows, label_set(LABELS), 20, seed=3), sample_budget(rows, label_set(LABELS), 40, seed=3)
    assert class_counts(small) == {TENCH: 5, GOLDFISH: 5, WHITE_SHARK: 10}
    assert set(small["path"].to_pylist()) < set(large["path"].to_pylist())


def test_subset_is_the_same_under_any_hash_seed(tmp_path):
    index = index_of(tmp_path, {TENCH: 30, GOLDFISH: 30})
    script = (
        "import sys; from curate.images.index import ImageIndex;"
        "print(ImageIndex.read(sys.argv[1]).subset(per_class=7, seed=5).content_hash)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", script, str(index)], env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == ImageIndex.read(index).subset(per_class=7, seed=5).content_hash
