"""Recipes: pure functions from the hierarchy, a base class list and parameters to a LabelSet.

Each recipe names its source and its expected class count on ILSVRC-2012 in its docstring.
"""

from __future__ import annotations

from dataclasses import replace

from curate.errors import BadRecipe
from curate.labels.classlists import DATA, ClassList
from curate.labels.labelset import LabelRow, LabelSet
from curate.seeded import text_key
from curate.wording import plural
from curate.wordnet.hierarchy import DEFAULT_TREE_RULE, Hierarchy, Tree

HUH_2016 = "Huh, Agrawal & Efros 2016, What makes ImageNet good for transfer learning? (arXiv 1608.08614)"
OQUAB_2014 = "Oquab et al. CVPR 2014 (PRE-1512 and PRE-1000R); their class lists were not published, the rule is curate's"
YOSINSKI_2014 = "Yosinski et al. NIPS 2014, How transferable are features in deep neural networks?"


def label_set(tree: Tree, base: ClassList, label_of: dict[int, int], recipe: str, params: dict, source: str) -> LabelSet:
    """A LabelSet from a map of class node -> tree node, cut from `tree`: each class is labelled by its node's
    synset; a class of `base` the map lacks (the tree does not hold it), or whose node no synset stands for, is
    removed, saying so."""
    hierarchy = tree.hierarchy
    rows = []
    for node in class_nodes(hierarchy, base):
        label = tree.synset(label_of[node]) if node in label_of else None
        if label is not None:
            rows.append(LabelRow(hierarchy.wnid(node), hierarchy.lemma(node), hierarchy.wnid(label), hierarchy.lemma(label)))
        elif node in label_of:
            rows.append(removed(hierarchy, node, f"removed: under {tree.named(label_of[node])}, a node of {tree.what} "
                                                 "that no WordNet synset stands for"))
        else:
            rows.append(removed(hierarchy, node, f"removed: not in {tree.what}"))
    if not any(row.label_wnid for row in rows):
        raise nothing_left(recipe, params, base)
    return LabelSet(tuple(rows), recipe, params, tree.rule, base.name, base.content_hash, source)


def nothing_left(recipe: str, params: dict, base: ClassList) -> BadRecipe:
    what = " ".join([recipe, *(f"{key}={value}" for key, value in params.items())])
    return BadRecipe(f"{what} removes every class of {base.name}: nothing is left to label.")


def class_nodes(hierarchy: Hierarchy, base: ClassList) -> list[int]:
    return [hierarchy.node(wnid) for wnid in base.wnids]


def kept_and_removed(
    hierarchy: Hierarchy, base: ClassList, reasons: dict[int, str], recipe: str, params: dict, source: str
) -> LabelSet:
    """Identity labels for every class of `base` except those in `reasons`, which are removed with that reason."""
    if reasons and len(reasons) == len(base.wnids):
        raise nothing_left(recipe, params, base)
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


def under_node(hierarchy: Hierarchy, classes: ClassList, under: str) -> ClassList:
    """The classes of `classes` that lie under the synset `under` on any hypernym path (itself included), under the
    list's own name."""
    node = hierarchy.node(under)
    kept = tuple(wnid for wnid in classes.wnids if node in hierarchy.dag_ancestors(hierarchy.node(wnid)))
    if not kept:
        raise BadRecipe(f"None of the {len(classes.wnids)} classes of {classes.name} lies under {hierarchy.named(node)}.")
    return ClassList(classes.name, kept)


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
    there are exactly `count` labels. None when no split fits before `count` is reached. A cluster under a node
    no synset stands for (on the breeds tree) is split like any other but is no label: its classes go."""
    clusters: dict[int, list[int]] = {}
    for node, label in label_of.items():
        clusters.setdefault(label, []).append(node)
    splits: dict[int, dict[int, list[int]] | None] = {}
    labels = labelled(tree, clusters)
    while labels < count:
        for label in sorted(clusters, key=lambda label: (-len(clusters[label]), tree.node_id(label))):
            if label not in splits:
                splits[label] = split_cluster(tree, label, clusters[label])
            groups = splits[label]
            gain = None if groups is None else labelled(tree, groups) - labelled(tree, [label])
            if gain is not None and gain <= count - labels:
                del clusters[label]
                clusters.update(groups)
                labels += gain
                break
        else:
            return None
    return {node: label for label, members in clusters.items() for node in members}


def labelled(tree: Tree, nodes) -> int:
    """How many of the tree nodes `nodes` a synset stands for (can be labels)."""
    return sum(tree.synset(node) is not None for node in nodes)


def nearest_reachable(tree: Tree, start: dict[int, int], count: int, limit: int) -> list[int]:
    """The reachable counts closest to `count` below and above it (within [len(start), limit])."""
    lowest = labelled(tree, set(start.values()))
    below = next((n for n in range(count - 1, lowest - 1, -1) if refine(tree, start, n)), None)
    above = next((n for n in range(count + 1, limit + 1) if refine(tree, start, n)), None)
    return [n for n in (below, above) if n is not None]


def balanced(tree: Tree, classes: list[int], count: int) -> dict[int, int]:
    """curate's balanced refinement of the one-lift set to exactly `count` labels."""
    start, _ = up_down(tree, classes, 1)
    lowest = labelled(tree, set(start.values()))
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


