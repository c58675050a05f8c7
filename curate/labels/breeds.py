"""BREEDS (Santurkar, Tsipras & Madry 2021): superclasses of the ILSVRC-2012 classes at one level of BREEDS'
calibrated hierarchy, and the source/target split of each one's subclasses, as BREEDS' own code computes them
(robustness 1.2.1.post2, `robustness.tools.breeds_helpers`: `get_superclasses` and `split_superclass`, whose
sorted orders, stable sorts and seeded draws these functions repeat step for step). Pure: the calibrated
hierarchy and parameters in, a LabelSet out. `tools/check_breeds.py` runs BREEDS' code on the same files and
compares.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate.errors import BadRecipe
from curate.labels.classlists import ClassList
from curate.labels.labelset import LabelRow, LabelSet
from curate.labels.recipes import removed
from curate.wordnet.breeds import BREEDS_TREE, Calibrated
from curate.wordnet.hierarchy import Hierarchy

BREEDS_2021 = ("Santurkar, Tsipras & Madry, BREEDS: Benchmarks for Subpopulation Shift (ICLR 2021); computed as "
               "robustness 1.2.1.post2's breeds_helpers computes it, on the calibrated hierarchy of "
               "MadryLab/BREEDS-Benchmarks f83be50")


@dataclass(frozen=True)
class Benchmark:
    level: int
    subclasses: int
    ancestor: str | None = None


# BREEDS' make_entity13, make_entity30, make_living17 and make_nonliving26 (all balanced, seed 2).
BENCHMARKS = {
    "entity13": Benchmark(3, 20),
    "entity30": Benchmark(4, 8),
    "living17": Benchmark(5, 4, "n00004258"),  # living thing
    "nonliving26": Benchmark(5, 4, "n00021939"),  # non-living thing (WordNet's artifact)
}
SPLITS = ("rand", "good", "bad", "none")  # none: BREEDS' split=None, the subclasses drawn without halving
PARTS = ("both", "source", "target")
SEED = 2  # BREEDS' random_seed, of every benchmark


@dataclass(frozen=True)
class Draw:
    """What BREEDS' `get_superclasses` gives, by id: the superclasses in id order (label i is the i-th), the
    source and target subclasses of each (without a split, all drawn subclasses are in `source`), and the
    subclasses per superclass it asked for (its Nsubclasses, after its defaults)."""

    superclasses: list[str]
    source: list[list[str]]
    target: list[list[str]]
    subclasses: int


def check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise BadRecipe(f"Unknown {what} {value!r}: choose one of {', '.join(choices)}.")


def candidates(graph: Calibrated, level: int, ancestor: str | None) -> list[str]:
    """BREEDS' `get_nodes_at_level`, sorted: the nodes at `level`, at or under `ancestor` if given."""
    if level not in graph.levels():
        raise BadRecipe(f"`level` must be between 0 and {graph.levels()[-1]} (the levels of BREEDS' calibrated "
                        f"hierarchy), not {level}.")
    if ancestor is not None and ancestor not in graph:
        raise BadRecipe(f"{ancestor} is not a node of BREEDS' calibrated hierarchy, so it cannot be the `ancestor`.")
    under = graph.descendants(ancestor) if ancestor is not None else None
    nodes = [node for node in graph.nodes_at(level) if under is None or node in under]
    if not nodes:
        raise BadRecipe(f"No node at level {level} of BREEDS' calibrated hierarchy lies under {graph.named(ancestor)}.")
    return nodes


def default_subclasses(fewest: int, balanced: bool, split: str) -> int:
    """BREEDS' Nsubclasses when none is given: balanced, the fewest subclasses any candidate has, made even
    (2 at least); else 2 with a split and 1 without."""
    if balanced:
        return max(2, fewest - 1) if fewest % 2 else fewest
    return 1 if split == "none" else 2


def check_subclasses(subclasses: int, balanced: bool, split: str) -> None:
    least = 1 if split == "none" else 2
    if subclasses < least:
        raise BadRecipe(f"`subclasses` must be {least} or more{'' if split == 'none' else ' with a split'}, not {subclasses}.")
    if split != "none" and balanced and subclasses % 2:
        raise BadRecipe(f"`subclasses` must be even with a balanced split (half of each superclass's go to source, "
                        f"half to target), not {subclasses}.")


