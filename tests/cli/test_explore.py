"""`curate find`, `path`, `tree`: known synsets, counts computed here from the tree, TSV and JSON, refusals."""

import json

import pytest

from curate.labels.classlists import builtin_list

DOG_TREE_PATH = [
    ("n00001740", "entity"), ("n00001930", "physical entity"), ("n00002684", "object"), ("n00003553", "whole"),
    ("n00004258", "living thing"), ("n00004475", "organism"), ("n00015388", "animal"), ("n01466257", "chordate"),
    ("n01471682", "vertebrate"), ("n01861778", "mammal"), ("n01886756", "placental"), ("n02075296", "carnivore"),
    ("n02083346", "canine"), ("n02084071", "dog"),
]
DOG_DOMESTIC_PATH = DOG_TREE_PATH[:7] + [("n01317541", "domestic animal"), ("n02084071", "dog")]


def rows_of(result):
    assert result.exit_code == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


def test_find_lists_the_bird_and_the_machine(curate_cli):
    rows = rows_of(curate_cli("find", "crane"))
    assert rows[0] == ["wnid", "name", "depth", "ilsvrc2012", "imagenet22k", "match", "definition"]
    assert ["n02012849", "crane", "12", "yes", "yes", "lemma",
            "large long-necked wading bird of marshes and plains in many parts of the world"] in rows
    assert ["n03126707", "crane", "8", "yes", "yes", "lemma", "lifts and moves heavy objects; lifting tackle is "
            "suspended from a pivoted boom that rotates around a vertical axis"] in rows
    assert ["n02013177", "whooping crane", "13", "no", "yes", "lemma",
            "rare North American crane having black-and-white plumage and a trumpeting call"] in rows


def test_find_lists_lemma_matches_before_gloss_matches(curate_cli):
    matches = [row[5] for row in rows_of(curate_cli("find", "crane"))[1:]]
    assert matches == sorted(matches, key=["lemma", "gloss"].index) and {"lemma", "gloss"} == set(matches)
    derrick = next(row for row in rows_of(curate_cli("find", "crane"))[1:] if row[0] == "n03178430")
    assert derrick[:6] == ["n03178430", "derrick", "9", "no", "yes", "gloss"]


def test_find_needs_every_word(curate_cli):
    assert [row[:2] for row in rows_of(curate_cli("find", "whooping", "crane"))[1:]] == [["n02013177", "whooping crane"]]


def test_find_as_json(curate_cli):
    result = curate_cli("find", "whooping", "crane", "--json")
    assert json.loads(result.stdout) == [{
        "wnid": "n02013177", "name": "whooping crane", "depth": 13, "ilsvrc2012": False, "imagenet22k": True,
        "match": "lemma", "definition": "rare North American crane having black-and-white plumage and a trumpeting call",
    }]


def test_path_of_dog_runs_through_canine_and_carnivore(curate_cli):
    rows = rows_of(curate_cli("path", "n02084071"))
    assert rows[0] == ["path", "depth", "wnid", "name"]
    expected = [[name, str(depth), wnid, lemma] for name, path in
                [("first-name", DOG_TREE_PATH), ("1", DOG_TREE_PATH), ("2", DOG_DOMESTIC_PATH)]
                for depth, (wnid, lemma) in enumerate(path)]
    assert rows[1:] == expected


def test_path_as_json(curate_cli):
    answer = json.loads(curate_cli("path", "n02084071", "--json").stdout)
    steps = lambda path: [{"wnid": wnid, "name": name} for wnid, name in path]  # noqa: E731
    assert answer == {"wnid": "n02084071", "name": "dog", "tree_rule": "first-name", "tree_path": steps(DOG_TREE_PATH),
                      "hypernym_paths": [steps(DOG_TREE_PATH), steps(DOG_DOMESTIC_PATH)]}


def test_path_of_the_root_is_the_root(curate_cli):
    assert rows_of(curate_cli("path", "n00001740"))[1:] == [["first-name", "0", "n00001740", "entity"],
                                                            ["1", "0", "n00001740", "entity"]]


def counts_under(hierarchy, node, wnids):
    """Classes of `wnids` at or under `node`, by walking each class's parents up the first-name tree."""
    tree = hierarchy.tree()
    count = 0
    for wnid in hierarchy.known_wnids(wnids):
        at = hierarchy.node(wnid)
        while at is not None and at != node:
            at = tree.parent(at)
        count += at == node
    return count


@pytest.mark.parametrize("top", ["n02085374", "n02083346"])  # toy dog, canine
def test_tree_counts_the_classes_under_each_node(curate_cli, hierarchy, top):
    rows = rows_of(curate_cli("tree", top, "--depth", "1"))
    assert rows[0] == ["level", "wnid", "name", "ilsvrc2012", "imagenet22k"]
    tree, node = hierarchy.tree(), hierarchy.node(top)
    children = sorted((n for n in range(len(hierarchy)) if tree.parent(n) == node), key=lambda n: hierarchy.names[n])
    ilsvrc, full = builtin_list("ilsvrc2012").wnids, builtin_list("imagenet22k").wnids
    assert rows[1:] == [
        [str(level), hierarchy.wnid(n), hierarchy.lemma(n), str(counts_under(hierarchy, n, ilsvrc)),
         str(counts_under(hierarchy, n, full))]
        for level, n in [(0, node)] + [(1, child) for child in children]
    ]


def test_tree_of_toy_dog(curate_cli):
    assert rows_of(curate_cli("tree", "n02085374", "--depth", "1"))[1:3] == [
        ["0", "n02085374", "toy dog", "8", "12"], ["1", "n02085620", "Chihuahua", "1", "1"]]


def test_tree_goes_depth_first_to_every_level_without_a_depth(curate_cli):
    assert rows_of(curate_cli("tree", "n02086346"))[1:] == [  # toy spaniel
        ["0", "n02086346", "toy spaniel", "2", "5"],
        ["1", "n02086478", "English toy spaniel", "1", "2"],
        ["2", "n02086646", "Blenheim spaniel", "1", "1"],
        ["1", "n02086753", "King Charles spaniel", "0", "1"],
        ["1", "n02086910", "papillon", "1", "1"],
    ]


def test_tree_depth_zero_is_the_node_alone(curate_cli):
    assert rows_of(curate_cli("tree", "n02084071", "--depth", "0"))[1:] == [["0", "n02084071", "dog", "118", "190"]]


def test_tree_as_json(curate_cli):
    assert json.loads(curate_cli("tree", "n02084071", "--depth", "0", "--json").stdout) == [
        {"level": 0, "wnid": "n02084071", "name": "dog", "ilsvrc2012": 118, "imagenet22k": 190}]


UNKNOWN = ("n99999999 is not a noun synset of WordNet 3.0 (WordNet 3.1 and Open English WordNet number synsets "
           "differently; ImageNet ids are 3.0 offsets).")


@pytest.mark.parametrize("args,sentence", [
    (["path", "n99999999"], UNKNOWN),
    (["tree", "n99999999"], UNKNOWN),
    (["path", "n0208407"], "'n0208407' is not a WordNet 3.0 noun id: ids look like n01440764."),
    (["find", "xyzzyq"], "No WordNet 3.0 noun has 'xyzzyq' in a lemma or its gloss."),
    (["find", "--", "-"], "'-' holds no word to look for."),
])
def test_unknown_wnids_and_no_match_give_one_sentence(curate_cli, args, sentence):
    result = curate_cli(*args)
    assert (result.exit_code, result.stderr, result.stdout) == (1, f"Error: {sentence}\n", "")
