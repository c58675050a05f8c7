"""Recipes: pure functions from the hierarchy, a base class list and parameters to a LabelSet.

Each recipe names its source and its expected class count on ILSVRC-2012 in its docstring.
"""

from __future__ import annotations

from dataclasses import replace

from curate.errors import BadRecipe
from curate.labels.classlists import DATA, ClassList
from curate.labels.labelset import LabelRow, LabelSet
from curate.seeded import text_key
from curate.wordnet.hierarchy import Hierarchy, Tree

HUH_2016 = "Huh, Agrawal & Efros 2016, What makes ImageNet good for transfer learning? (arXiv 1608.08614)"
OQUAB_2014 = "Oquab et al. CVPR 2014 (PRE-1512 and PRE-1000R); their class lists were not published, the rule is curate's"
YOSINSKI_2014 = "Yosinski et al. NIPS 2014, How transferable are features in deep neural networks?"


def label_set(tree: Tree, base: ClassList, label_of: dict[int, int], recipe: str, params: dict, source: str) -> LabelSet:
    """A LabelSet from a map of class node -> label node over every class of `base`, cut from `tree`."""
    hierarchy = tree.hierarchy
    names = {node: (hierarchy.wnid(node), hierarchy.lemma(node)) for node in {*label_of, *label_of.values()}}
    rows = [LabelRow(*names[node], *names[label]) for node, label in label_of.items()]
    return LabelSet(tuple(rows), recipe, params, tree.rule, base.name, base.content_hash, source)


def class_nodes(hierarchy: Hierarchy, base: ClassList) -> list[int]:
    return [hierarchy.node(wnid) for wnid in base.wnids]


def kept_and_removed(
    hierarchy: Hierarchy, base: ClassList, reasons: dict[int, str], recipe: str, params: dict, source: str
) -> LabelSet:
    """Identity labels for every class of `base` except those in `reasons`, which are removed with that reason."""
    if reasons and len(reasons) == len(base.wnids):
        what = " ".join([recipe, *(f"{key}={value}" for key, value in params.items())])
        raise BadRecipe(f"{what} removes every class of {base.name}: nothing is left to label.")
    rows = [
        removed(hierarchy, node, reasons[node]) if node in reasons else own_label(hierarchy, node)
        for node in class_nodes(hierarchy, base)
    ]
    return LabelSet(tuple(rows), recipe, params, None, base.name, base.content_hash, source)


def own_label(hierarchy: Hierarchy, node: int, reason: str | None = None) -> LabelRow:
    """A row whose class is its own label."""
    return LabelRow(hierarchy.wnid(node), hierarchy.lemma(node), hierarchy.wnid(node), hierarchy.lemma(node), reason)


def removed(hierarchy: Hierarchy, node: int, reason: str) -> LabelRow:
    """A row whose class the recipe removes, saying why."""
    return LabelRow(hierarchy.wnid(node), hierarchy.lemma(node), None, None, reason)


def named(hierarchy: Hierarchy, node: int) -> str:
    return f"{hierarchy.wnid(node)} {hierarchy.lemma(node)}"


def identity(hierarchy: Hierarchy, base: ClassList) -> LabelSet:
    """Every class of `base` is its own label (in1k: 1000 classes)."""
    return kept_and_removed(hierarchy, base, {}, "identity", {}, "the base list itself")


def numbered(hierarchy: Hierarchy, numbering: ClassList) -> LabelSet:
    """Every class of a numbering its own label, label i its i-th class: what the outputs of a checkpoint trained
    on it mean (imagenet12k: 11,821 labels in timm's order)."""
    return replace(identity(hierarchy, numbering), label_order=numbering.order)


# --- coarsening ------------------------------------------------------------------------------------------


def down_up(tree: Tree, classes: list[int], depth: int) -> dict[int, int]:
    """Each class goes to its ancestor `depth` steps below the root, or stays itself if it is shallower."""
    if depth < 0:
        raise BadRecipe(f"`depth` must be 0 or more (0 is the root, entity), not {depth}.")
    return {node: tree.path(node)[min(depth, tree.depth(node))] for node in classes}


