"""BREEDS' calibrated hierarchy (Santurkar, Tsipras & Madry 2021): a hand-calibrated version of the WordNet
hierarchy over 890 of the 1000 ILSVRC-2012 classes, shipped under curate/data/breeds/ (provenance and licence
there). Pure: the packaged files in, answers out.

Its nodes are WordNet 3.0 wnids and nodes BREEDS added (`dummy32` "garment"). A node's level is its longest
path from the root, n00001740 entity, as BREEDS' `ClassHierarchy` counts it. `BreedsTree` gives coarsen's
recipes the `Tree` interface over it (`curate coarsen --tree breeds`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from curate.wordnet.hierarchy import Hierarchy, Tree
from curate.wordnet.wnid import is_wnid

DATA = Path(__file__).parent.parent / "data" / "breeds"
ROOT = "n00001740"  # entity, BREEDS' root_wnid
BREEDS_TREE = "breeds"
BREEDS_TREE_ABOUT = ("BREEDS' calibrated hierarchy (Santurkar et al. 2021) over 890 of the ILSVRC-2012 classes; "
                     "depth is BREEDS' level")


class Calibrated:
    """The calibrated hierarchy as BREEDS' `ClassHierarchy` reads it: only the edges above its classes, children
    in id order. `classes` are dataset_class_info.json's wnids, class i the i-th."""

    def __init__(self, classes: list[str], edges: list[tuple[str, str]], names: dict[str, str]):
        self.classes = tuple(classes)
        self.class_set = frozenset(classes)
        parents_of: dict[str, set[str]] = {}
        for parent, child in edges:
            parents_of.setdefault(child, set()).add(parent)
        above = set()  # BREEDS' backward search: the classes in the graph and everything above them
        todo = [c for c in classes if c in parents_of]
        while todo:
            node = todo.pop()
            if node not in above:
                above.add(node)
                todo += parents_of.get(node, ())
        self.parents = {node: tuple(sorted(parents_of[node])) for node in above if node in parents_of}
        children: dict[str, list[str]] = {}
        for node, parents in self.parents.items():
            for parent in parents:
                children.setdefault(parent, []).append(node)
        self.children = {node: tuple(sorted(below)) for node, below in children.items()}
        self.names = names
        self._levels: dict[str, int] = {}
        self._leaves: dict[str, list[str]] = {}

    def __contains__(self, node: str) -> bool:
        return node in self.parents or node in self.children

    def level(self, node: str) -> int:
        """The longest path from the root to `node`."""
        if node not in self._levels:
            parents = self.parents.get(node, ())
            self._levels[node] = 1 + max(map(self.level, parents)) if parents else 0
        return self._levels[node]

    def levels(self) -> range:
        return range(max(map(self.level, [*self.parents, ROOT])) + 1)

    def nodes_at(self, level: int) -> list[str]:
        return sorted(node for node in [ROOT, *self.parents] if self.level(node) == level)

    def name(self, node: str) -> str:
        return self.names.get(node, node)

    def named(self, node: str) -> str:
        return f"{node} {self.name(node)}"

    def leaves(self, node: str) -> list[str]:
        """The classes at or under `node`, in id order, not looking below a class (BREEDS' `leaves_reachable`)."""
        if node not in self._leaves:
            found, todo = {node} & self.class_set, [node]
            while todo:
                for child in self.children.get(todo.pop(), ()):
                    if child in self.class_set:
                        found.add(child)
                    else:
                        todo.append(child)
            self._leaves[node] = sorted(found)
        return list(self._leaves[node])

    def descendants(self, node: str) -> set[str]:
        """`node` and every node under it (BREEDS' `traverse` down)."""
        found, todo = set(), [node]
        while todo:
            here = todo.pop()
            if here not in found:
                found.add(here)
                todo += self.children.get(here, ())
        return found

    def synset(self, node: str) -> str | None:
        """The WordNet synset that stands for `node`: itself if it is one; for a node BREEDS added, the first
        synset down its chain of only children (under the same classes); None where it has several children."""
        while not is_wnid(node) and len(self.children.get(node, ())) == 1:
            (node,) = self.children[node]
        return node if is_wnid(node) else None


@cache
def calibrated() -> Calibrated:
    """The shipped calibrated hierarchy, read once."""
    classes = [wnid for _, wnid, _ in json.loads((DATA / "dataset_class_info.json").read_text())]
    edges = [tuple(line.split()) for line in (DATA / "class_hierarchy.txt").read_text().splitlines() if line.strip()]
    names = dict(line.split("\t", 1) for line in (DATA / "node_names.txt").read_text().splitlines() if line.strip())
    return Calibrated(classes, edges, names)


class BreedsTree(Tree):
    """The calibrated hierarchy with the `Tree` interface of coarsen's recipes. Its synsets are the WordNet
    hierarchy's nodes; the nodes BREEDS added are numbered after them. Where a node has several parents, its
    parent is the one on a longest path from the root (ties by id), so that depth is BREEDS' level."""

    what = "BREEDS' calibrated hierarchy"

    def __init__(self, hierarchy: Hierarchy, graph: Calibrated):
        self.hierarchy = hierarchy
        self.rule = BREEDS_TREE
        self.graph = graph
        ids = sorted({*graph.parents, ROOT})
        added = [node for node in ids if not is_wnid(node)]
        self._ids = {hierarchy.node(node): node for node in ids if is_wnid(node)}
        self._ids.update({len(hierarchy) + number: node for number, node in enumerate(added)})
        self._nodes = {node: number for number, node in self._ids.items()}
        self._paths = {}

    def parent(self, node: int) -> int | None:
        parents = self.graph.parents.get(self._ids[node], ())
        if not parents:
            return None
        return self._nodes[min(parents, key=lambda p: (-self.graph.level(p), p))]

    def holds(self, node: int) -> bool:
        return node in self._ids

    def node_id(self, node: int) -> str:
        return self._ids[node]

    def named(self, node: int) -> str:
        return self.graph.named(self._ids[node])

    def synset(self, node: int) -> int | None:
        synset = self.graph.synset(self._ids[node])
        return None if synset is None else self._nodes[synset]


def breeds_tree(hierarchy: Hierarchy) -> BreedsTree:
    return BreedsTree(hierarchy, calibrated())
