"""The hierarchy and recipes on a toy DAG, where every answer can be worked out by hand."""

import pytest

from curate.errors import BadRecipe, BadWnid
from curate.labels.classlists import ClassList
from curate.labels.recipes import coarsen, refine
from curate.wordnet.hierarchy import Hierarchy

# name: (offset, parents). Offsets are made up; `b_vehicle` sorts before `vehicle` by name but has a
# larger offset, so the two tree rules disagree about `car`.
TOY = {
    "entity.n.01": (1, []),
    "object.n.01": (2, ["entity.n.01"]),
    "vehicle.n.01": (3, ["object.n.01"]),
    "b_vehicle.n.01": (4, ["object.n.01"]),
    "car.n.01": (5, ["vehicle.n.01", "b_vehicle.n.01"]),
    "bus.n.01": (6, ["vehicle.n.01"]),
    "animal.n.01": (7, ["object.n.01"]),
    "dog.n.01": (8, ["animal.n.01"]),
    "cat.n.01": (9, ["animal.n.01"]),
    "puppy.n.01": (10, ["dog.n.01"]),
    "hound.n.01": (11, ["dog.n.01"]),
    "tabby.n.01": (12, ["cat.n.01"]),
    "paris.n.01": (13, []),  # an instance: only an instance hypernym
}
INSTANCE_OF = {"paris.n.01": ["object.n.01"]}


def toy_hierarchy() -> Hierarchy:
    rows = sorted(TOY.items(), key=lambda item: item[1][0])
    node = {name: row for row, (name, _) in enumerate(rows)}
    return Hierarchy(
        [number for _, (number, _) in rows],
        [name for name, _ in rows],
        [name.split(".")[0] for name, _ in rows],
        [[node[p] for p in parents] for _, (_, parents) in rows],
        [[node[p] for p in INSTANCE_OF.get(name, [])] for name, _ in rows],
    )


def node(h, name):
    return h.names.index(name)


def toy_base(*names):
    h = toy_hierarchy()
    return ClassList("toy", tuple(sorted(h.wnid(node(h, n)) for n in names)))


def test_tree_rules_pick_one_parent_by_a_stable_key():
    h = toy_hierarchy()
    car = node(h, "car.n.01")
    assert h.names[h.tree("first-name").parent(car)] == "b_vehicle.n.01"
    assert h.names[h.tree("first-offset").parent(car)] == "vehicle.n.01"
    assert h.tree("first-name").parent(node(h, "entity.n.01")) is None
    assert h.tree("first-name").depth(node(h, "puppy.n.01")) == 4
    assert h.names[h.tree("first-name").parent(node(h, "paris.n.01"))] == "object.n.01"


def test_dag_closure_uses_every_hypernym():
    h = toy_hierarchy()
    ancestors = {h.names[a] for a in h.dag_ancestors(node(h, "car.n.01"))}
    assert ancestors == {"car.n.01", "vehicle.n.01", "b_vehicle.n.01", "object.n.01", "entity.n.01"}


def test_unknown_ids_and_rules_are_refused():
    h = toy_hierarchy()
    with pytest.raises(BadWnid, match="not a noun synset of WordNet 3.0"):
        h.node("n00000099")
    with pytest.raises(BadWnid, match="ids look like n01440764"):
        h.node("dog")
    with pytest.raises(BadRecipe, match="choose one of first-name, first-offset"):
        h.tree("random")


def labels_by_name(labels):
    return {row.name: row.label_name for row in labels.rows}


def test_depth_cut_keeps_shallow_classes():
    h = toy_hierarchy()
    base = toy_base("car.n.01", "bus.n.01", "puppy.n.01", "hound.n.01", "tabby.n.01")
    assert labels_by_name(coarsen(h.tree(), base, depth=2)) == {
        "car": "b vehicle", "bus": "vehicle", "puppy": "animal", "hound": "animal", "tabby": "animal"
    }
    assert set(labels_by_name(coarsen(h.tree(), base, depth=9)).values()) == {"car", "bus", "puppy", "hound", "tabby"}


def test_lift_absorbs_labels_under_other_labels():
    h = toy_hierarchy()
    # puppy lifts to dog, tabby to cat, dog (a class) lifts to animal, which absorbs dog and cat.
    base = toy_base("puppy.n.01", "tabby.n.01", "dog.n.01", "bus.n.01")
    assert labels_by_name(coarsen(h.tree(), base, lift=1)) == {
        "puppy": "animal", "tabby": "animal", "dog": "animal", "bus": "vehicle"
    }


def test_refine_splits_the_largest_cluster_first_and_never_overshoots():
    h = toy_hierarchy()
    classes = [node(h, n) for n in ("puppy.n.01", "hound.n.01", "tabby.n.01", "car.n.01", "bus.n.01")]
    start = {c: node(h, "object.n.01") for c in classes}
    two = refine(h.tree(), start, 2)
    assert two is None  # object splits into animal, vehicle and b_vehicle at once: 3 clusters
    three = refine(h.tree(), start, 3)
    assert {h.names[label] for label in three.values()} == {"animal.n.01", "vehicle.n.01", "b_vehicle.n.01"}
    four = refine(h.tree(), start, 4)
    # animal (3 members) is the largest: it splits into dog and cat.
    assert {h.names[label] for label in four.values()} == {"dog.n.01", "cat.n.01", "vehicle.n.01", "b_vehicle.n.01"}
    five = refine(h.tree(), start, 5)
    assert len(set(five.values())) == 5