def up_down(tree: Tree, classes: list[int], lift: int) -> tuple[dict[int, int], int]:
    """Lift every label to its parent, then absorb each label that lies under another label; `lift` times.
    Returns the map and the number of lifts that changed it: fewer than `lift` when the set reaches its fixed
    point (every label the root, or lifting changes nothing), where the loop stops."""
    if lift < 1:
        raise BadRecipe(f"`lift` must be 1 or more, not {lift}.")
    label_of = {node: node for node in classes}
    for done in range(lift):
        lifted = {node: tree.parent(label) or label for node, label in label_of.items()}
        labels = set(lifted.values())
        topmost = {label: next(a for a in tree.path(label) if a in labels) for label in labels}
        absorbed = {node: topmost[label] for node, label in lifted.items()}
        if absorbed == label_of:
            return label_of, done
        label_of = absorbed
    return label_of, lift


def split_cluster(tree: Tree, label: int, members: list[int]) -> dict[int, list[int]] | None:
    """Split a cluster into the next-deeper nodes on its members' paths; None if it cannot be split.

    Where all members share the next node, the cluster descends until they part.
    """
    while True:
        below = tree.depth(label) + 1
        groups: dict[int, list[int]] = {}
        for node in members:
            path = tree.path(node)
            groups.setdefault(path[below] if below < len(path) else node, []).append(node)
        if len(groups) > 1:
            return groups
        (only,) = groups
        if only == label:
            return None
        label = only


def refine(tree: Tree, label_of: dict[int, int], count: int) -> dict[int, int] | None:
    """Balanced refinement: split the largest cluster (ties by wnid) that does not overshoot `count`, until
    there are exactly `count` clusters. None when no split fits before `count` is reached."""
    clusters: dict[int, list[int]] = {}
    for node, label in label_of.items():
        clusters.setdefault(label, []).append(node)
    splits: dict[int, dict[int, list[int]] | None] = {}
    while len(clusters) < count:
        room = count - len(clusters)
        for label in sorted(clusters, key=lambda label: (-len(clusters[label]), tree.hierarchy.wnid(label))):
            if label not in splits:
                splits[label] = split_cluster(tree, label, clusters[label])
            groups = splits[label]
            if groups is not None and len(groups) - 1 <= room:
                del clusters[label]
                clusters.update(groups)
                break
        else:
            return None
    return {node: label for label, members in clusters.items() for node in members}


def nearest_reachable(tree: Tree, start: dict[int, int], count: int, limit: int) -> list[int]:
    """The reachable counts closest to `count` below and above it (within [len(start), limit])."""
    lowest = len(set(start.values()))
    below = next((n for n in range(count - 1, lowest - 1, -1) if refine(tree, start, n)), None)
    above = next((n for n in range(count + 1, limit + 1) if refine(tree, start, n)), None)
    return [n for n in (below, above) if n is not None]


def balanced(tree: Tree, classes: list[int], count: int) -> dict[int, int]:
    """curate's balanced refinement of the one-lift set to exactly `count` labels."""
    start, _ = up_down(tree, classes, 1)
    lowest = len(set(start.values()))
    if count < 1 or count > len(classes):
        raise BadRecipe(f"`classes` must be between 1 and the {len(classes)} classes of the base list, not {count}.")
    if count < lowest:
        raise BadRecipe(
            f"`classes` is {count}, below the {lowest} classes of the one-lift set that balanced refinement "
            "starts from: use `lift` or `depth` for coarser sets."
        )
    label_of = refine(tree, start, count)
    if label_of is None:
        nearest = " and ".join(map(str, nearest_reachable(tree, start, count, len(classes))))
        raise BadRecipe(f"`classes` is {count}, which balanced refinement cannot reach; the nearest reachable counts are {nearest}.")
    return label_of


BALANCED_SOURCE = "curate: balanced refinement of the one-lift (up-down, lift=1) set; derived, not from the paper"


