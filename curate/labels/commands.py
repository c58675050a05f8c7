"""The recipes as the curate commands take them: one function per command (`curate coarsen` is `coarsen_labels`),
whose parameters are the command's options, with the same names, values and defaults. A base or a pool is
given as the command line gives it (a built-in list's name, a file, a manifest) or as a ClassList.

The Typer commands (`curate.cli.labels`) and the label-set language (`presets.labels_named`, which reads
"coarsen --lift 1") both call these functions, and the commands take their defaults from these signatures:
a recipe is called one way, whoever names it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from curate.errors import BadRecipe
from curate.labels import breeds, recipes
from curate.labels.classlists import DEFAULT_BASE, ClassList, builtin_list, exclusion_targets, extension_branches, load_class_list
from curate.labels.labelset import LabelSet
from curate.wordnet.breeds import BREEDS_TREE, BREEDS_TREE_ABOUT, breeds_tree, calibrated
from curate.wordnet.hierarchy import DEFAULT_TREE_RULE, TREE_RULES, Hierarchy, Tree

DEFAULT_POOL = "imagenet22k"


def class_list(given: str | ClassList) -> ClassList:
    """A class list as given: a ClassList as is, else by `load_class_list` (a name, a file, a manifest)."""
    return given if isinstance(given, ClassList) else load_class_list(given)


# The trees coarsen cuts: WordNet's, by a parent rule, and BREEDS' calibrated hierarchy.
COARSEN_TREES = {**TREE_RULES, BREEDS_TREE: BREEDS_TREE_ABOUT}


def coarsen_tree(hierarchy: Hierarchy, rule: str) -> Tree:
    if rule not in COARSEN_TREES:
        raise BadRecipe(f"Unknown tree rule {rule!r}: choose one of {', '.join(COARSEN_TREES)}.")
    return breeds_tree(hierarchy) if rule == BREEDS_TREE else hierarchy.tree(rule)
def within(hierarchy: Hierarchy, under: str | None, recipe: Callable[..., LabelSet], **lists: str | ClassList) -> LabelSet:
    """`recipe` called with the class lists `lists` (a base, a pool), each restricted to the classes under the
    synset `under` (any hypernym path) when it is given; the label set records `under` in its parameters and
    names the whole base list it was cut from, so that `curate rebuild` finds it."""
    loaded = {name: class_list(given) for name, given in lists.items()}
    if under is None:
        return recipe(**loaded)
    labels = recipe(**{name: recipes.under_node(hierarchy, whole, under) for name, whole in loaded.items()})
    base = loaded.get("base", loaded.get("pool"))
    return replace(labels, params={**labels.params, "under": under}, base_name=base.name, base_hash=base.content_hash)


def coarsen_labels(
    hierarchy: Hierarchy,
    *,
    depth: int | None = None,
    lift: int | None = None,
    classes: int | None = None,
    subclasses: int | None = None,
    superclasses: int | None = None,
    seed: int | None = None,
    base: str | ClassList = DEFAULT_BASE,
    under: str | None = None,
    tree: str = DEFAULT_TREE_RULE,
) -> LabelSet:
    """`curate coarsen`: see `recipes.coarsen`; `tree` is a WordNet parent rule or breeds."""
    return within(hierarchy, under, lambda base: recipes.coarsen(
        coarsen_tree(hierarchy, tree), base, depth=depth, lift=lift, classes=classes, subclasses=subclasses,
        superclasses=superclasses, seed=seed), base=base)


def exclude_labels(
    hierarchy: Hierarchy,
    *,
    targets: str | None = None,
    synset: Sequence[str] = (),
    synsets_file: Path | None = None,
    base: str | ClassList = DEFAULT_BASE,
    under: str | None = None,
) -> LabelSet:
    """`curate exclude`: the classes of `base` under none of the targets (a built-in target set, or the
    given synsets); see `recipes.exclude`."""
    wnids, name = exclusion_targets(targets, list(synset), synsets_file)
    return within(hierarchy, under, lambda base: recipes.exclude(hierarchy, base, wnids, name), base=base)


def extend_labels(
    hierarchy: Hierarchy,
    *,
    add: int,
    branches: str = "pascal-voc",
    branch: Sequence[str] = (),
    base: str | ClassList = DEFAULT_BASE,
    pool: str | ClassList = DEFAULT_POOL,
    seed: int = 0,
    images: Path | None = None,
    min_images: int | None = None,
    keep_base_order: bool = False,
    under: str | None = None,
) -> LabelSet:
    """`curate extend`: `base` and `add` classes of `pool` under the branches; `images` is an image index
    whose images per synset `min_images` counts. See `recipes.extend`."""
    wnids = extension_branches(branches, list(branch))
    counts = None
    if images is not None:
        from curate.images.index import ImageIndex

        counts = ImageIndex.read(images).class_counts()
    return within(hierarchy, under, lambda base, pool: recipes.extend(
        hierarchy, base, pool, wnids, add, seed, counts, min_images, keep_base_order), base=base, pool=pool)


def sample_labels(
    hierarchy: Hierarchy, *, classes: int, seed: int = 0, pool: str | ClassList = DEFAULT_POOL, under: str | None = None
) -> LabelSet:
    """`curate sample`: see `recipes.sample`."""
    return within(hierarchy, under, lambda pool: recipes.sample(hierarchy, pool, classes, seed), pool=pool)


def split_labels(
    hierarchy: Hierarchy,
    method: str,
    *,
    part: str,
    seed: int | None = None,
    depth: int | None = None,
    sizes: str | None = None,
    base: str | ClassList = DEFAULT_BASE,
    under: str | None = None,
) -> LabelSet:
    """`curate split METHOD`: see `recipes.split`."""
    return within(hierarchy, under, lambda base: recipes.split(hierarchy, base, method, part, seed, depth, sizes),
                  base=base)


def import_labels(hierarchy: Hierarchy, file: Path) -> LabelSet:
    """`curate import FILE`: see `imports.imported`."""
    from curate.labels.imports import imported, read_grouping, read_source

    return imported(hierarchy, read_grouping(read_source(Path(file)), Path(file).name))


def breeds_labels(
    hierarchy: Hierarchy,
    benchmark: str | None = None,
    *,
    level: int | None = None,
    subclasses: int | None = None,
    ancestor: str | None = None,
    split: str = "rand",
    seed: int = breeds.SEED,
    unbalanced: bool = False,
    part: str = "both",
) -> LabelSet:
    """`curate breeds [BENCHMARK]`: over the ILSVRC-2012 classes; see `breeds.breeds`."""
    return breeds.breeds(hierarchy, calibrated(), builtin_list("ilsvrc2012"), benchmark, level=level,
                         subclasses=subclasses, ancestor=ancestor, balanced=not unbalanced, split=split, seed=seed,
                         part=part)


# Each recipe command by its name on the command line. A function's positional parameters after the
# hierarchy are the command's arguments, its keyword-only ones the command's options.
COMMANDS = {
    "coarsen": coarsen_labels,
    "exclude": exclude_labels,
    "extend": extend_labels,
    "sample": sample_labels,
    "split": split_labels,
    "breeds": breeds_labels,
    "import": import_labels,
}
