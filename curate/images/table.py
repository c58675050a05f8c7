"""An image table (kind "table"): an image index joined with a label set, the table training reads.

One row per image of a class the label set keeps: the index's columns, the image's `label` (0..K-1) and
`label_wnid`. Its metadata names the images' root and the content hashes of the index and the manifest it
was made from (`images_hash`, `labels_hash`), the recipe, and the label count.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import BadImages
from curate.fileformat import CurateTable, FileKind
from curate.images.rows import IMAGES
from curate.images.subsets import class_counts
from curate.labels.labelset import LabelSet
from curate.wording import has, plural, some
from curate.wordnet.snapshot import load_hierarchy

TABLE = FileKind(
    "table",
    pa.schema(
        [*IMAGES.schema, pa.field("label", pa.int32(), nullable=False), pa.field("label_wnid", pa.string(), nullable=False)]
    ),
    "path",
)


@dataclass(frozen=True)
class TableSummary:
    images: int
    labels: int
    per_label_min: int
    per_label_median: float
    per_label_max: int
    classes_without_images: list[str]
    labels_without_images: list[str]
    dropped_images: int  # images of classes the manifest removes or does not list


class ImageTable(CurateTable):
    """The table training reads. Made by `ImageIndex.label`, read from and written to a file."""

    kind = TABLE
    required = {"root": "a root folder"}

    @property
    def root(self) -> str:
        return self.metadata["root"]

    def training_images_per_label(self, label_count: int) -> list[int]:
        """Rows of the train split of each label 0..label_count-1: what training needs to be above 0."""
        train = pc.filter(self.rows["label"], pc.equal(self.rows["split"], "train"))  # one column, not the table
        counts = pc.value_counts(train)
        per_label = [0] * label_count
        for label, count in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
            per_label[label] = count
        return per_label

    def summary(self, labels: LabelSet, index_rows: int) -> TableSummary:
        """Images per label of `labels` (the set this table was made with), and what is missing."""
        counts = class_counts(self.rows)
        per_label = dict.fromkeys(labels.label_wnids, 0)
        for row in labels.kept:
            per_label[row.label_wnid] += counts.get(row.wnid, 0)
        sizes = list(per_label.values())
        return TableSummary(
            len(self),
            len(per_label),
            min(sizes),
            statistics.median(sizes),
            max(sizes),
            [row.wnid for row in labels.kept if row.wnid not in counts],
            [wnid for wnid, count in per_label.items() if count == 0],
            index_rows - len(self),
        )


def check_labels(labels: LabelSet) -> None:
    """Every wnid of a label set must be a WordNet 3.0 noun id, and it must keep a class."""
    wnids = {row.wnid for row in labels.rows} | set(labels.label_wnids)
    unknown = sorted(wnids - load_hierarchy().known_wnids(wnids))
    if unknown:
        raise BadImages(
            f"The labels file names {plural(len(unknown), 'wnid')} WordNet 3.0 does not have: {some(unknown)}."
        )
    if not labels.kept:
        raise BadImages("The labels file keeps no classes.")


def join_labels(labels: LabelSet, rows: pa.Table, *, allow_missing: bool = False) -> pa.Table:
    """One table row per image row of a class `labels` keeps, with its label; images of removed or unlisted
    classes are dropped. A kept class without images is an error unless `allow_missing`."""
    check_labels(labels)
    label_of = labels.label_index
    kept = labels.kept
    position = pc.index_in(rows["wnid"], value_set=pa.array([row.wnid for row in kept], pa.string()))
    if not allow_missing:
        present = set(pc.unique(position).drop_null().to_pylist())
        missing = [row.wnid for number, row in enumerate(kept) if number not in present]
        if missing:
            emptied = {row.label_wnid for row in kept} - {kept[number].label_wnid for number in present}
            remedy = ("`curate images restrict` makes a label set of the classes the index has" if emptied
                      else "`allow_missing` trains without them")
            raise BadImages(
                f"{plural(len(missing), 'class')} of the labels file {has(len(missing))} "
                f"no images in the index: {some(missing)}; {remedy}."
            )
    if position.null_count:  # images of classes the manifest removes or does not list
        rows, position = rows.filter(pc.is_valid(position)), position.drop_null()
    if not rows.num_rows:
        raise BadImages("None of the index's images belongs to a class the labels file keeps.")
    label = pa.array([label_of[row.label_wnid] for row in kept], pa.int32()).take(position)
    label_wnid = pa.array([row.label_wnid for row in kept], pa.string()).take(position)
    joined = rows.select(IMAGES.schema.names).append_column("label", label).append_column("label_wnid", label_wnid)
    return joined.cast(TABLE.schema)