def n_by_k(tree: Tree, classes: list[int], depth: int, subclasses: int, superclasses: int | None, seed: int) -> dict[int, str]:
    """BREEDS' general form on `tree`: the superclasses are the depth-`depth` ancestors (`down_up`) that hold at
    least `subclasses` classes; `superclasses` of them (all, if None) drawn in seeded-hash order, and
    `subclasses` classes of each drawn the same way. Returns why each class not taken is removed."""
    if subclasses < 1:
        raise BadRecipe(f"`subclasses` must be 1 or more, not {subclasses}.")
    hierarchy = tree.hierarchy
    members: dict[int, list[int]] = {}
    for node, label in down_up(tree, classes, depth).items():
        members.setdefault(label, []).append(node)
    largest = min(members, key=lambda label: (-len(members[label]), tree.node_id(label)))
    if subclasses > len(members[largest]):
        raise BadRecipe(f"`subclasses` is {subclasses}, more than any superclass at depth {depth} holds (the largest, "
                        f"{tree.named(largest)}, holds {len(members[largest])}).")
    eligible = sorted((label for label in members if len(members[label]) >= subclasses),
                      key=lambda label: text_key(seed, tree.node_id(label)))
    if superclasses is not None and not 1 <= superclasses <= len(eligible):
        raise BadRecipe(f"`superclasses` must be between 1 and the {plural(len(eligible), 'superclass')} at depth {depth} "
                        f"that {'holds' if len(eligible) == 1 else 'hold'} {subclasses} classes or more, not {superclasses}.")
    drawn = set(eligible[:superclasses])
    reasons = {}
    for label, nodes in members.items():
        ranked = sorted(nodes, key=lambda node: text_key(seed, hierarchy.wnid(node)))
        if label not in drawn:
            why = (f"holds {len(nodes)} of the {subclasses} classes asked" if len(nodes) < subclasses
                   else "is not among the superclasses drawn")
            reasons |= {node: f"removed: its superclass {tree.named(label)} {why}" for node in nodes}
        else:
            reasons |= {node: f"removed: not among the {subclasses} classes drawn of {tree.named(label)}"
                        for node in ranked[subclasses:]}
    return reasons


N_BY_K_SOURCE = "curate: N superclasses x K subclasses on the WordNet tree, seeded (the general form of BREEDS)"


