"""Exploring the noun hierarchy: synsets by word, a synset's hypernym paths, the subtree under a synset.

Each answer marks which synsets are classes of the shipped lists (ILSVRC-2012, ImageNet fall 2011), so a
user can see which ImageNet classes a word or a branch reaches. Pure: a hierarchy in, rows out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curate.errors import NotFound
from curate.labels.classlists import builtin_list
from curate.wordnet.hierarchy import Hierarchy, Tree

WORD = re.compile(r"[a-z0-9']+")
CLASS_LISTS = ("ilsvrc2012", "imagenet22k")


@dataclass(frozen=True)
class Synset:
    wnid: str
    name: str
    depth: int
    ilsvrc2012: bool
    imagenet22k: bool
    match: str  # "lemma" or "gloss"
    definition: str


@dataclass(frozen=True)
class Step:
    wnid: str
    name: str


@dataclass(frozen=True)
class PathRow:
    path: str  # the tree rule's name, or the number of a hypernym path (1, 2, ...)
    depth: int
    wnid: str
    name: str


@dataclass(frozen=True)
class Paths:
    wnid: str
    name: str
    tree_rule: str
    tree_path: list[Step]  # along the tree rule's parents, root first
    hypernym_paths: list[list[Step]]  # every path of the DAG from the root, root first, in name order

    def rows(self) -> list[PathRow]:
        """One row per step: the tree path first, then each hypernym path."""
        named = [(self.tree_rule, self.tree_path)] + [(str(n), p) for n, p in enumerate(self.hypernym_paths, 1)]
        return [PathRow(name, depth, s.wnid, s.name) for name, path in named for depth, s in enumerate(path)]


@dataclass(frozen=True)
class TreeNode:
    level: int  # steps below the subtree's root
    wnid: str
    name: str
    ilsvrc2012: int  # classes of the list at or under this node, along the tree
    imagenet22k: int


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower().replace("_", " ").replace("-", " ")))


def class_nodes(hierarchy: Hierarchy) -> dict[str, set[int]]:
    """The nodes of each shipped class list."""
    return {name: {hierarchy.node(w) for w in hierarchy.known_wnids(builtin_list(name).wnids)} for name in CLASS_LISTS}


def find(tree: Tree, definitions: list[str], query: str) -> list[Synset]:
    """The synsets with every word of `query` in a lemma (listed first) or else in the gloss, in wnid order
    within each; one sentence when none has."""
    hierarchy = tree.hierarchy
    wanted = words(query)
    if not wanted:
        raise NotFound(f"{query!r} holds no word to look for.")
    classes = class_nodes(hierarchy)
    found = []
    for node in range(len(hierarchy)):
        if wanted <= words(hierarchy.lemmas[node]):
            found.append((0, node, "lemma"))
        elif wanted <= words(definitions[node]):
            found.append((1, node, "gloss"))
    if not found:
        raise NotFound(f"No WordNet 3.0 noun has {query!r} in a lemma or its gloss.")
    return [
        Synset(hierarchy.wnid(node), hierarchy.lemma(node), tree.depth(node), node in classes["ilsvrc2012"],
               node in classes["imagenet22k"], match, definitions[node])
        for _, node, match in sorted(found)
    ]


def step(hierarchy: Hierarchy, node: int) -> Step:
    return Step(hierarchy.wnid(node), hierarchy.lemma(node))


def dag_paths(hierarchy: Hierarchy, node: int) -> list[tuple[int, ...]]:
    """Every path from the root down to `node` over all hypernyms."""
    parents = hierarchy.dag_parents(node)
    if not parents:
        return [(node,)]
    return [path + (node,) for parent in parents for path in dag_paths(hierarchy, parent)]


def paths(tree: Tree, wnid: str) -> Paths:
    """The tree path of a synset and all its hypernym paths (sorted by their NLTK names)."""
    hierarchy = tree.hierarchy
    node = hierarchy.node(wnid)
    every = sorted(dag_paths(hierarchy, node), key=lambda path: [hierarchy.names[n] for n in path])
    return Paths(
        hierarchy.wnid(node),
        hierarchy.lemma(node),
        tree.rule,
        [step(hierarchy, n) for n in tree.path(node)],
        [[step(hierarchy, n) for n in path] for path in every],
    )


def children(tree: Tree) -> dict[int, list[int]]:
    """Each node's children along the tree, in NLTK name order."""
    below: dict[int, list[int]] = {}
    for node in range(len(tree.hierarchy)):
        parent = tree.parent(node)
        if parent is not None:
            below.setdefault(parent, []).append(node)
    for nodes in below.values():
        nodes.sort(key=tree.hierarchy.names.__getitem__)
    return below


def subtree(tree: Tree, wnid: str, depth: int | None = None) -> list[TreeNode]:
    """The nodes under a synset along the tree, depth first, down to `depth` levels below it (all without),
    with the classes of each shipped list at or under each node."""
    hierarchy = tree.hierarchy
    top = hierarchy.node(wnid)
    counts = {name: class_counts(tree, nodes) for name, nodes in class_nodes(hierarchy).items()}
    below = children(tree)
    rows, stack = [], [(top, 0)]
    while stack:
        node, level = stack.pop()
        rows.append(TreeNode(level, hierarchy.wnid(node), hierarchy.lemma(node),
                             counts["ilsvrc2012"].get(node, 0), counts["imagenet22k"].get(node, 0)))
        if depth is None or level < depth:
            stack.extend((child, level + 1) for child in reversed(below.get(node, [])))
    return rows


def class_counts(tree: Tree, classes: set[int]) -> dict[int, int]:
    """How many of `classes` lie at or under each node, along the tree."""
    counts: dict[int, int] = {}
    for node in classes:
        for ancestor in tree.path(node):
            counts[ancestor] = counts.get(ancestor, 0) + 1
    return counts
