"""Recipes: pure functions from the hierarchy, a base class list and parameters to a LabelSet.

Each recipe names its source and its expected class count on ILSVRC-2012 in its docstring.
"""

from __future__ import annotations

import hashlib

from curate.classlists import DATA, ClassList
from curate.errors import BadRecipe
from curate.hierarchy import Hierarchy, check_tree_rule
from curate.labelset import LabelRow, LabelSet

HUH_2016 = "Huh, Agrawal & Efros 2016, What makes ImageNet good for transfer learning? (arXiv 1608.08614)"
OQUAB_2014 = "Oquab et al. CVPR 2014 (PRE-1512 and PRE-1000R); their class lists were not published, the rule is curate's"
YOSINSKI_2014 = "Yosinski et al. NIPS 2014, How transferable are features in deep neural networks?"


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


def kept_and_removed(h: Hierarchy, base: ClassList, reasons: dict[int, str], recipe: str, params: dict, source: str) -> LabelSet:
    """Identity labels for every class of `base` except those in `reasons`, which are removed with that reason."""
    rows = [
        LabelRow(h.wnid(node), h.lemma(node), None, None, reasons[node]) if node in reasons else own_label(h, node)
        for node in class_nodes(h, base)
    ]
    return LabelSet(tuple(rows), recipe, params, None, base.name, base.content_hash, source)


def own_label(h: Hierarchy, node: int, reason: str | None = None) -> LabelRow:
    """A row whose class is its own label."""
    return LabelRow(h.wnid(node), h.lemma(node), h.wnid(node), h.lemma(node), reason)


def named(h: Hierarchy, node: int) -> str:
    return f"{h.wnid(node)} {h.lemma(node)}"


def seeded_key(seed: int, text: str) -> str:
    """A stable pseudo-random sort key: the same order on every machine, and adding items does not reorder."""
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def identity(h: Hierarchy, base: ClassList) -> LabelSet:
    """Every class of `base` is its own label (in1k: 1000 classes)."""
    return kept_and_removed(h, base, {}, "identity", {}, "the base list itself")


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


# --- exclusion ---------------------------------------------------------------------------------------------


def exclude(h: Hierarchy, base: ClassList, targets: list[str], targets_name: str) -> LabelSet:
    """Remove every class with a target synset on any hypernym path (the DAG closure).

    Against ILSVRC-2012 with the 20 PASCAL VOC synsets (Huh et al.'s PASCAL-removed set) it keeps 771
    classes; ox and bighorn stay, since the cow and sheep synsets do not cover them.
    """
    target_nodes = sorted({h.node(wnid) for wnid in targets})
    if not target_nodes:
        raise BadRecipe("Name at least one synset to exclude.")
    reasons = {}
    for node in class_nodes(h, base):
        hits = [t for t in target_nodes if t in h.dag_ancestors(node)]
        if hits:
            reasons[node] = "removed: under " + ", ".join(named(h, t) for t in hits)
    params = {"targets": targets_name}
    source = HUH_2016 if targets_name == "pascal-voc" else "curate: exclusion by DAG closure"
    return kept_and_removed(h, base, reasons, "exclude", params, source)


# --- drawing classes without nesting ------------------------------------------------------------------------


def nested(h: Hierarchy, node: int, chosen: set[int], above_chosen: set[int]) -> bool:
    """Whether `node` is an ancestor or a descendant (on any path) of a chosen node."""
    return node in above_chosen or not chosen.isdisjoint(h.dag_ancestors(node))


def draw_unnested(h: Hierarchy, queues: list[list[int]], count: int, chosen: set[int]) -> list[int]:
    """Take nodes round-robin from `queues`, skipping any nested with what is chosen, until `count` are drawn.

    `chosen` holds nodes that must not be nested with (e.g. a base list); they are not counted."""
    chosen = set(chosen)
    above_chosen = set().union(*(h.dag_ancestors(node) for node in chosen))
    drawn: list[int] = []
    queues = [list(reversed(queue)) for queue in queues]
    while len(drawn) < count and any(queues):
        for queue in queues:
            while queue and len(drawn) < count:
                node = queue.pop()
                if not nested(h, node, chosen, above_chosen):
                    drawn.append(node)
                    chosen.add(node)
                    above_chosen |= h.dag_ancestors(node)
                    break
    return drawn