def superclasses(graph: Calibrated, level: int, subclasses: int | None, ancestor: str | None, balanced: bool,
                 split: str, seed: int) -> Draw:
    """BREEDS' `get_superclasses`: the nodes at `level` (under `ancestor`) with at least `subclasses` classes
    under them, and their subclasses drawn with one numpy RandomState(seed), superclass by superclass in id
    order: without a split, `subclasses` of each (all of them, unbalanced); with one, `split_superclass`."""
    import numpy as np

    check_choice(split, SPLITS, "split")
    nodes = candidates(graph, level, ancestor)
    leaves = [graph.leaves(node) for node in nodes]
    if subclasses is None:
        subclasses = default_subclasses(min(map(len, leaves)), balanced, split)
    check_subclasses(subclasses, balanced, split)
    chosen = [(node, under) for node, under in zip(nodes, leaves) if len(under) >= subclasses]
    if not chosen:
        below = f" under {graph.named(ancestor)}" if ancestor is not None else ""
        raise BadRecipe(f"No node at level {level}{below} has {subclasses} or more subclasses (the most is "
                        f"{max(map(len, leaves))}): lower `subclasses`.")
    rng = np.random.RandomState(seed)  # numpy's legacy stream, frozen by NEP 19: BREEDS' draws, forever
    names = [node for node, _ in chosen]
    if split == "none":
        drawn = [rng.choice(under, subclasses if balanced else len(under), replace=False).tolist() for _, under in chosen]
        return Draw(names, drawn, [[] for _ in chosen], subclasses)
    halves = [split_superclass(graph, node, subclasses, balanced, split, rng) for node in names]
    return Draw(names, [source for source, _ in halves], [target for _, target in halves], subclasses)


def split_superclass(graph: Calibrated, superclass: str, subclasses: int, balanced: bool, split: str,
                     rng) -> tuple[list[str], list[str]]:
    """BREEDS' `split_superclass`: from the first node down from `superclass` with several children, each
    child's classes, children with more classes first (ties in id order); then `subclasses` of them (all,
    made even, unbalanced) halved into source and target: drawn at random (rand), similar subclasses on both
    sides (good), or on one side each (bad)."""
    below = graph.children.get(superclass, ())
    while len(below) == 1:
        below = graph.children.get(below[0], ())
    groups = sorted(((child, graph.leaves(child)) for child in below), key=lambda group: -len(group[1]))
    if not balanced:  # all of them (BREEDS makes the count even; halving floors it the same)
        subclasses = sum(len(leaves) for _, leaves in groups)
    half = subclasses // 2
    if split == "rand":
        drawn = rng.choice(sorted(c for _, leaves in groups for c in leaves), 2 * half, replace=False).tolist()
        parts = (drawn[:half], drawn[half:])
    else:
        parts = (good_split if split == "good" else bad_split)([leaves for _, leaves in groups], half)
    if parts is None or len(parts[0]) != len(parts[1]) or set(parts[0]) & set(parts[1]):
        raise BadRecipe(f"BREEDS' {split} split cannot halve {subclasses} subclasses of {graph.named(superclass)} "
                        "into two disjoint halves of one size.")
    return parts


