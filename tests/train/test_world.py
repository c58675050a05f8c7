"""The demo world's groupings: which shape-texture combinations each coarse label merges, under curate's own
`coarsen --lift 1`; the grouping as part of the world (a grid redraws it, never reuses another's); the default."""

from __future__ import annotations

import json
import re
from itertools import combinations

import pytest
from commands import error_of, run

from train.world import GROUPINGS, NEW_COMBINATIONS, SHAPES, TEXTURES, factor_classes

WORLD = """
[data]
synthetic = "factors"
{grouping}train_per_class = 2
val_per_class = 1
[settings]
device = "cpu"
workers = 0
batch_size = 8
train_crop_size = 32
val_resize_size = 32
val_crop_size = 32
[[pretrain]]
name = "coarse"
labels = "coarsen --lift 1"
model = "tiny"
epochs = 1
"""


def world_file(tmp_path, grouping: str | None):
    path = tmp_path / f"{grouping or 'default'}.toml"
    path.write_text(WORLD.format(grouping=f'grouping = "{grouping}"\n' if grouping else ""))
    return path


def coarse_groups(grouping: str, tmp_path) -> dict[str, list[tuple[str, str]]]:
    """WordNet's coarse label (its name) -> the (shape, texture) of its classes, labelled as the grid labels them."""
    from train.grid_images import GridImages

    labels = GridImages({"synthetic": "factors", "grouping": grouping}, tmp_path, set()).label_set("coarsen --lift 1")
    factors = factor_classes(grouping)
    groups = {}
    for row in labels.kept:
        groups.setdefault(row.label_name, []).append(factors[row.wnid])
    assert sorted(groups) == ["domestic cat", "finch", "toy dog", "truck"]
    return groups


@pytest.mark.parametrize("grouping", list(GROUPINGS))
def test_each_grouping_draws_twelve_combinations_and_leaves_the_transfer_ones_new(grouping):
    combos = list(factor_classes(grouping).values())
    assert len(set(combos)) == 12 and set(combos).isdisjoint(NEW_COMBINATIONS.values())
    assert {(s, t) for s in SHAPES for t in TEXTURES} == set(combos) | set(NEW_COMBINATIONS.values())


def test_shared_shape_gives_each_coarse_label_one_shape_in_three_textures(tmp_path):
    groups = coarse_groups("shared-shape", tmp_path)
    for members in groups.values():
        assert len({s for s, _ in members}) == 1 and len({t for _, t in members}) == 3, members
    assert sorted(members[0][0] for members in groups.values()) == sorted(SHAPES)


def test_no_shared_factor_gives_each_coarse_label_three_combinations_that_share_neither(tmp_path):
    for members in coarse_groups("no-shared-factor", tmp_path).values():
        assert len(members) == 3
        assert all(a[0] != b[0] and a[1] != b[1] for a, b in combinations(members, 2)), members


def grid_of(file, out) -> dict:
    code, result = run(["grid", str(file), "--output-dir", str(out), "-q"])
    assert code == 0
    return result


def test_a_grid_redraws_the_world_under_another_grouping_and_trains_again(tmp_path):
    out, image = tmp_path / "grid", tmp_path / "grid" / "data" / "imagenet" / "train" / "n02085782" / "n02085782_0.JPEG"
    assert grid_of(world_file(tmp_path, "shared-shape"), out)["ran"] == 1
    drawn = image.read_bytes()
    again = grid_of(world_file(tmp_path, "no-shared-factor"), out)
    assert (again["ran"], again["done_before"]) == (1, 0)
    assert json.loads((out / "data" / "world.json").read_text())["grouping"] == "no-shared-factor"
    assert image.read_bytes() != drawn  # Japanese spaniel: a circle in checks, now a triangle in dots
    back = grid_of(world_file(tmp_path, "shared-shape"), out)
    assert (back["ran"], back["done_before"]) == (0, 1) and image.read_bytes() == drawn


def test_the_default_grouping_is_shared_shape(tmp_path):
    out = tmp_path / "grid"
    assert grid_of(world_file(tmp_path, None), out)["ran"] == 1
    assert json.loads((out / "data" / "world.json").read_text())["grouping"] == "shared-shape"
    assert grid_of(world_file(tmp_path, "shared-shape"), out)["done_before"] == 1  # the same world, the same cell


@pytest.mark.parametrize("data, sentence", [
    ('synthetic = "factors"\ngrouping = "similar"\n',
     r"Error: .*bad\.toml \[data\]: unknown grouping 'similar': choose shared-shape, no-shared-factor\."),
    ('train_index = "train.parquet"\ngrouping = "shared-shape"\n',
     r"Error: .*bad\.toml \[data\]: grouping is the synthetic world's; ImageNet's classes group as WordNet groups them: "
     r"leave it out, or draw the world with synthetic = \"factors\"\."),
], ids=["unknown grouping", "grouping of ImageNet"])
def test_a_bad_grouping_is_one_sentence_and_writes_nothing(tmp_path, capsys, data, sentence):
    (tmp_path / "bad.toml").write_text(f'[data]\n{data}[[pretrain]]\nname = "a"\nlabels = "identity"\nepochs = 1\n')
    line = error_of(["grid", str(tmp_path / "bad.toml"), "--output-dir", str(tmp_path / "out")], capsys)
    assert re.fullmatch(sentence, line), line
    assert not (tmp_path / "out").exists()