def extend(
    h: Hierarchy,
    base: ClassList,
    pool: ClassList,
    branches: list[str],
    add: int,
    seed: int = 0,
    image_counts: dict[str, int] | None = None,
    min_images: int = 0,
) -> LabelSet:
    """Add `add` classes from `pool` under `branches` to `base`, which stays intact.

    Rule: a pool synset is eligible when it lies under a branch (any hypernym path), is not in the base, is
    neither an ancestor nor a descendant of a base class, and (given image counts) has at least
    `min_images` images. Each eligible synset belongs to the first branch (in wnid order) it lies under;
    within a branch, synsets are ordered by a seeded hash of their wnid. Classes are drawn round-robin over
    the branches, skipping any that is an ancestor or descendant of a class already drawn, so that no two
    labels claim the same images. Preset oquab-1512: ILSVRC-2012 + 512 classes under the branches that
    overlap PASCAL VOC (Oquab et al.).
    """
    if add < 1:
        raise BadRecipe(f"--add must be 1 or more, not {add}.")
    base_nodes = set(class_nodes(h, base))
    branch_nodes = sorted({h.node(wnid) for wnid in branches})
    if not branch_nodes:
        raise BadRecipe("Name at least one branch to extend under.")
    above_base = set().union(*(h.dag_ancestors(node) for node in base_nodes))
    queues: list[list[int]] = [[] for _ in branch_nodes]
    for node in class_nodes(h, pool):
        ancestors = h.dag_ancestors(node)
        branch = next((i for i, b in enumerate(branch_nodes) if b in ancestors), None)
        if branch is None or node in above_base or not base_nodes.isdisjoint(ancestors):
            continue
        if image_counts is not None and image_counts.get(h.wnid(node), 0) < min_images:
            continue
        queues[branch].append(node)
    for queue in queues:
        queue.sort(key=lambda node: seeded_key(seed, h.wnid(node)))
    drawn = draw_unnested(h, queues, add, base_nodes)
    if len(drawn) < add:
        eligible = sum(map(len, queues))
        raise BadRecipe(
            f"--add {add} is more than can be added: {eligible} pool synsets are eligible under these branches, "
            f"and {len(drawn)} of them can be added without nesting."
        )
    names = ", ".join(named(h, b) for b in branch_nodes)
    params = {"add": add, "branches": names, "pool": pool.name, "seed": seed}
    if image_counts is not None:
        params["min_images"] = min_images
    branch_of = {node: branch_nodes[i] for i, queue in enumerate(queues) for node in queue}
    rows = [own_label(h, n) for n in sorted(base_nodes)]
    rows += [own_label(h, n, f"added: under {named(h, branch_of[n])}") for n in drawn]
    source = OQUAB_2014 if add == 512 else "curate: extension without nesting"
    return LabelSet(tuple(rows), "extend", params, None, base.name, base.content_hash, source)


def sample(h: Hierarchy, pool: ClassList, count: int, seed: int) -> LabelSet:
    """`count` classes of `pool` in seeded-hash order, none an ancestor or descendant of another.

    Preset random-1000: 1000 classes of the ImageNet 22k list, seed 0 (Oquab et al.'s PRE-1000R rule)."""
    nodes = sorted(class_nodes(h, pool), key=lambda node: seeded_key(seed, h.wnid(node)))
    if count < 1 or count > len(nodes):
        raise BadRecipe(f"--classes must be between 1 and the {len(nodes)} classes of {pool.name}, not {count}.")
    drawn = draw_unnested(h, [nodes], count, set())
    if len(drawn) < count:
        raise BadRecipe(f"--classes {count} is more than the {len(drawn)} classes of {pool.name} that can be drawn without nesting.")
    rows = [own_label(h, n) for n in drawn]
    source = OQUAB_2014 if pool.name == "imagenet22k" else "curate: seeded sample without nesting"
    return LabelSet(tuple(rows), "sample", {"classes": count, "seed": seed}, None, pool.name, pool.content_hash, source)


# --- splits ----------------------------------------------------------------------------------------------

SPLITS = {"random": ("a", "b"), "natural-manmade": ("natural", "manmade")}
ARTIFACT, ORGANISM = "n00021939", "n00004475"
HAND_ASSIGNED = DATA / "yosinski-natural-manmade.tsv"


def natural_or_manmade(h: Hierarchy, node: int, by_hand: dict[str, str]) -> str:
    ancestors = h.dag_ancestors(node)
    if h.node(ARTIFACT) in ancestors:
        return "manmade"
    if h.node(ORGANISM) in ancestors:
        return "natural"
    if h.wnid(node) in by_hand:
        return by_hand[h.wnid(node)]
    raise BadRecipe(
        f"{named(h, node)} lies under neither artifact nor organism and has no hand assignment in {HAND_ASSIGNED.name}."
    )


def hand_assignments() -> dict[str, str]:
    rows = [line.split("\t") for line in HAND_ASSIGNED.read_text().splitlines() if not line.startswith("#")]
    return {wnid: part for wnid, part, _ in rows}


def split(h: Hierarchy, base: ClassList, method: str, part: str, seed: int = 0) -> LabelSet:
    """Keep one part of a two-way split of `base`; the other part's classes are removed, saying where they went.

    - random: parts a and b, halves in seeded-hash order (a gets the extra class of an odd count).
    - natural-manmade (Yosinski et al.): classes under artifact are manmade, under organism natural, the
      rest as Yosinski et al. assigned them by hand (a shipped table). ILSVRC-2012: 449 natural, 551 manmade.
    """
    if method not in SPLITS:
        raise BadRecipe(f"Unknown split {method!r}: choose one of {', '.join(SPLITS)}.")
    if part not in SPLITS[method]:
        raise BadRecipe(f"The {method} split has the parts {' and '.join(SPLITS[method])}, not {part!r}.")
    nodes = class_nodes(h, base)
    if method == "random":
        order = sorted(nodes, key=lambda node: seeded_key(seed, h.wnid(node)))
        half = (len(order) + 1) // 2
        part_of = {node: "a" if i < half else "b" for i, node in enumerate(order)}
        params, source = {"method": method, "part": part, "seed": seed}, "curate: seeded random halves"
    else:
        by_hand = hand_assignments()
        part_of = {node: natural_or_manmade(h, node, by_hand) for node in nodes}
        params, source = {"method": method, "part": part}, YOSINSKI_2014
    reasons = {node: f"removed: in part {other}" for node, other in part_of.items() if other != part}
    return kept_and_removed(h, base, reasons, "split", params, source)
