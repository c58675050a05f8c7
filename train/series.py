"""The comparisons of an experiment file ([[series]]): which images each cell trains on (its pool), the check
that a series compares cells on the same images wherever its variable does not say otherwise, and where each
cell stands along the series' variable (the x of its figure).

A pool is the classes whose images a cell may take and the subset it takes of them: all, N per class, or a
budget. Along `x = "per_class"` the per-class count may vary, along `x = "budget"` the budget; anything
else that differs (other classes, all images against a subset) makes the cells train on other images, which
the series must say in its `pool`, or the file is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from train.errors import TrainError
from train.experiment import Experiment, Series, Variant


@dataclass(frozen=True)
class Pool:
    classes: frozenset[str]
    per_class: int | None
    budget: int | None
    seed: int | None  # the subset's seed (None: all images, no choice)

    def text(self) -> str:
        classes = f"{len(self.classes):,} classes"
        if self.per_class:
            return f"{self.per_class:,} images per class of {classes} (subset seed {self.seed})"
        if self.budget:
            return f"{self.budget:,} images spread over {classes} (subset seed {self.seed})"
        return f"all the images of {classes}"

    def along(self, x: str) -> tuple:
        """What must be equal between the cells of a series along `x`: everything but the variable itself."""
        return (self.classes, "*" if x == "per_class" else self.per_class, "*" if x == "budget" else self.budget,
                "*" if x in ("per_class", "budget") else self.seed)


def pool_of(variant: Variant, images) -> Pool:
    """The pool of `variant`: the classes of its label set (`images`: the grid's `GridImages`), its subset."""
    classes = frozenset(row.wnid for row in images.label_set(variant.labels).kept)
    chosen = variant.per_class or variant.budget
    return Pool(classes, variant.per_class, variant.budget, variant.subset_seed if chosen else None)


def members(experiment: Experiment, series: Series) -> list[Variant]:
    """The cells of a series: its variants, and its reference's cells on all images."""
    own = [v for v in experiment.variants if v.series == series.name]
    return own + [v for v in experiment.variants
                  if v.entry == series.reference and v.all_images and v.series != series.name]


def check_pools(experiment: Experiment, images) -> None:
    """Refuse a series whose cells train on other images than its variable says, unless its pool says how."""
    for series in experiment.series:
        if series.pool is not None:
            continue
        cells = members(experiment, series)
        first = cells[0]
        a = pool_of(first, images)
        for other in cells[1:]:
            b = pool_of(other, images)
            if a.along(series.x) != b.along(series.x):
                raise TrainError(
                    f"{experiment.source} [[series]] {series.name!r} compares cells that train on other images than its "
                    f"x ({series.x}) says: {first.name} on {a.text()}, {other.name} on {b.text()}; give them the same "
                    "images, or say how and why they differ in the series' pool.")


def pool_text(experiment: Experiment, series: Series, images) -> str:
    """What a series trains on, in a few words: its own statement, or the pool its cells share."""
    if series.pool is not None:
        return series.pool
    pools = [pool_of(v, images) for v in members(experiment, series)]
    first = pools[0]
    classes = f"{len(first.classes):,} classes"
    if series.x == "per_class":
        seeds = sorted({p.seed for p in pools if p.seed is not None})
        subsets = f"nested subsets of N images per class (subset seed {', '.join(map(str, seeds))})" if seeds else ""
        whole = f"all the images of {classes}" if any(p.seed is None for p in pools) else ""
        return f"{whole}, and {subsets}" if whole and subsets else whole or f"{subsets} of {classes}"
    if series.x == "budget":
        return f"budgets of images over {classes}"
    return first.text()


def x_of(series: Series, variant: Variant, class_count: int, label_count: int, train_images: int | None) -> float | None:
    """Where a cell stands along its series' variable: its images per class (on average, for all images), its
    budget (the images it trains on: per class times classes, or all), its label count, or the layers it copied
    (0 for a network that copied none: the reference); None for a series of named variants. `train_images` is
    None before the data is at hand."""
    if series.x == "label_count":
        return float(label_count)
    if series.x == "copy_layers":
        return float(variant.settings.get("copy_layers") or 0)
    if series.x == "per_class":
        if variant.per_class:
            return float(variant.per_class)
        return train_images / class_count if train_images is not None else None
    if series.x == "budget":
        if variant.budget:
            return float(variant.budget)
        if variant.per_class:
            return float(variant.per_class * class_count)
        return float(train_images) if train_images is not None else None
    return None
