"""Check curate's BREEDS recipe (curate/labels/breeds.py) against BREEDS' own code.

Runs robustness 1.2.1.post2's `robustness/tools/breeds_helpers.py` unchanged, imported from its wheel (a zip
file Python imports from; a stub `robustness.datasets` module stands in for the one it imports, which needs
torch), on the hierarchy files curate ships (curate/data/breeds/), and compares what it gives with the label
sets curate writes: the superclasses and their names in label order, and each one's source and target
subclasses, for the four benchmarks (BREEDS' make_* functions) with each split (None, rand, good, bad) and for a
sweep of the general form (levels, subclasses, ancestors, balanced or not, seeds). Where BREEDS' code fails an
assertion or finds no superclass, curate must refuse with an error. Prints a table; exit status 1 on any
difference. Get the wheel with `python3 -m pip download robustness==1.2.1.post2 --no-deps -d DIR`, then:

    uv run --with networkx --with pandas python tools/check_breeds.py DIR/robustness-1.2.1.post2-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import itertools
import sys
import types
from pathlib import Path

from curate.errors import CurateError
from curate.labels.commands import breeds_labels
from curate.wordnet.breeds import DATA
from curate.wordnet.snapshot import load_hierarchy

SPLITS = (None, "rand", "good", "bad")
LEVELS = range(1, 9)
SUBCLASSES = (None, 2, 3, 4, 6, 8, 20)
ANCESTORS = (None, "n00004258", "n00021939", "n00015388", "dummy63")  # living thing, non-living thing, animal, paraphernalia
SEEDS = (0, 2, 7)
DUMMY = "curate refuses: a dummy"
COLUMNS = ("cases", "equal", "both refuse", DUMMY, "different")


def breeds_helpers(wheel: Path):
    """BREEDS' module, imported from the wheel as it is."""
    sys.path.insert(0, str(wheel))
    stub = types.ModuleType("robustness.datasets")
    stub.DATASETS = {}
    sys.modules["robustness.datasets"] = stub
    import robustness.tools.breeds_helpers as helpers

    if not Path(helpers.__file__).is_relative_to(wheel):
        sys.exit(f"breeds_helpers was imported from {helpers.__file__}, not from {wheel}")
    return helpers


def breeds_outcome(run) -> tuple | None:
    """BREEDS' result, or None where it fails (its asserts, np.min of no candidates, a level it lacks) or finds
    no superclass."""
    try:
        superclasses, splits, names = run()
    except (AssertionError, ValueError, KeyError):
        return None
    return (superclasses, splits, names) if superclasses else None


def compare(hierarchy, outcome, labels) -> str:
    """A column of the table (equal, both refuse, curate refuses a dummy: BREEDS' superclasses hold a node it
    added with several children, which no synset stands for and curate refuses to label), or a sentence on
    the first difference."""
    if outcome is None:
        return "both refuse" if isinstance(labels, CurateError) else f"BREEDS refuses alone; curate gives {labels.describe()}"
    if isinstance(labels, CurateError):
        several = [s for s in outcome[0] if s.startswith("dummy") and len(list(hierarchy.graph.successors(s))) > 1]
        return DUMMY if several and "no WordNet synset" in str(labels) else f"curate refuses alone: {labels}"
    superclasses, (source, target), names = outcome
    number = {num: wnid for wnid, num in hierarchy.LEAF_ID_TO_NUM.items()}
    members = labels.members()
    if len(members) != len(superclasses):
        return f"{len(superclasses)} superclasses against curate's {len(members)}"
    for i, ((label_wnid, rows), superclass) in enumerate(zip(members.items(), superclasses)):
        if rows[0].label_name != names[i]:
            return f"label {i}: name {names[i]!r} against curate's {rows[0].label_name!r}"
        if label_wnid != superclass and hierarchy.leaves_reachable(label_wnid) != hierarchy.leaves_reachable(superclass):
            return f"label {i}: {superclass} against curate's {label_wnid}, over other classes"
        side = (lambda row: row.reason == "source") if target else (lambda row: True)
        parts = [sorted(number[n] for n in source[i]), sorted(number[n] for n in target[i]) if target else []]
        ours = [sorted(row.wnid for row in rows if side(row)), sorted(row.wnid for row in rows if not side(row))]
        if parts != ours:
            return f"label {i} ({names[i]}): subclasses {parts} against curate's {ours}"
    return "equal"


def curate_labels(hierarchy, **options):
    try:
        return breeds_labels(hierarchy, **options)
    except CurateError as error:
        return error


def cases(helpers):
    """(group, BREEDS' call, curate's options) for the benchmarks and the sweep."""
    info = str(DATA)
    for name, split in itertools.product(("entity13", "entity30", "living17", "nonliving26"), SPLITS):
        make = getattr(helpers, f"make_{name}")
        yield name, (lambda make=make, split=split: make(info, split=split)), {"benchmark": name, "split": split or "none"}
    generator = helpers.BreedsDatasetGenerator(info)
    for level, subclasses, ancestor, balanced, split in itertools.product(LEVELS, SUBCLASSES, ANCESTORS, (True, False), SPLITS):
        for seed in SEEDS if split in (None, "rand") else (2,):
            run = (lambda level=level, subclasses=subclasses, split=split, ancestor=ancestor, balanced=balanced, seed=seed:
                   generator.get_superclasses(level, subclasses, split, ancestor, balanced, seed))
            options = {"level": level, "subclasses": subclasses, "ancestor": ancestor, "unbalanced": not balanced,
                       "split": split or "none", "seed": seed}
            yield f"level {level}", run, options


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="robustness-1.2.1.post2-py3-none-any.whl")
    args = parser.parse_args()
    helpers = breeds_helpers(args.wheel.resolve())
    hierarchy = helpers.ClassHierarchy(str(DATA))
    wordnet = load_hierarchy()
    table: dict[str, dict[str, int]] = {}
    differences = []
    for group, run, options in cases(helpers):
        verdict = compare(hierarchy, breeds_outcome(run), curate_labels(wordnet, **options))
        column = verdict if verdict in COLUMNS else "different"
        counts = table.setdefault(group, dict.fromkeys(COLUMNS, 0))
        counts["cases"] += 1
        counts[column] += 1
        if column == "different":
            differences.append(f"{group} {options}: {verdict}")
    table["all"] = {column: sum(counts[column] for counts in table.values()) for column in COLUMNS}
    widths = [max(len(column), 6) + 2 for column in COLUMNS]
    print(f"{'group':<12}" + "".join(f"{column:>{width}}" for column, width in zip(COLUMNS, widths)))
    for group, counts in table.items():
        print(f"{group:<12}" + "".join(f"{counts[column]:>{width}}" for column, width in zip(COLUMNS, widths)))
    for line in differences[:20]:
        print(line)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