def coarsen(
    tree: Tree,
    base: ClassList,
    *,
    depth: int | None = None,
    lift: int | None = None,
    classes: int | None = None,
    subclasses: int | None = None,
    superclasses: int | None = None,
    seed: int | None = None,
) -> LabelSet:
    """Coarsen `base` along `tree` by exactly one of three recipes.

    - depth D, `down-up` (Huh et al.'s bottom-up): ancestor at depth D. On ILSVRC-2012 and the first-name
      tree, depths 17..0 give 999, 977, 918, 877, 820, 753, 694, 596, 486, 345, 206, 79, 36, 17, 9, 5, 2, 1
      classes.
    - lift K, `up-down` (Huh et al.'s top-down): K lifts give 127, 10, 2 classes for K = 1, 2, 3.
    - classes N, `balanced`: curate's own balanced refinement of the one-lift set to exactly N classes
      (262 and 491 are the presets); not from the paper.
    - depth D with subclasses K, `n-by-k` (BREEDS' general form): the depth-D labels holding at least K
      classes, K classes of each drawn seeded, and only `superclasses` N of those labels if given (see `n_by_k`).
      On ILSVRC-2012, depth 6 with K = 10 keeps 14 of the 79 labels (140 classes).

    A tree that holds only some classes removes the others, saying so: BREEDS' calibrated hierarchy
    (`breeds`) holds 890 of the ILSVRC-2012 classes, and labels no class under a node it added that no synset
    stands for; its depth 3 gives 28 labels over 879 classes, ENTITY-13's 13 superclasses among them.
    """
    if (superclasses is not None or seed is not None) and subclasses is None:
        raise BadRecipe(f"`{'superclasses' if superclasses is not None else 'seed'}` goes with `subclasses`.")
    if subclasses is not None and depth is None:
        raise BadRecipe("`subclasses` goes with `depth`: the superclasses are the labels at that depth.")
    chosen = [f"`{name}`" for name, value in (("depth", depth), ("lift", lift), ("classes", classes)) if value is not None]
    if len(chosen) != 1:
        given = f"got {' and '.join(chosen)}" if chosen else "got none"
        raise BadRecipe(f"Choose exactly one of `depth`, `lift` or `classes` ({given}).")
    nodes = [node for node in class_nodes(tree.hierarchy, base) if tree.holds(node)]
    if not nodes:
        raise BadRecipe(f"None of the classes of {base.name} is in {tree.what}.")
    if subclasses is not None:
        seed = seed or 0
        reasons = n_by_k(tree, nodes, depth, subclasses, superclasses, seed)
        label_of = {node: label for node, label in down_up(tree, nodes, depth).items() if node not in reasons}
        params = {"depth": depth, "subclasses": subclasses, "superclasses": superclasses, "seed": seed}
        kept = label_set(tree, base, label_of, "n-by-k", {k: v for k, v in params.items() if v is not None}, N_BY_K_SOURCE)
        why = {tree.hierarchy.wnid(node): reason for node, reason in reasons.items()}
        return replace(kept, rows=tuple(replace(row, reason=why[row.wnid]) if row.wnid in why else row for row in kept.rows))
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
            reasons[node] = "removed: under " + ", ".join(hierarchy.named(t) for t in hits)
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
    names = ", ".join(hierarchy.named(b) for b in branch_nodes)
    params = {"add": add, "branches": names, "pool": pool.name, "seed": seed}
    if images is not None:
        params["min_images"] = min_images
    if keep_base_order:
        params["keep_base_order"] = True
    branch_of = {node: branch_nodes[i] for i, queue in enumerate(queues) for node in queue}
    rows = [own_label(hierarchy, n) for n in sorted(base_nodes)]
    rows += [own_label(hierarchy, n, f"added: under {hierarchy.named(branch_of[n])}") for n in drawn]
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


def restrict(labels: LabelSet, counts: dict[str, int], base_name: str, base_hash: str, images: str, images_hash: str,
             min_images: int | None = None) -> LabelSet:
    """`labels` restricted to the classes an image index holds images of (`counts`: images per class), and of
    those to the ones with at least `min_images` (ImageNet-21K-P drops classes under 500): a kept class without
    them is removed, saying so, and the labels that still hold a class are numbered afresh. The way to train a
    preset on part of ImageNet; `base_name` and `base_hash` name the manifest restricted."""
    if min_images is not None and min_images < 1:
        raise BadRecipe(f"`min_images` must be 1 or more, not {min_images}.")

    def reason(wnid: str) -> str | None:
        if wnid not in counts:
            return f"removed: no images in {images}"
        if counts[wnid] < (min_images or 1):
            return f"removed: {plural(counts[wnid], 'image')} in {images}, fewer than {min_images}"
        return None

    rows = tuple(
        replace(row, label_wnid=None, label_name=None, reason=reason(row.wnid))
        if row.label_wnid is not None and reason(row.wnid) else row
        for row in labels.rows
    )
    if not any(row.label_wnid is not None for row in rows):
        enough = f" at least {min_images} images" if min_images else " images"
        raise BadRecipe(f"None of the classes that {base_name} keeps has{enough} in {images}.")
    params = {"of": labels.describe(), "images": images, "images_hash": images_hash}
    if min_images is not None:
        params["min_images"] = min_images
    source = "curate: a label set restricted to the classes an image index has"
    still = {row.label_wnid for row in rows}
    order = tuple(wnid for wnid in labels.label_order if wnid in still)
    return LabelSet(rows, "restrict", params, labels.tree_rule, base_name, base_hash, source, labels.wordnet_version, order)


