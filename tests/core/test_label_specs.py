"""The one language that names a label set (`labels_named`): presets, identity, recipes as their curate command
lines, manifests; and its mistakes, each one sentence in the spec's own words."""

from __future__ import annotations

import pytest

from curate.errors import CurateError
from curate.labels import recipes
from curate.labels.classlists import ClassList, builtin_list
from curate.labels.manifest import read_labels, write_labels
from curate.labels.presets import PRESETS, labels_named

TOY_BASE = ClassList("toy", ("n01440764", "n01443537", "n02084071", "n02085620", "n02123045"))  # fish, dogs, a cat


def test_a_preset_is_built_over_its_own_base(hierarchy):
    preset = next(p for p in PRESETS if p.name == "coarse-127")
    labels = labels_named("coarse-127", hierarchy, TOY_BASE)
    assert labels == preset.build(hierarchy) and labels.base_name == "ilsvrc2012" and labels.label_count == 127


def test_identity_and_a_recipe_without_base_take_the_base_given(hierarchy):
    assert labels_named("identity", hierarchy, TOY_BASE) == recipes.identity(hierarchy, TOY_BASE)
    lifted = labels_named("coarsen --lift 1", hierarchy, TOY_BASE)
    assert lifted == recipes.coarsen(hierarchy.tree(), TOY_BASE, lift=1) and lifted.base_name == "toy"
    assert labels_named("split random --part b --seed 3", hierarchy, TOY_BASE) == recipes.split(hierarchy, TOY_BASE, "random", "b", 3)


def test_a_recipe_takes_the_commands_options(hierarchy, tmp_path):
    listed = tmp_path / "mine.txt"
    listed.write_text("n02084071\nn02085620\n")
    assert labels_named(f"coarsen --depth 2 --base {listed}", hierarchy, TOY_BASE).base_name == "mine.txt"
    dogs_and_cats = labels_named("exclude --synset n02084071 --synset=n02121620", hierarchy, TOY_BASE)
    assert [row.wnid for row in dogs_and_cats.kept] == ["n01440764", "n01443537"]
    assert dogs_and_cats.params == {"targets": "custom: n02084071 n02121620"}
    ordered = labels_named("extend --add 3 --keep-base-order --branches pascal-voc", hierarchy, TOY_BASE)
    assert ordered.params["keep_base_order"] is True and ordered.label_wnids[:5] == list(TOY_BASE.wnids)
    assert labels_named("sample --classes 4 --pool ilsvrc2012", hierarchy, TOY_BASE).params == {"classes": 4, "seed": 0}


def test_a_manifest_is_read_and_a_recipe_may_read_one(hierarchy, tmp_path):
    path = tmp_path / "lifted.parquet"
    write_labels(labels_named("coarsen --lift 1", hierarchy, builtin_list("ilsvrc2012")), path)
    assert labels_named(str(path), hierarchy, TOY_BASE) == read_labels(path)
    assert labels_named(f"coarsen --depth 1 --base {path}", hierarchy, TOY_BASE).base_name == "lifted.parquet"


COARSEN_REST = "--subclasses, --superclasses, --seed, --base, --under, --tree"  # the options after the three cuts


@pytest.mark.parametrize("spec,sentence", [
    ("coarsen --lift 0", "The label set 'coarsen --lift 0': --lift must be 1 or more, not 0."),
    ("coarsen --depth 3 --lift 1", "The label set 'coarsen --depth 3 --lift 1': Choose exactly one of --depth, --lift "
                                   "or --classes (got --depth and --lift)."),
    ("coarsen --lif 1", "The label set 'coarsen --lif 1': coarsen has no option --lif: it takes --depth, --lift, "
                        f"--classes, {COARSEN_REST}."),
    ("coarsen -l 1", "The label set 'coarsen -l 1': coarsen has no option -l: it takes --depth, --lift, --classes, "
                     f"{COARSEN_REST}."),
    ("coarsen --lift 1 -o x.parquet", "The label set 'coarsen --lift 1 -o x.parquet': coarsen has no option -o: it "
                                      f"takes --depth, --lift, --classes, {COARSEN_REST}."),
    ("coarsen --lift", "The label set 'coarsen --lift': --lift needs a value."),
    ("coarsen --lift one", "The label set 'coarsen --lift one': --lift takes a whole number, not 'one'."),
    ("coarsen --lift 1 --lift 2", "The label set 'coarsen --lift 1 --lift 2': --lift is given twice."),
    ("extend", "The label set 'extend': extend needs --add."),
    ("extend --add 5 --keep-base-order=yes", "The label set 'extend --add 5 --keep-base-order=yes': --keep-base-order "
                                             "is a switch: it takes no value."),
    ("extend --add 5 --min-images 2", "The label set 'extend --add 5 --min-images 2': --min-images needs --images: the "
                                      "images per synset are counted in an image index."),
    ("split --part a", "The label set 'split --part a': split needs method."),
    ("split random natural --part a", "The label set 'split random natural --part a': split takes 1 argument (method), "
                                      "not 'random natural'."),
    ("sample --classes 0 --pool ilsvrc2012", "The label set 'sample --classes 0 --pool ilsvrc2012': --classes must be "
                                             "between 1 and the 1000 classes of ilsvrc2012, not 0."),
    ("coarsen 'x", "The label set \"coarsen 'x\": it does not split into words (No closing quotation)."),
    ("nowhere.parquet", "The label set 'nowhere.parquet': nowhere.parquet does not exist."),
    ("coarsen lift=1", "The label set 'coarsen lift=1': coarsen takes no arguments, not 'lift=1'."),
    ("random 5", "Unknown label set 'random 5': give a preset (" + ", ".join(p.name for p in PRESETS) + "), identity, "
     "a recipe as its curate command line (coarsen, exclude, extend, sample, split, breeds, import; e.g. `coarsen --lift 1`) or a "
     "label manifest (.parquet)."),
])
def test_a_mistake_is_one_sentence_in_the_specs_words(hierarchy, spec, sentence):
    with pytest.raises(CurateError) as raised:
        labels_named(spec, hierarchy, TOY_BASE)
    assert str(raised.value) == sentence