def coarsen(
    tree: Tree, base: ClassList, *, depth: int | None = None, lift: int | None = None, classes: int | None = None
) -> LabelSet:
    """Coarsen `base` along `tree` by exactly one of three recipes.

    - depth D, `down-up` (Huh et al.'s bottom-up): ancestor at depth D. On ILSVRC-2012 and the first-name
      tree, depths 17..0 give 999, 977, 918, 877, 820, 753, 694, 596, 486, 345, 206, 79, 36, 17, 9, 5, 2, 1
      classes.
    - lift K, `up-down` (Huh et al.'s top-down): K lifts give 127, 10, 2 classes for K = 1, 2, 3.
    - classes N, `balanced`: curate's own balanced refinement of the one-lift set to exactly N classes
      (262 and 491 are the presets); not from the paper.
    """
    chosen = [f"`{name}`" for name, value in (("depth", depth), ("lift", lift), ("classes", classes)) if value is not None]
    if len(chosen) != 1:
        given = f"got {' and '.join(chosen)}" if chosen else "got none"
        raise BadRecipe(f"Choose exactly one of `depth`, `lift` or `classes` ({given}).")
    nodes = class_nodes(tree.hierarchy, base)
    if depth is not None:
        return label_set(tree, base, down_up(tree, nodes, depth), "down-up", {"depth": depth}, HUH_2016)
    if lift is not None:
        label_of, done = up_down(tree, nodes, lift)
        labels = label_set(tree, base, label_of, "up-down", {"lift": done}, HUH_2016)
        if done == lift:
            return labels
        return replace(labels, note=f"`lift` is {lift}, but lifting stops at the fixed point after {done}: lifting again "
                                    f"changes nothing, so the manifest records lift={done}.")
    return label_set(tree, base, balanced(tree, nodes, classes), "balanced", {"classes": classes}, BALANCED_SOURCE)


# --- exclusion ---------------------------------------------------------------------------------------------


def exclude(hierarchy: Hierarchy, base: ClassList, targets: list[str], targets_name: str) -> LabelSet:
    """Remove every class with a target synset on any hypernym path (the DAG closure).

    Against ILSVRC-2012 with the 20 PASCAL VOC synsets (Huh et al.'s PASCAL-removed set) it keeps 771
    classes; ox and bighorn stay, since the cow and sheep synsets do not cover them.
    """
    target_nodes = sorted({hierarchy.node(wnid) for wnid in targets})
    if not target_nodes:
        raise BadRecipe("Name at least one synset to exclude.")
    reasons = {}
    for node in class_nodes(hierarchy, base):
        hits = [t for t in target_nodes if t in hierarchy.dag_ancestors(node)]
        if hits:
            reasons[node] = "removed: under " + ", ".join(named(hierarchy, t) for t in hits)
    params = {"targets": targets_name}
    source = HUH_2016 if targets_name == "pascal-voc" else "curate: exclusion by DAG closure"
    return kept_and_removed(hierarchy, base, reasons, "exclude", params, source)


# --- drawing classes without nesting ------------------------------------------------------------------------


def nested(hierarchy: Hierarchy, node: int, chosen: set[int], above_chosen: set[int]) -> bool:
    """Whether `node` is an ancestor or a descendant (on any path) of a chosen node."""
    return node in above_chosen or not chosen.isdisjoint(hierarchy.dag_ancestors(node))


def draw_unnested(hierarchy: Hierarchy, queues: list[list[int]], count: int, chosen: set[int]) -> list[int]:
    """Take nodes round-robin from `queues`, skipping any nested with what is chosen, until `count` are drawn.

    `chosen` holds nodes that must not be nested with (e.g. a base list); they are not counted."""
    chosen = set(chosen)
    above_chosen = set().union(*(hierarchy.dag_ancestors(node) for node in chosen))
    drawn: list[int] = []
    queues = [list(reversed(queue)) for queue in queues]
    while len(drawn) < count and any(queues):
        for queue in queues:
            while queue and len(drawn) < count:
                node = queue.pop()
                if not nested(hierarchy, node, chosen, above_chosen):
                    drawn.append(node)
                    chosen.add(node)
                    above_chosen |= hierarchy.dag_ancestors(node)
                    break
    return drawn


