"""Subsets of an image index: N images of every class, or a fixed budget spread over the labels of a label
set and then over each label's classes; each class's images taken in the seeded order of their paths
(`seeded.path_scores`).

Pure functions over pyarrow tables of image rows."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import BadImages
from curate.seeded import path_scores
from curate.labels.labelset import LabelSet
from curate.wording import has, plural, some

def ranked(rows: pa.Table, seed: int):
    """A polars frame of `row` (the row number in `rows`), `wnid` and `rank`: 1 for the image of its class
    with the smallest seeded score, 2 for the next... Equal scores (a 2**-64 chance) keep the row order,
    which is path order in an index."""
    import polars as pl

    frame = pl.DataFrame({"wnid": pl.from_arrow(rows["wnid"]), "score": pl.Series(path_scores(rows["path"], seed))})
    return frame.with_row_index("row").select("row", "wnid", rank=pl.col("score").rank("ordinal").over("wnid"))


def take_rows(rows: pa.Table, frame) -> pa.Table:
    """The rows that `frame` (from `ranked`) still holds, in their order."""
    return rows.take(frame.get_column("row").sort().to_arrow())


def class_counts(rows: pa.Table) -> dict[str, int]:
    """Images per class, in wnid order."""
    counts = pc.value_counts(rows["wnid"])
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())
    return dict(sorted(pairs))


def sample_per_class(rows: pa.Table, per_class: int, seed: int = 0, allow_short: bool = False) -> pa.Table:
    """The first `per_class` images of every class by seeded rank (all of a smaller class with `allow_short`)."""
    import polars as pl

    if per_class < 1:
        raise BadImages(f"`per_class` must be 1 or more, not {per_class}.")
    counts = class_counts(rows)
    if not counts:
        raise BadImages("The index holds no images.")
    largest = max(counts, key=lambda wnid: (counts[wnid], wnid))
    if per_class > counts[largest]:
        raise BadImages(
            f"{plural(per_class, 'image')} per class is more than the index holds: its largest class, {largest}, "
            f"has {counts[largest]:,}."
        )
    short = [wnid for wnid, count in counts.items() if count < per_class]
    if short and not allow_short:
        raise BadImages(
            f"{plural(len(short), 'class')} of the index {has(len(short))} fewer than "
            f"{plural(per_class, 'image')}: {some([f'{w} ({counts[w]:,})' for w in short])}; "
            "`allow_short` takes all of theirs."
        )
    return take_rows(rows, ranked(rows, seed).filter(pl.col("rank") <= per_class))


def hold_out(rows: pa.Table, holdout: int, seed: int = 0, allow_short: bool = False) -> pa.Table:
    """Every row, the first `holdout` images of each class by seeded rank moved to split val (ImageNet-21K-P holds
    out 50 a class), the rest left in train. A class with `holdout` images or fewer is an error, unless
    `allow_short`, which leaves all of its images in train."""
    import numpy as np
    import polars as pl

    if holdout < 1:
        raise BadImages(f"`holdout` must be 1 or more, not {holdout}.")
    splits = pc.value_counts(rows["split"]).field("values").to_pylist()
    if splits != ["train"]:
        other = sorted(set(splits) - {"train"})
        raise BadImages(f"`holdout` cuts val images from training images, but the index also holds {' and '.join(other)} images.")
    counts = class_counts(rows)
    short = [wnid for wnid, count in counts.items() if count <= holdout]
    if short and not allow_short:
        raise BadImages(
            f"{plural(len(short), 'class')} of the index {has(len(short))} {holdout:,} images or fewer, which would "
            f"leave nothing to train on: {some([f'{w} ({counts[w]:,})' for w in short])}; "
            "`allow_short` keeps all of theirs in train."
        )
    held = ranked(rows, seed).filter((pl.col("rank") <= holdout) & ~pl.col("wnid").is_in(short))
    mask = np.zeros(rows.num_rows, dtype=bool)
    mask[held.get_column("row").to_numpy()] = True
    return rows.set_column(rows.schema.get_field_index("split"), "split", pc.if_else(pa.array(mask), "val", rows["split"]))


def spread(total: int, capacities: list[int | None]) -> list[int]:
    """`total` split as evenly as possible over slots in order, none above its capacity (None: no limit).

    Slots that cannot take their share pass what they lack on to the others; an odd remainder goes to the
    first slots in order. Raises ValueError when the capacities cannot hold `total`."""
    n = len(capacities)
    if n == 0 or (None not in capacities and sum(capacities) < total):  # type: ignore[arg-type]
        raise ValueError("the slots cannot hold the total")
    shares = [0] * n
    remaining = total
    order = sorted(range(n), key=lambda i: (capacities[i] is None, capacities[i] or 0, i))
    for position, slot in enumerate(order):
        left = n - position
        fair = remaining // left
        capacity = capacities[slot]
        if capacity is not None and capacity <= fair:
            shares[slot] = capacity
            remaining -= capacity
            continue
        rest = sorted(order[position:])  # every slot left can take at least fair + 1
        for rank, other in enumerate(rest):
            shares[other] = fair + (rank < remaining - fair * left)
        break
    return shares


def budget_quotas(labels: LabelSet, counts: dict[str, int], budget: int, allow_short: bool = False) -> dict[str, int]:
    """Images to take from each kept class of `labels`: `budget` spread evenly over the labels, and within a
    label evenly over its classes. Without `allow_short` a class with fewer images than its share is an
    error; with it, the share it cannot fill goes to the other classes of its label, then to other labels."""
    groups = labels.members()
    available = sum(counts.get(row.wnid, 0) for row in labels.kept)
    if budget < 1:
        raise BadImages(f"`budget` must be 1 or more, not {budget}.")
    if budget > available:
        raise BadImages(
            f"A budget of {plural(budget, 'image')} is more than the index holds for the manifest's classes ({available:,})."
        )
    members = [[row.wnid for row in rows] for rows in groups.values()]
    if allow_short:
        label_shares = spread(budget, [sum(counts.get(w, 0) for w in wnids) for wnids in members])
        class_shares = [spread(s, [counts.get(w, 0) for w in wnids]) for s, wnids in zip(label_shares, members)]
    else:
        label_shares = spread(budget, [None] * len(members))
        class_shares = [spread(s, [None] * len(wnids)) for s, wnids in zip(label_shares, members)]
    quotas = {w: q for wnids, shares in zip(members, class_shares) for w, q in zip(wnids, shares)}
    short = [w for w in sorted(quotas) if counts.get(w, 0) < quotas[w]]
    if short:
        raise BadImages(
            f"{plural(len(short), 'class')} {has(len(short))} fewer images than "
            f"{'its' if len(short) == 1 else 'their'} share of the budget: "
            f"{some([f'{w} has {counts.get(w, 0):,} of {quotas[w]:,}' for w in short])}; "
            "`allow_short` gives their share to other classes."
        )
    return quotas


def sample_budget(rows: pa.Table, labels: LabelSet, budget: int, seed: int = 0, allow_short: bool = False) -> pa.Table:
    """`budget` images over the labels of `labels` (see `budget_quotas`), each class's by seeded rank."""
    import polars as pl

    counts = class_counts(rows)
    quotas = budget_quotas(labels, counts, budget, allow_short)
    quota = pl.col("wnid").replace_strict(quotas, default=0, return_dtype=pl.Int64)
    return take_rows(rows, ranked(rows, seed).filter(pl.col("rank") <= quota))
