"""ImageIndex: ImageNet indexed once, and everything made from it.

    index = ImageIndex.build("imagenet/train", file_list="train_cls.txt")   # any layout (see `layouts`)
    index.write("train.parquet")
    small = ImageIndex.read("train.parquet").subset(per_class=500, seed=0)  # also an ImageIndex
    table = small.label(read_labels("manifests/coarse-127.parquet"))         # an ImageTable, for training

The index decides once what its file records (root, layout, what indexing found, where a subset came
from), so every caller (the CLI, train/, the demo, the benchmarks) writes the same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc

from curate.errors import BadImages
from curate.fileformat import CurateTable, sorted_by_key
from curate.images.layouts import Source, file_list as file_list_layout, layout_of
from curate.images.report import IndexReport
from curate.images.rows import IMAGES
from curate.images.subsets import class_counts, hold_out, sample_budget, sample_per_class
from curate.images.table import ImageTable, check_labels, join_labels
from curate.images.verify import verify_images
from curate.labels.labelset import LabelSet
from curate.labels.manifest import labels_hash
from curate.labels.recipes import restrict
from curate.progress import Progress, no_progress
from curate.wording import has, plural, some

SPLITS = ("train", "val", "test")
STORE_KEYS = ("store_format", "store_size", "store_quality", "store_resize")  # how a packed store holds the images


class ImageIndex(CurateTable):
    """One row per image (`rows.IMAGES`, sorted by path), the root the paths are relative to, and where the
    images came from. `report` is what indexing found besides images (only on an index just built)."""

    kind = IMAGES
    required = {"root": "a root folder"}

    def __init__(self, rows, metadata: dict[str, str], report: IndexReport | None = None):
        super().__init__(rows, metadata)
        self.report = report

    @classmethod
    def build(
        cls,
        root: Path,
        *,
        val_labels: Path | None = None,
        file_list: Path | None = None,
        split: str | None = None,
        classes: str | None = None,
        sizes: bool = False,
        verify: bool = False,
        strict: bool = False,
        progress: Progress = no_progress,
    ) -> ImageIndex:
        """Index the images under `root`.

        With `file_list`, the list is indexed and `root` need not exist (it is where the images would be);
        with `val_labels`, `root` is a flat validation folder; otherwise `root` is Kaggle's ILSVRC download,
        holds Hugging Face or WebDataset shards, or holds class folders and/or `<wnid>.tar` archives (see
        `layout_of`). `classes` says what the labels of shards number: a numbering's name (`NUMBERINGS`), or a file of one
        wnid per line, line i naming label i (see `hf_features`, `webdataset`). `split` defaults to "val" for a validation folder and "train" otherwise; for Kaggle's
        download and for shards it also says which images to read.
        `sizes` looks up the size of every image file (one `stat` each: most of the time of indexing class folders,
        more on a cold disk) and leaves out (and reports) empty files; without it a file's size is null. The members of
        archives and shards have their sizes either way.
        `verify` decodes every image and leaves out (and reports) those that do not decode. With `strict`,
        anything the report lists is an error instead.
        """
        if split is not None and split not in SPLITS:
            raise BadImages(f"`split` must be one of {', '.join(SPLITS)}, not {split!r}.")
        root = Path(root)
        source = Source(root, split or ("val" if val_labels is not None and file_list is None else "train"),
                        Path(val_labels) if val_labels else None, Path(file_list) if file_list else None, classes, sizes)
        layout = layout_of(source)
        if verify and layout is file_list_layout:
            raise BadImages("`verify` needs the images; a file list indexes images that are not there.")
        rows, report = layout.index(source, progress)
        if verify and rows.num_rows:
            rows = verify_images(root, rows, report, progress)
        report.images = rows.num_rows
        report.classes = len(pc.unique(rows["wnid"])) if rows.num_rows else 0
        report.sort()
        if not rows.num_rows:
            raise BadImages(layout.no_images(source, report.found()))
        if strict and report.found():
            first = next(f"{items[0]} ({report.PROBLEMS[key]})" for key, items in report.problems().items() if items)
            raise BadImages(f"{source.file_list or root} holds what cannot be indexed{report.found()}, for example {first}; "
                            "without `strict` it is reported and left out.")
        metadata = {"root": str(root.resolve()), "layout": report.layout, "report": json.dumps(report.counts(), sort_keys=True)}
        if file_list is not None:
            metadata["file_list"] = Path(file_list).name
        if val_labels is not None:
            metadata["val_labels"] = Path(val_labels).name
        if classes is not None:
            metadata["classes"] = Path(classes).name
        return cls(sorted_by_key(rows, IMAGES), metadata, report)

    @property
    def root(self) -> str:
        """The folder the paths are relative to; a relative root (a store's: ".") is relative to the folder
        of the index file, so a store can be moved or copied whole."""
        root = Path(self.metadata["root"])
        if not root.is_absolute() and self.path is not None:
            root = (self.path.parent / root).resolve()
        return str(root)

    @property
    def origin_hash(self) -> str:
        """The content hash of the index this one was made from by subsets and packing (its own, if built)."""
        return self.metadata.get("origin_hash") or self.content_hash

    def inherited(self) -> dict[str, str]:
        """What every index and table made from this index records of it: where its images are, where it
        came from, and how a store packed them."""
        kept = {key: self.metadata[key] for key in ("layout", *STORE_KEYS) if key in self.metadata}
        return {"root": self.root, "origin_hash": self.origin_hash, **kept}

    def class_counts(self) -> dict[str, int]:
        """Images per class, in wnid order."""
        return class_counts(self.rows)

    def split_counts(self) -> dict[str, int]:
        """Images per split."""
        counts = pc.value_counts(self.rows["split"])
        return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()))

    def subset(
        self,
        *,
        per_class: int | None = None,
        budget: int | None = None,
        labels: LabelSet | None = None,
        holdout: int | None = None,
        seed: int = 0,
        allow_short: bool = False,
    ) -> ImageIndex:
        """`per_class` images of every class, or a `budget` spread over the labels of `labels`, each class's
        images taken in the seeded order; or every image, with the first `holdout` of each class in that order
        moved to split val. The subset records its parent's content hash and how it was taken."""
        if sum(given is not None for given in (per_class, budget, holdout)) != 1:
            raise BadImages("Give either `per_class`, `budget` with `labels`, or `holdout`.")
        if holdout is not None:
            if labels is not None:
                raise BadImages("`labels` goes with `budget`; `holdout` holds out images of every class of the index.")
            rows = hold_out(self.rows, holdout, seed, allow_short)
            params = {"holdout": holdout, "seed": seed, "allow_short": allow_short}
        elif per_class is not None:
            if labels is not None:
                raise BadImages("`labels` goes with `budget`; `per_class` takes N images of every class of the index.")
            rows = sample_per_class(self.rows, per_class, seed, allow_short)
            params = {"per_class": per_class, "seed": seed, "allow_short": allow_short}
        else:
            if labels is None:
                raise BadImages("`budget` needs `labels`: the budget is spread over the labels of a label set.")
            check_labels(labels)
            rows = sample_budget(self.rows, labels, budget, seed, allow_short)
            params = {"budget": budget, "seed": seed, "allow_short": allow_short, "labels_hash": labels_hash(labels)}
        metadata = {**self.inherited(), "parent_hash": self.content_hash, "subset": json.dumps(params, sort_keys=True)}
        return ImageIndex(rows, metadata)

    def label(self, labels: LabelSet, *, allow_missing: bool = False) -> ImageTable:
        """The images of the classes `labels` keeps, each with its label: the table training reads. A kept
        class without images is an error unless `allow_missing`; a label left without training images is an
        error either way (training cannot learn it), unless the index has no training images at all (a table
        to validate on)."""
        metadata = {
            **self.inherited(),
            "images_hash": self.content_hash,
            "labels_hash": labels_hash(labels),
            "labels_recipe": labels.describe(),
            "label_count": str(labels.label_count),
        }
        table = ImageTable(join_labels(labels, self.rows, allow_missing=allow_missing), metadata)
        per_label = table.training_images_per_label(labels.label_count)
        empty = [labels.label_wnids[label] for label, count in enumerate(per_label) if not count]
        if empty and any(per_label):
            raise BadImages(
                f"{plural(len(empty), 'label')} of the {labels.label_count} {has(len(empty))} no training images in "
                f"the index ({some(empty)}), and training needs every label: `curate images restrict` makes a label "
                "set of the classes the index has."
            )
        return table

    def restrict(self, labels: LabelSet, labels_name: str, images_name: str, min_images: int | None = None) -> LabelSet:
        """The label set `labels` (from the manifest `labels_name`) restricted to the classes this index
        (the file `images_name`) holds images of, at least `min_images` of them if given."""
        return restrict(labels, self.class_counts(), labels_name, labels_hash(labels), images_name, self.content_hash,
                        min_images)