def extend(
    hierarchy: Hierarchy,
    base: ClassList,
    pool: ClassList,
    branches: list[str],
    add: int,
    seed: int = 0,
    images: dict[str, int] | None = None,
    min_images: int | None = None,
    keep_base_order: bool = False,
) -> LabelSet:
    """Add `add` classes from `pool` under `branches` to `base`, which stays intact.

    Rule: a pool synset is eligible when it lies under a branch (any hypernym path), is not in the base, is
    neither an ancestor nor a descendant of a base class, and (given image counts) has at least
    `min_images` images. Each eligible synset belongs to the first branch (in wnid order) it lies under;
    within a branch, synsets are ordered by a seeded hash of their wnid. `images` counts the images of each
    synset (in an image index). Classes are drawn round-robin over
    the branches, skipping any that is an ancestor or descendant of a class already drawn, so that no two
    labels claim the same images. Preset oquab-1512: ILSVRC-2012 + 512 classes under the branches that
    overlap PASCAL VOC (Oquab et al.).

    Labels are numbered in wnid order, base and added classes mixed; with `keep_base_order`, the base's
    classes keep labels 0..N-1 in the base's own order (a file's lines, a numbering's labels such as
    imagenet22k-ms's, a manifest's labels; sorted for ILSVRC-2012, its standard order) and the added classes
    follow in wnid order, so a model's first N outputs stay the base's.
    """
    if add < 1:
        raise BadRecipe(f"`add` must be 1 or more, not {add}.")
    if min_images is not None and images is None:
        raise BadRecipe("`min_images` needs `images`: the images per synset are counted in an image index.")
    min_images = min_images or 0
    base_nodes = set(class_nodes(hierarchy, base))
    branch_nodes = sorted({hierarchy.node(wnid) for wnid in branches})
    if not branch_nodes:
        raise BadRecipe("Name at least one branch to extend under.")
    above_base = set().union(*(hierarchy.dag_ancestors(node) for node in base_nodes))
    queues: list[list[int]] = [[] for _ in branch_nodes]
    for node in class_nodes(hierarchy, pool):
        ancestors = hierarchy.dag_ancestors(node)
        branch = next((i for i, b in enumerate(branch_nodes) if b in ancestors), None)
        if branch is None or node in above_base or not base_nodes.isdisjoint(ancestors):
            continue
        if images is not None and images.get(hierarchy.wnid(node), 0) < min_images:
            continue
        queues[branch].append(node)
    for queue in queues:
        queue.sort(key=lambda node: text_key(seed, hierarchy.wnid(node)))
    drawn = draw_unnested(hierarchy, queues, add, base_nodes)
    if len(drawn) < add:
        eligible = sum(map(len, queues))
        raise BadRecipe(
            f"`add` is {add}, more than can be added: {eligible} pool synsets are eligible under these branches, "
            f"and {len(drawn)} of them can be added without nesting."
        )
    names = ", ".join(named(hierarchy, b) for b in branch_nodes)
    params = {"add": add, "branches": names, "pool": pool.name, "seed": seed}
    if images is not None:
        params["min_images"] = min_images
    if keep_base_order:
        params["keep_base_order"] = True
    branch_of = {node: branch_nodes[i] for i, queue in enumerate(queues) for node in queue}
    rows = [own_label(hierarchy, n) for n in sorted(base_nodes)]
    rows += [own_label(hierarchy, n, f"added: under {named(hierarchy, branch_of[n])}") for n in drawn]
    source = OQUAB_2014 if add == 512 else "curate: extension without nesting"
    order = (*base.in_order, *sorted(hierarchy.wnid(n) for n in drawn)) if keep_base_order else ()
    return LabelSet(tuple(rows), "extend", params, None, base.name, base.content_hash, source, label_order=order)


def sample(hierarchy: Hierarchy, pool: ClassList, classes: int, seed: int) -> LabelSet:
    """`classes` classes of `pool` in seeded-hash order, none an ancestor or descendant of another.

    Preset random-1000: 1000 classes of the ImageNet 22k list, seed 0 (Oquab et al.'s PRE-1000R rule)."""
    nodes = sorted(class_nodes(hierarchy, pool), key=lambda node: text_key(seed, hierarchy.wnid(node)))
    if classes < 1 or classes > len(nodes):
        raise BadRecipe(f"`classes` must be between 1 and the {len(nodes)} classes of {pool.name}, not {classes}.")
    drawn = draw_unnested(hierarchy, [nodes], classes, set())
    if len(drawn) < classes:
        raise BadRecipe(f"`classes` is {classes}, more than the {len(drawn)} classes of {pool.name} that can be drawn "
                        "without nesting.")
    rows = [own_label(hierarchy, n) for n in drawn]
    source = OQUAB_2014 if pool.name == "imagenet22k" else "curate: seeded sample without nesting"
    return LabelSet(tuple(rows), "sample", {"classes": classes, "seed": seed}, None, pool.name, pool.content_hash, source)


