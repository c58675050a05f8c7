"""BREEDS' calibrated hierarchy as curate reads it: its numbering, its levels, and the breeds tree's parent rule."""

from collections import Counter

from curate.labels.classlists import builtin_list
from curate.wordnet.breeds import Calibrated, BreedsTree, calibrated
from curate.wordnet.wnid import is_wnid


def test_breeds_numbers_the_classes_as_curates_ilsvrc2012_list_in_sorted_order():
    """dataset_class_info.json's class i is the i-th wnid of ilsvrc2012, so BREEDS' class numbers are the
    standard ILSVRC-2012 labels."""
    assert calibrated().classes == builtin_list("ilsvrc2012").wnids


def test_the_shipped_hierarchy_holds_890_classes_under_levels_as_breeds_counts_them():
    graph = calibrated()
    nodes = [*graph.parents, "n00001740"]
    assert sum(wnid in graph for wnid in graph.classes) == 890
    assert (len(nodes), sum(not is_wnid(node) for node in nodes)) == (1328, 46)
    assert Counter(map(graph.level, nodes)) == {0: 1, 1: 2, 2: 10, 3: 29, 4: 128, 5: 466, 6: 591, 7: 98, 8: 3}


# A toy DAG under entity: tench lies at level 2 through dummyB and at 3 through dummyA and dummyC; goldfish has
# two parents at level 1, dummyA and dummyB.
TOY = [("n00001740", "dummyA"), ("n00001740", "dummyB"), ("dummyA", "dummyC"), ("dummyC", "n01440764"),
       ("dummyB", "n01440764"), ("dummyA", "n01443537"), ("dummyB", "n01443537")]


def toy() -> Calibrated:
    return Calibrated(["n01440764", "n01443537"], TOY, {"dummyA": "a", "dummyB": "b", "dummyC": "c"})


def test_a_level_is_the_longest_path_from_the_root():
    assert [toy().level(node) for node in ("dummyB", "dummyC", "n01440764", "n01443537")] == [1, 2, 3, 2]


def test_the_breeds_tree_keeps_the_parent_on_a_longest_path_ties_by_id(hierarchy):
    tree = BreedsTree(hierarchy, toy())
    path = lambda wnid: [tree.node_id(node) for node in tree.path(hierarchy.node(wnid))]  # noqa: E731
    assert path("n01440764") == ["n00001740", "dummyA", "dummyC", "n01440764"]
    assert path("n01443537") == ["n00001740", "dummyA", "n01443537"]


def test_a_node_breeds_added_with_several_children_has_no_synset():
    graph = toy()
    assert (graph.synset("dummyC"), graph.synset("dummyA"), graph.synset("n01443537")) == ("n01440764", None, "n01443537")
