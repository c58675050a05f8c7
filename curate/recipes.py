"""Recipes: pure functions from the hierarchy, a base class list and parameters to a LabelSet.

Each recipe names its source and its expected class count on ILSVRC-2012 in its docstring.
"""

from __future__ import annotations

from curate.classlists import ClassList
from curate.errors import BadRecipe
from curate.hierarchy import Hierarchy, check_tree_rule
from curate.labelset import LabelRow, LabelSet

HUH_2016 = "Huh, Agrawal & Efros 2016, What makes ImageNet good for transfer learning? (arXiv 1608.08614)"


def label_set(
    h: Hierarchy,
    base: ClassList,
    label_of: dict[int, int],
    recipe: str,
    params: dict,
    source: str,
    tree_rule: str | None = None,
) -> LabelSet:
    """A LabelSet from a map of class node -> label node over every class of `base`."""
    rows = [
        LabelRow(h.wnid(node), h.lemma(node), h.wnid(label), h.lemma(label)) for node, label in label_of.items()
    ]
    return LabelSet(tuple(rows), recipe, params, tree_rule, base.name, base.content_hash, source)


def class_nodes(h: Hierarchy, base: ClassList) -> list[int]:
    return [h.node(wnid) for wnid in base.wnids]


# --- coarsening ------------------------------------------------------------------------------------------


def cut_at_depth(h: Hierarchy, classes: list[int], depth: int, rule: str) -> dict[int, int]:
    """Each class goes to its ancestor `depth` steps below the root, or stays itself if it is shallower."""
    if depth < 0:
        raise BadRecipe(f"--depth must be 0 or more (0 is the root, entity), not {depth}.")
    return {node: h.tree_path(node, rule)[min(depth, h.depth(node, rule))] for node in classes}


def lift(h: Hierarchy, classes: list[int], times: int, rule: str) -> dict[int, int]:
    """Lift every label to its parent, then absorb each label that lies under another label; `times` times."""
    if times < 1:
        raise BadRecipe(f"--lift must be 1 or more, not {times}.")
    label_of = {node: node for node in classes}
    for _ in range(times):
        lifted = {node: h.tree_parent(label, rule) or label for node, label in label_of.items()}
        labels = set(lifted.values())
        topmost = {label: next(a for a in h.tree_path(label, rule) if a in labels) for label in labels}
        label_of = {node: topmost[label] for node, label in lifted.items()}
    return label_of


def split_cluster(h: Hierarchy, label: int, members: list[int], rule: str) -> dict[int, list[int]] | None:
    """Split a cluster into the next-deeper nodes on its members' paths; None if it cannot be split.

    Where all members share the next node, the cluster descends until they part.
    """
    while True:
        below = h.depth(label, rule) + 1
        groups: dict[int, list[int]] = {}
        for node in members:
            path = h.tree_path(node, rule)
            groups.setdefault(path[below] if below < len(path) else node, []).append(node)
        if len(groups) > 1:
            return groups
        (only,) = groups
        if only == label:
            return None
        label = only


def refine(h: Hierarchy, label_of: dict[int, int], count: int, rule: str) -> dict[int, int] | None:
    """Balanced refinement: split the largest cluster (ties by wnid) that does not overshoot `count`, until
    there are exactly `count` clusters. None when no split fits before `count` is reached."""
    clusters: dict[int, list[int]] = {}
    for node, label in label_of.items():
        clusters.setdefault(label, []).append(node)
    splits: dict[int, dict[int, list[int]] | None] = {}
    while len(clusters) < count:
        room = count - len(clusters)
        for label in sorted(clusters, key=lambda label: (-len(clusters[label]), h.wnid(label))):
            if label not in splits:
                splits[label] = split_cluster(h, label, clusters[label], rule)
            groups = splits[label]
            if groups is not None and len(groups) - 1 <= room:
                del clusters[label]
                clusters.update(groups)
                break
        else:
            return None
    return {node: label for label, members in clusters.items() for node in members}


def nearest_reachable(h: Hierarchy, start: dict[int, int], count: int, limit: int, rule: str) -> list[int]:
    """The reachable counts closest to `count` below and above it (within [len(start), limit])."""
    lowest = len(set(start.values()))
    below = next((n for n in range(count - 1, lowest - 1, -1) if refine(h, start, n, rule)), None)
    above = next((n for n in range(count + 1, limit + 1) if refine(h, start, n, rule)), None)
    return [n for n in (below, above) if n is not None]


def coarsen(
    h: Hierarchy,
    base: ClassList,
    *,
    depth: int | None = None,
    lifts: int | None = None,
    classes: int | None = None,
    rule: str = "first-name",
) -> LabelSet:
    """Coarsen `base` by exactly one of three recipes over the tree of `rule`.

    - depth D, `down-up` (Huh et al.'s bottom-up): ancestor at depth D. On ILSVRC-2012, depths 17..0 give
      999, 977, 918, 877, 820, 753, 694, 596, 486, 345, 206, 79, 36, 17, 9, 5, 2, 1 classes.
    - lifts K, `up-down` (Huh et al.'s top-down): K lifts give 127, 10, 2 classes for K = 1, 2, 3.
    - classes N, `balanced`: curate's own balanced refinement of the one-lift set to exactly N classes
      (262 and 491 are the presets); not from the paper.
    """
    check_tree_rule(rule)
    chosen = [name for name, value in (("--depth", depth), ("--lift", lifts), ("--classes", classes)) if value is not None]
    if len(chosen) != 1:
        given = f"got {' and '.join(chosen)}" if chosen else "got none"
        raise BadRecipe(f"Choose exactly one of --depth, --lift or --classes ({given}).")
    nodes = class_nodes(h, base)
    if depth is not None:
        return label_set(h, base, cut_at_depth(h, nodes, depth, rule), "down-up", {"depth": depth}, HUH_2016, rule)
    if lifts is not None:
        return label_set(h, base, lift(h, nodes, lifts, rule), "up-down", {"lift": lifts}, HUH_2016, rule)
    return label_set(h, base, balanced(h, nodes, classes, rule), "balanced", {"classes": classes},
                     "curate: balanced refinement of the one-lift (up-down, lift=1) set; derived, not from the paper",
                     rule)


def balanced(h: Hierarchy, nodes: list[int], count: int, rule: str) -> dict[int, int]:
    start = lift(h, nodes, 1, rule)
    lowest = len(set(start.values()))
    if count < 1 or count > len(nodes):
        raise BadRecipe(f"--classes must be between 1 and the {len(nodes)} classes of the base list, not {count}.")
    if count < lowest:
        raise BadRecipe(
            f"--classes {count} is below the {lowest} classes of the one-lift set that balanced refinement "
            "starts from: use --lift or --depth for coarser sets."
        )
    label_of = refine(h, start, count, rule)
    if label_of is None:
        nearest = " and ".join(map(str, nearest_reachable(h, start, count, len(nodes), rule)))
        raise BadRecipe(f"--classes {count} cannot be reached by balanced refinement; the nearest reachable counts are {nearest}.")
    return label_of