# --- restricting to the classes an image index has -------------------------------------------------------


def restrict(labels: LabelSet, present: set[str], base_name: str, base_hash: str, images: str, images_hash: str) -> LabelSet:
    """`labels` restricted to the classes in `present` (those an image index holds images of): a kept class
    without images is removed, saying so, and the labels that still hold a class are numbered afresh. The
    way to train a preset on part of ImageNet; `base_name` and `base_hash` name the manifest restricted."""
    reason = f"removed: no images in {images}"
    rows = tuple(
        replace(row, label_wnid=None, label_name=None, reason=reason) if row.label_wnid is not None and row.wnid not in present
        else row
        for row in labels.rows
    )
    if not any(row.label_wnid is not None for row in rows):
        raise BadRecipe(f"None of the classes that {base_name} keeps has images in {images}.")
    params = {"of": labels.describe(), "images": images, "images_hash": images_hash}
    source = "curate: a label set restricted to the classes an image index has"
    still = {row.label_wnid for row in rows}
    order = tuple(wnid for wnid in labels.label_order if wnid in still)
    return LabelSet(rows, "restrict", params, labels.tree_rule, base_name, base_hash, source, labels.wordnet_version, order)


# --- splits ----------------------------------------------------------------------------------------------

SPLITS = {"random": ("a", "b"), "natural-manmade": ("natural", "manmade")}
ARTIFACT, ORGANISM = "n00021939", "n00004475"
HAND_ASSIGNED = DATA / "yosinski-natural-manmade.tsv"


def natural_or_manmade(hierarchy: Hierarchy, node: int, by_hand: dict[str, str]) -> str:
    ancestors = hierarchy.dag_ancestors(node)
    if hierarchy.node(ARTIFACT) in ancestors:
        return "manmade"
    if hierarchy.node(ORGANISM) in ancestors:
        return "natural"
    if hierarchy.wnid(node) in by_hand:
        return by_hand[hierarchy.wnid(node)]
    raise BadRecipe(
        f"{named(hierarchy, node)} lies under neither artifact nor organism and has no hand assignment in {HAND_ASSIGNED.name}."
    )


def hand_assignments() -> dict[str, str]:
    rows = [line.split("\t") for line in HAND_ASSIGNED.read_text().splitlines() if not line.startswith("#")]
    return {wnid: part for wnid, part, _ in rows}


def split(hierarchy: Hierarchy, base: ClassList, method: str, part: str, seed: int | None = None) -> LabelSet:
    """Keep one part of a two-way split of `base`; the other part's classes are removed, saying where they went.

    - random: parts a and b, halves in seeded-hash order (a gets the extra class of an odd count).
    - natural-manmade (Yosinski et al.): classes under artifact are manmade, under organism natural, the
      rest as Yosinski et al. assigned them by hand (a shipped table). ILSVRC-2012: 449 natural, 551 manmade.
    """
    if method not in SPLITS:
        raise BadRecipe(f"Unknown split {method!r}: choose one of {', '.join(SPLITS)}.")
    if part not in SPLITS[method]:
        raise BadRecipe(f"The {method} split has the parts {' and '.join(SPLITS[method])}, not {part!r}.")
    if method != "random" and seed is not None:
        raise BadRecipe(f"`seed` applies to the random split; the {method} split has no seed.")
    nodes = class_nodes(hierarchy, base)
    if method == "random":
        seed = seed or 0
        order = sorted(nodes, key=lambda node: text_key(seed, hierarchy.wnid(node)))
        half = (len(order) + 1) // 2
        part_of = {node: "a" if i < half else "b" for i, node in enumerate(order)}
        params, source = {"method": method, "part": part, "seed": seed}, "curate: seeded random halves"
    else:
        by_hand = hand_assignments()
        part_of = {node: natural_or_manmade(hierarchy, node, by_hand) for node in nodes}
        params, source = {"method": method, "part": part}, YOSINSKI_2014
    reasons = {node: f"removed: in part {other}" for node, other in part_of.items() if other != part}
    return kept_and_removed(hierarchy, base, reasons, "split", params, source)