def good_split(groups: list[list[str]], half: int) -> tuple[list[str], list[str]]:
    """Each group's classes shared between the two sides, as BREEDS' "good" split shares them."""
    source, target = [], []
    for leaves in groups:
        have = len(source), len(target)
        cut = (1 if have[0] < half else 0) if len(leaves) == 1 else min(len(leaves) // 2, half - have[0])
        if have[0] < half:
            source += leaves[:cut]
        if have[1] < half:
            target += leaves[cut:cut + half - have[1]]
    return source, target


def bad_split(groups: list[list[str]], half: int) -> tuple[list[str], list[str]] | None:
    """Each group's classes on one side, the shorter side first, as BREEDS' "bad" split places them; what does
    not fit tops up the short side. None where neither side fills (BREEDS' assertion)."""
    parts, spare = ([], []), []
    for leaves in groups:
        have = len(parts[0]), len(parts[1])
        side = 0 if have[0] <= have[1] and have[0] < half else 1 if have[1] < half else None
        if side is not None:
            spare += leaves[half - have[side]:]
            parts[side].extend(leaves[:half - have[side]])
    if max(map(len, parts)) != half:
        return None
    for part in parts:
        part.extend(spare[:half - len(part)])
    return parts


def resolve(benchmark: str | None, level: int | None, subclasses: int | None, ancestor: str | None
            ) -> tuple[int, int | None, str | None]:
    """The level, subclasses and ancestor a benchmark fixes, or those given."""
    if benchmark is None:
        if level is None:
            raise BadRecipe(f"Name a benchmark ({', '.join(BENCHMARKS)}) or give a `level`.")
        return level, subclasses, ancestor
    check_choice(benchmark, tuple(BENCHMARKS), "BREEDS benchmark")
    given = [f"`{name}`" for name, value in (("level", level), ("subclasses", subclasses), ("ancestor", ancestor))
             if value is not None]
    if given:
        raise BadRecipe(f"{benchmark} fixes its level, subclasses and ancestor: give {' and '.join(given)} without a benchmark.")
    fixed = BENCHMARKS[benchmark]
    return fixed.level, fixed.subclasses, fixed.ancestor


def breeds(hierarchy: Hierarchy, graph: Calibrated, base: ClassList, benchmark: str | None = None, *,
           level: int | None = None, subclasses: int | None = None, ancestor: str | None = None,
           balanced: bool = True, split: str = "rand", seed: int = SEED, part: str = "both") -> LabelSet:
    """A BREEDS benchmark (entity13: 13 superclasses x 20 subclasses, entity30: 30 x 8, living17: 17 x 4,
    nonliving26: 26 x 4) or the general form, over `base` (the 1000 ILSVRC-2012 classes): each drawn class
    labelled by its superclass, with BREEDS' name for it; `part` both keeps the source and the target classes
    (their reason says which), source or target one of them. Labels are numbered as BREEDS numbers them (id
    order of the superclasses), in both parts. A superclass that is a node BREEDS added is labelled by the
    synset down its chain of only children (`dummy32` garment by n03419014 garment); one with several children
    has no synset to be labelled by, which is an error."""
    level, subclasses, ancestor = resolve(benchmark, level, subclasses, ancestor)
    check_choice(part, PARTS, "part")
    if split == "none" and part != "both":
        raise BadRecipe("`part` needs a split: without one (split none) there is no source or target.")
    draw = superclasses(graph, level, subclasses, ancestor, balanced, split, seed)
    synsets = [graph.synset(node) for node in draw.superclasses]
    for node, synset in zip(draw.superclasses, synsets):
        if synset is None:
            raise BadRecipe(f"The superclass {graph.named(node)} at level {level} is a node BREEDS added, with several "
                            "children and no WordNet synset to stand for it: choose another `level`, `subclasses` or "
                            "`ancestor`.")
    chosen: dict[str, tuple[str, str | None]] = {}  # class -> (superclass, its part)
    for node, source, target in zip(draw.superclasses, draw.source, draw.target):
        for wnid, side in [*((w, "source") for w in source), *((w, "target") for w in target)]:
            chosen[wnid] = node, side if split != "none" else None
    label = dict(zip(draw.superclasses, synsets))
    home = {}  # class -> the candidate it lies under
    for node in candidates(graph, level, ancestor):
        for leaf in graph.leaves(node):
            home.setdefault(leaf, node)
    rows = []
    for wnid in base.wnids:
        node = hierarchy.node(wnid)
        if wnid in chosen and part in ("both", chosen[wnid][1] or "both"):
            superclass, side = chosen[wnid]
            rows.append(LabelRow(wnid, hierarchy.lemma(node), label[superclass], graph.name(superclass), side))
        else:
            rows.append(removed(hierarchy, node, why_removed(graph, draw, wnid, chosen, home, level, ancestor)))
    params = {**({"benchmark": benchmark} if benchmark else {}), "level": level, "subclasses": draw.subclasses,
              **({"ancestor": ancestor} if ancestor else {}), "balanced": balanced, "split": split, "seed": seed,
              "part": part}
    return LabelSet(tuple(rows), "breeds", params, BREEDS_TREE, base.name, base.content_hash, BREEDS_2021,
                    label_order=tuple(label[node] for node in draw.superclasses))


def why_removed(graph: Calibrated, draw: Draw, wnid: str, chosen: dict, home: dict, level: int, ancestor: str | None) -> str:
    if wnid in chosen:
        return f"removed: in the {chosen[wnid][1]} part"
    if wnid not in graph:
        return "removed: not in BREEDS' calibrated hierarchy"
    if wnid not in home:
        below = f" under {graph.named(ancestor)}" if ancestor is not None else ""
        return f"removed: under no node of level {level}{below}"
    node = home[wnid]
    if node in draw.superclasses:
        return f"removed: not drawn among the subclasses of {graph.named(node)}"
    return f"removed: under {graph.named(node)}, which has {len(graph.leaves(node))} subclasses, fewer than {draw.subclasses}"
