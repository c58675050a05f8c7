"""The ways ImageNet is kept on disk, one module per layout, each behind one interface.

A layout module has
  LAYOUT                   its name, as reports and the index's metadata record it
  index(source, progress)  -> (rows, report): rows of the image-index schema (in any order), and an
                           IndexReport of what else it found (never dropped silently)
  no_images(source, found) the sentence for a source that holds no image at all (`found` says what it held)
and `layout_of(source)` picks the module for what the user gave. A layout whose labels are numbers has
`NUMBERED = True`: the user's `classes` says what they number. A layout of image files has `FILES = True`: it
looks up their sizes where the user's `sizes` asks.

  class_folders.py  ROOT/<wnid>/**/<image> folders (ILSVRC-2012 train, fall 2011) and ROOT/<wnid>.tar archives
  tar_archive.py    the members of one plain tar archive, listed with their offsets, not extracted
  val_folder.py     a flat validation folder and the file naming each image's class (LOC_val_solution.csv)
  file_list.py      a train_cls.txt-style list of images that need not be present
  kaggle.py         Kaggle's ILSVRC download: LOC_*.csv beside ILSVRC/Data/CLS-LOC/{train,val}
  hf_parquet.py     Hugging Face Parquet shards (push_to_hub's, the hub's conversion, to_parquet's), each row
                    pointed at in its shard
  hf_arrow.py       Hugging Face save_to_disk folders: Arrow IPC streams, each row pointed at in its file
  webdataset.py     WebDataset tar shards (KEY.jpg, KEY.cls), members listed with their offsets
  ilsvrc_tar.py     image-net.org's ILSVRC2012_img_train.tar, a tar of per-class tars, listed in place
  hf_features.py    what the Hugging Face layouts share: the classes a table declares, its images' files
  listing.py        what the layouts share: reading a folder, finding a split's shards, reading a text file

A layout found by looking at ROOT (kaggle, hf_parquet, hf_arrow, webdataset, ilsvrc_tar) also has
`holds(root)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curate.errors import BadImages
from curate.images.layouts import (
    class_folders,
    file_list,
    hf_arrow,
    hf_parquet,
    ilsvrc_tar,
    kaggle,
    val_folder,
    webdataset,
)

FOUND_BY_LOOKING = (kaggle, hf_parquet, hf_arrow, webdataset, ilsvrc_tar)  # the layouts ROOT's own files name, in the order asked


@dataclass(frozen=True)
class Source:
    """What a user asked to index: a root, and for some layouts a file that says more."""

    root: Path
    split: str  # the split every row records: "train", "val"...
    val_labels: Path | None = None
    file_list: Path | None = None
    classes: str | None = None  # what a layout's numbered labels number: a numbering's name (`NUMBERINGS`) or a file
    sizes: bool = False  # whether the sizes of image files are looked up (one stat per file) and empty files left out


def layout_of(source: Source):
    """The layout module that reads `source`."""
    if source.file_list is not None and source.val_labels is not None:
        raise BadImages("Give either a file list or validation labels, not both.")
    if source.file_list is not None:
        return files_checked(file_list, source)
    if source.val_labels is not None:
        layout = val_folder
    else:
        layout = next((layout for layout in FOUND_BY_LOOKING if layout.holds(source.root)), class_folders)
    if source.classes is not None and not getattr(layout, "NUMBERED", False):
        raise BadImages(f"`classes` says what numbered labels number (Hugging Face and WebDataset shards), and "
                        f"{source.root} is read as {layout.LAYOUT}, whose classes are named by wnids.")
    return files_checked(layout, source)


def files_checked(layout, source: Source):
    """`layout`, if it reads image files or `source` does not ask for their sizes."""
    if source.sizes and not getattr(layout, "FILES", False):
        raise BadImages(f"`sizes` looks up the sizes of image files in folders, and {source.file_list or source.root} "
                        f"is read as {layout.LAYOUT}, which has no image files to look up.")
    return layout
