"""`curate breeds` and `curate coarsen --tree breeds`: BREEDS' benchmarks as BREEDS' own code draws them
(robustness 1.2.1.post2's breeds_helpers; tools/check_breeds.py compares every superclass and subclass), their
presets, the general form's mistakes, and determinism."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from curate.labels.classlists import builtin_list
from curate.labels.manifest import labels_hash, read_labels
from curate.labels.presets import labels_named

MANIFESTS = Path(__file__).parents[2] / "manifests"


@pytest.fixture(scope="module")
def preset(hierarchy):
    """A BREEDS preset as the code builds it now (tests/cli/test_build.py checks manifests/ holds the same)."""
    built = {}

    def build(name: str):
        if name not in built:
            built[name] = labels_named(name, hierarchy, builtin_list("ilsvrc2012"))
        return built[name]

    return build


@pytest.mark.parametrize("name,superclasses,subclasses", [
    ("breeds-entity13", 13, 20), ("breeds-entity30", 30, 8), ("breeds-living17", 17, 4), ("breeds-nonliving26", 26, 4)])
def test_each_breeds_preset_has_its_superclasses_each_with_half_its_subclasses_in_source_and_half_in_target(
        preset, name, superclasses, subclasses):
    labels = preset(name)
    assert labels.label_count == superclasses
    for rows in labels.members().values():
        assert Counter(row.reason for row in rows) == {"source": subclasses // 2, "target": subclasses // 2}
    assert len(labels.rows) == 1000 and len(labels.kept) == superclasses * subclasses


# (preset, class, label id, label wnid, label name, part), as BREEDS' make_* functions give them (split rand,
# seed 2). A superclass BREEDS added (dummy32 garment, dummy9 serpentes) is labelled by its only child's synset.
MEMBERS = [
    ("breeds-entity13", "n04479046", 0, "n03419014", "garment", "source"),  # trench coat
    ("breeds-entity13", "n03630383", 0, "n03419014", "garment", "target"),  # lab coat
    ("breeds-entity13", "n01817953", 1, "n01503061", "bird", "source"),  # African grey
    ("breeds-entity13", "n07768694", 12, "n07705711", "produce, green goods, green groceries, garden truck", "target"),
    ("breeds-entity30", "n01749939", 0, "n01726692", "serpentes", "source"),  # green mamba
    ("breeds-entity30", "n01742172", 0, "n01726692", "serpentes", "target"),  # boa constrictor
    ("breeds-entity30", "n07754684", 29, "n13134947", "fruit", "source"),  # jackfruit
    ("breeds-living17", "n01631663", 0, "n01629276", "salamander", "source"),  # eft
    ("breeds-living17", "n01630670", 0, "n01629276", "salamander", "target"),  # common newt
    ("breeds-living17", "n02490219", 16, "n02484322", "monkey", "source"),  # marmoset
    ("breeds-living17", "n02493793", 16, "n02484322", "monkey", "target"),  # spider monkey
    ("breeds-nonliving26", "n03958227", 0, "n02773037", "bag", "source"),  # plastic bag
    ("breeds-nonliving26", "n02769748", 0, "n02773037", "bag", "target"),  # backpack
    ("breeds-nonliving26", "n07716358", 25, "n07715561", "squash", "target"),  # zucchini
]


@pytest.mark.parametrize("name,wnid,label,label_wnid,label_name,part", MEMBERS)
def test_hand_picked_classes_lie_in_breeds_superclass_and_part(preset, name, wnid, label, label_wnid, label_name, part):
    labels = preset(name)
    row = next(row for row in labels.rows if row.wnid == wnid)
    assert (labels.label_index[row.label_wnid], row.label_wnid, row.label_name, row.reason) == (
        label, label_wnid, label_name, part)


def test_show_prints_a_presets_classes_with_their_part(curate_cli):
    result = curate_cli("show", MANIFESTS / "breeds-living17.parquet", "--json")
    row = next(row for row in json.loads(result.stdout)["classes"] if row["wnid"] == "n01631663")  # eft
    assert (row["label"], row["label_wnid"], row["reason"]) == (0, "n01629276", "source")
    assert "n01631663  eft  ->  n01629276  salamander  (source)" in curate_cli("show", MANIFESTS / "breeds-living17.parquet").stdout


@pytest.mark.parametrize("wnid,reason", [
    ("n01440764", "removed: under n02512053 fish, which has 16 subclasses, fewer than 20"),  # tench
    ("n04399382", "removed: not in BREEDS' calibrated hierarchy"),  # teddy, one of the 110 outside it
    ("n03404251", "removed: not drawn among the subclasses of dummy32 garment"),  # fur coat
])
def test_a_class_entity13_leaves_out_says_why(preset, wnid, reason):
    row = next(row for row in preset("breeds-entity13").rows if row.wnid == wnid)
    assert (row.label_wnid, row.reason) == (None, reason)


def test_one_part_keeps_breeds_label_numbering(curate_cli, tmp_path):
    """The target part of ENTITY-13 under the good split: garment stays label 0 (BREEDS numbers superclasses in id
    order, and dummy32 sorts first), though its synset n03419014 does not sort first."""
    out = tmp_path / "target.parquet"
    assert curate_cli("breeds", "entity13", "--split", "good", "--part", "target", "-o", out).exit_code == 0
    labels = read_labels(out)
    rows = {row.wnid: row for row in labels.rows}
    assert labels.label_count == 13 and len(labels.kept) == 130
    assert labels.label_index["n03419014"] == 0 and labels.label_index["n01503061"] == 1
    assert rows["n03617480"].label_wnid == "n03419014" and rows["n03617480"].reason == "target"  # kimono
    assert rows["n02667093"].reason == "removed: in the source part"  # abaya
    assert labels.params == {"benchmark": "entity13", "level": 3, "subclasses": 20, "balanced": True, "split": "good",
                             "seed": 2, "part": "target"}


def test_a_superclass_breeds_added_is_labelled_by_the_synset_down_its_chain_of_only_children(curate_cli, tmp_path):
    """dummy65 person has one child, dummy66 person, whose one child is n00007846 person."""
    out = tmp_path / "person.parquet"
    assert curate_cli("breeds", "--level", "2", "--ancestor", "dummy65", "--split", "none", "-o", out).exit_code == 0
    labels = read_labels(out)
    assert [(row.label_wnid, row.label_name) for row in labels.kept] == [("n00007846", "person")] * 2
    assert labels.params["subclasses"] == 2  # BREEDS' default: the fewest (3), made even


@pytest.mark.parametrize("args,sentence", [
    ([], "Name a benchmark (entity13, entity30, living17, nonliving26) or give a --level."),
    (["entity13", "--level", "3"], "entity13 fixes its level, subclasses and ancestor: give --level without a benchmark."),
    (["--level", "9"], "--level must be between 0 and 8 (the levels of BREEDS' calibrated hierarchy), not 9."),
    (["--level", "3", "--ancestor", "n01466257"],
     "n01466257 is not a node of BREEDS' calibrated hierarchy, so it cannot be the --ancestor."),
    (["--level", "0", "--ancestor", "n00004258"],
     "No node at level 0 of BREEDS' calibrated hierarchy lies under n00004258 living thing, animate thing."),
    (["--level", "3", "--subclasses", "5"], "--subclasses must be even with a balanced split (half of each "
                                            "superclass's go to source, half to target), not 5."),
    (["--level", "3", "--subclasses", "1", "--unbalanced"], "--subclasses must be 2 or more with a split, not 1."),
    (["--level", "3", "--subclasses", "0", "--split", "none"], "--subclasses must be 1 or more, not 0."),
    (["--level", "3", "--subclasses", "300", "--split", "none"],
     "No node at level 3 has 300 or more subclasses (the most is 217): lower --subclasses."),
    (["--level", "2"], "The superclass dummy44 structure, place at level 2 is a node BREEDS added, with several "
                       "children and no WordNet synset to stand for it: choose another --level, --subclasses or --ancestor."),
    (["entity13", "--split", "none", "--part", "source"],
     "--part needs a split: without one (split none) there is no source or target."),
])
def test_a_mistake_is_one_sentence_and_writes_nothing(curate_cli, tmp_path, args, sentence):
    out = tmp_path / "out.parquet"
    result = curate_cli("breeds", *args, "-o", out)
    assert (result.exit_code, result.stderr.strip()) == (1, f"Error: {sentence}")
    assert not out.exists()


DETERMINISM = [["breeds", "entity30", "--split", "good"], ["breeds", "--level", "4", "--subclasses", "6", "--seed", "0",
               "--ancestor", "n00021939", "--split", "none"], ["coarsen", "--classes", "300", "--tree", "breeds"]]


@pytest.mark.parametrize("args", DETERMINISM, ids=lambda args: " ".join(args[:2]))
def test_the_same_rows_under_any_hash_seed(tmp_path, args):
    hashes = set()
    for seed in ("0", "4242"):
        out = tmp_path / f"{seed}.parquet"
        subprocess.run([sys.executable, "-m", "curate", *args, "-o", str(out)], check=True, capture_output=True,
                       env={**os.environ, "PYTHONHASHSEED": seed})
        hashes.add(labels_hash(read_labels(out)))
    assert len(hashes) == 1


def test_coarsen_cuts_breeds_hierarchy_at_its_levels(curate_cli, tmp_path, preset):
    """Depth on the breeds tree is BREEDS' level: depth 3 holds ENTITY-13's 13 superclasses; the 110 classes
    outside the hierarchy and the 11 under dummy38 (which no synset stands for) are removed, saying so."""
    out = tmp_path / "depth3.parquet"
    assert curate_cli("coarsen", "--depth", "3", "--tree", "breeds", "-o", out).exit_code == 0
    labels = read_labels(out)
    rows = {row.wnid: row for row in labels.rows}
    assert (labels.label_count, len(labels.kept), labels.tree_rule) == (28, 879, "breeds")
    assert set(preset("breeds-entity13").label_wnids) < set(labels.label_wnids)
    assert rows["n01440764"].label_wnid == "n02512053"  # tench -> fish
    assert rows["n02667093"].label_wnid == "n03419014"  # abaya -> garment (for dummy32)
    assert rows["n04399382"].reason == "removed: not in BREEDS' calibrated hierarchy"  # teddy
    assert rows["n02808304"].reason == ("removed: under dummy38 soft furnishings, accessories, a node of BREEDS' "
                                        "calibrated hierarchy that no WordNet synset stands for")  # bath towel


@pytest.mark.parametrize("args,labels", [(["--lift", "1"], 164), (["--classes", "300"], 300), (["--depth", "1"], 2)])
def test_coarsen_on_the_breeds_tree_by_every_recipe(curate_cli, args, labels):
    """Lifting and balanced refinement pass through nodes BREEDS added (tie-broken by their ids)."""
    result = curate_cli("coarsen", *args, "--tree", "breeds", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["labels"]) == labels


def test_unbalanced_takes_every_subclass_made_even(curate_cli, tmp_path):
    """BREEDS' balanced=False on LIVING-17's form: all 5 salamanders but one (2 + 2), all 11 lizards but one
    (5 + 5), all 6 spiders (3 + 3); 108 + 108 classes in all, as BREEDS' code gives."""
    out = tmp_path / "unbalanced.parquet"
    args = ("breeds", "--level", "5", "--ancestor", "n00004258", "--subclasses", "4", "--unbalanced", "-o", out)
    assert curate_cli(*args).exit_code == 0
    labels = read_labels(out)
    sizes = {wnid: Counter(row.reason for row in rows) for wnid, rows in labels.members().items()}
    assert sizes["n01629276"] == sizes["n01662784"] == {"source": 2, "target": 2}  # salamander, turtle
    assert sizes["n01674464"] == {"source": 5, "target": 5} and sizes["n01772222"] == {"source": 3, "target": 3}
    assert Counter(row.reason for row in labels.kept) == {"source": 108, "target": 108}


def test_n_by_k_on_the_breeds_tree_draws_from_breeds_superclasses(curate_cli, tmp_path, preset):
    """coarsen's N x K form cuts the calibrated tree as well: at depth 4 with 8 subclasses its 30 superclasses
    are ENTITY-30's (its own seeded draw of their classes, 8 each); the 110 classes outside the hierarchy are
    removed, saying so, once each."""
    out = tmp_path / "n-by-k.parquet"
    result = curate_cli("coarsen", "--depth", "4", "--subclasses", "8", "--seed", "1", "--tree", "breeds", "-o", out)
    assert result.exit_code == 0, result.stderr
    labels = read_labels(out)
    assert set(labels.label_wnids) == set(preset("breeds-entity30").label_wnids)
    assert Counter(len(rows) for rows in labels.members().values()) == Counter({8: 30})
    assert len(labels.rows) == 1000
    assert sum(row.reason == "removed: not in BREEDS' calibrated hierarchy" for row in labels.rows) == 110