# --- splits ----------------------------------------------------------------------------------------------

SPLITS = {"random": ("a", "b"), "natural-manmade": ("natural", "manmade"), "superclass": ("train", "val", "test")}
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
        f"{hierarchy.named(node)} lies under neither artifact nor organism and has no hand assignment in {HAND_ASSIGNED.name}."
    )


def hand_assignments() -> dict[str, str]:
    rows = [line.split("\t") for line in HAND_ASSIGNED.read_text().splitlines() if not line.startswith("#")]
    return {wnid: part for wnid, part, _ in rows}


def superclass_parts(tree: Tree, classes: list[int], depth: int, sizes: str, seed: int) -> dict[int, tuple[str, int]]:
    """Each class's part of the superclass split, with its superclass: the depth-`depth` labels (`down_up`) in
    seeded-hash order, the first of `sizes` (train,val,test counts) to train, the next to val, the rest to test."""
    try:
        counts = [int(size) for size in sizes.split(",")]
    except ValueError:
        counts = []
    if len(counts) != 3 or min(counts) < 0:
        raise BadRecipe(f"`sizes` takes the train, val and test counts of superclasses, e.g. 20,6,8, not {sizes!r}.")
    label_of = down_up(tree, classes, depth)
    labels = sorted(set(label_of.values()), key=lambda label: text_key(seed, tree.hierarchy.wnid(label)))
    if sum(counts) != len(labels):
        raise BadRecipe(f"`sizes` {sizes} add up to {sum(counts)}, but the base has {len(labels)} superclasses at depth "
                        f"{depth}: give counts that add up to {len(labels)}.")
    parts = [part for part, count in zip(SPLITS["superclass"], counts) for _ in range(count)]
    part_of = dict(zip(labels, parts))
    return {node: (part_of[label], label) for node, label in label_of.items()}


TIERED = "curate: whole superclasses to each part, seeded (the tieredImageNet form)"


def split(
    hierarchy: Hierarchy,
    base: ClassList,
    method: str,
    part: str,
    seed: int | None = None,
    depth: int | None = None,
    sizes: str | None = None,
) -> LabelSet:
    """Keep one part of a split of `base`; the other parts' classes are removed, saying where they went.

    - random: parts a and b, halves in seeded-hash order (a gets the extra class of an odd count).
    - natural-manmade (Yosinski et al.): classes under artifact are manmade, under organism natural, the
      rest as Yosinski et al. assigned them by hand (a shipped table). ILSVRC-2012: 449 natural, 551 manmade.
    - superclass (tieredImageNet's form): parts train, val and test take whole superclasses, the labels at
      `depth` on the first-name tree, `sizes` of them each in seeded-hash order; classes keep their own labels.
      ILSVRC-2012 at depth 5 has 36 superclasses: sizes 20,8,8 with seed 0 put 483 classes in train, 424 in val
      and 93 in test.
    """
    if method not in SPLITS:
        raise BadRecipe(f"Unknown split {method!r}: choose one of {', '.join(SPLITS)}.")
    if part not in SPLITS[method]:
        raise BadRecipe(f"The {method} split has the parts {' and '.join(SPLITS[method])}, not {part!r}.")
    if method == "natural-manmade" and seed is not None:
        raise BadRecipe(f"`seed` applies to the random and superclass splits; the {method} split has no seed.")
    if method == "superclass" and (depth is None or sizes is None):
        raise BadRecipe("The superclass split needs `depth` and `sizes`.")
    if method != "superclass" and (depth is not None or sizes is not None):
        raise BadRecipe(f"`depth` and `sizes` go with the superclass split, not the {method} split.")
    nodes = class_nodes(hierarchy, base)
    if method == "superclass":
        tree = hierarchy.tree(DEFAULT_TREE_RULE)
        seed = seed or 0
        parts = superclass_parts(tree, nodes, depth, sizes, seed)
        reasons = {node: f"removed: in part {other}, with its superclass {hierarchy.named(label)}"
                   for node, (other, label) in parts.items() if other != part}
        params = {"method": method, "part": part, "depth": depth, "sizes": sizes, "seed": seed}
        return replace(kept_and_removed(hierarchy, base, reasons, "split", params, TIERED), tree_rule=tree.rule)
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
