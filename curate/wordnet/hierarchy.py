"""The WordNet noun DAG, and the trees that named parent rules cut from it. Pure: columns in, answers out.

A node is a row number of the snapshot's columns. WordNet is a DAG: many synsets have several hypernyms,
and NLTK returns them in set order, which changes with PYTHONHASHSEED. Tree-based questions therefore go
through a `Tree`, whose rule picks one parent among a synset's hypernyms by a stable key; set-membership
questions ("is this a kind of dog?") use the DAG closure over all hypernyms.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

from curate.errors import BadRecipe, BadWnid
from curate.wordnet.wnid import check_wnid, is_wnid

TREE_RULES = {
    "first-name": "the parent is the hypernym whose NLTK name (e.g. container.n.01) sorts first; "
    "reproduces the label sets of Huh et al. 2016",
    "first-offset": "the parent is the hypernym with the smallest WordNet offset",
}
DEFAULT_TREE_RULE = "first-name"


class Hierarchy:
    """Noun synsets as columns of equal length, in snapshot order.

    `offsets` are ints in ascending order (so a wnid's node is found by bisection, with no table of all
    82,115 to build first); `hypernyms` and `instance_hypernyms` hold each synset's parents as nodes;
    `lemmas` holds space-separated lemma names.
    """

    def __init__(
        self,
        offsets: Sequence[int],
        names: Sequence[str],
        lemmas: Sequence[str],
        hypernyms: Sequence[Sequence[int]],
        instance_hypernyms: Sequence[Sequence[int]],
    ):
        if not len(offsets) == len(names) == len(lemmas) == len(hypernyms) == len(instance_hypernyms):
            raise ValueError("hierarchy columns differ in length")
        self.offsets = offsets
        self.names = names
        self.lemmas = lemmas
        self._hypernyms = hypernyms
        self._instance_hypernyms = instance_hypernyms
        self._parents: dict[int, tuple[int, ...]] = {}
        self._ancestors: dict[int, frozenset[int]] = {}
        self._trees: dict[str, Tree] = {}

    def __len__(self) -> int:
        return len(self.offsets)

    def node(self, wnid: str) -> int:
        """The node of a wnid, or a sentence saying why there is none."""
        node = self._node_of_offset(int(check_wnid(wnid)[1:]))
        if node is None:
            raise BadWnid(
                f"{wnid} is not a noun synset of WordNet 3.0 (WordNet 3.1 and Open English WordNet "
                "number synsets differently; ImageNet ids are 3.0 offsets)."
            )
        return node

    def known_wnids(self, names: Iterable[str]) -> set[str]:
        """The names that are wnids of this hierarchy's synsets."""
        return {name for name in names if is_wnid(name) and self._node_of_offset(int(name[1:])) is not None}

    def _node_of_offset(self, offset: int) -> int | None:
        node = bisect_left(self.offsets, offset)
        return node if node < len(self.offsets) and self.offsets[node] == offset else None

    def wnid(self, node: int) -> str:
        return f"n{self.offsets[node]:08d}"

    def lemma(self, node: int) -> str:
        """The first lemma, readable: 'Chihuahua', 'tench', 'wheeled vehicle'."""
        return self.lemmas[node].split(" ", 1)[0].replace("_", " ")

    def named(self, node: int) -> str:
        """wnid and lemma: 'n02084071 dog'."""
        return f"{self.wnid(node)} {self.lemma(node)}"

    def dag_parents(self, node: int) -> tuple[int, ...]:
        """All hypernyms and instance hypernyms, in snapshot (offset) order."""
        parents = self._parents.get(node)
        if parents is None:
            parents = tuple(sorted((*self._hypernyms[node], *self._instance_hypernyms[node])))
            self._parents[node] = parents
        return parents

    def dag_ancestors(self, node: int) -> frozenset[int]:
        """`node` and every synset above it on any hypernym path."""
        ancestors = self._ancestors.get(node)
        if ancestors is None:
            ancestors = frozenset([node]).union(*(self.dag_ancestors(p) for p in self.dag_parents(node)))
            self._ancestors[node] = ancestors
        return ancestors

    def tree(self, rule: str = DEFAULT_TREE_RULE) -> Tree:
        """The tree that `rule` cuts from the DAG (one per rule and hierarchy, so paths are computed once)."""
        if rule not in self._trees:
            self._trees[rule] = Tree(self, rule)
        return self._trees[rule]


class Tree:
    """The DAG cut into a tree: every synset but the root keeps the one parent that `rule` picks.

    A recipe asks a tree which classes it `holds` and which `synset` labels one of its nodes: every noun
    synset, itself, here; `BreedsTree` (curate.wordnet.breeds) holds fewer, and adds nodes no synset is."""

    what = "WordNet 3.0"

    def __init__(self, hierarchy: Hierarchy, rule: str):
        if rule not in TREE_RULES:
            raise BadRecipe(f"Unknown tree rule {rule!r}: choose one of {', '.join(TREE_RULES)}.")
        self.hierarchy = hierarchy
        self.rule = rule
        # Nodes are numbered in offset order, so "first-offset" needs no key.
        self._key = hierarchy.names.__getitem__ if rule == "first-name" else None
        self._paths: dict[int, tuple[int, ...]] = {}

    def parent(self, node: int) -> int | None:
        """The one parent the rule picks; None at the root."""
        parents = self.hierarchy.dag_parents(node)
        if len(parents) < 2:
            return parents[0] if parents else None
        return min(parents, key=self._key)

    def path(self, node: int) -> tuple[int, ...]:
        """The nodes from the root down to `node`."""
        path = self._paths.get(node)
        if path is None:
            parent = self.parent(node)
            path = (node,) if parent is None else self.path(parent) + (node,)
            self._paths[node] = path
        return path

    def depth(self, node: int) -> int:
        """Steps from the root (entity.n.01) to `node`."""
        return len(self.path(node)) - 1

    def holds(self, node: int) -> bool:
        return True

    def node_id(self, node: int) -> str:
        """The node's id, by which ties between nodes are broken."""
        return self.hierarchy.wnid(node)

    def named(self, node: int) -> str:
        return self.hierarchy.named(node)

    def synset(self, node: int) -> int | None:
        """The synset that labels the classes under `node`, None where none stands for it."""
        return node
