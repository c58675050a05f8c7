"""The ways ImageNet is kept on disk, one module per layout, each behind one interface.

A layout module has
  LAYOUT                   its name, as reports and the index's metadata record it
  index(source, progress)  -> (rows, report): rows of the image-index schema (in any order), and an
                           IndexReport of what else it found (never dropped silently)
  no_images(source, found) the sentence for a source that holds no image at all (`found` says what it held)
and `layout_of(source)` picks the module for what the user gave.

  class_folders.py  ROOT/<wnid>/**/<image> folders (ILSVRC-2012 train, fall 2011) and ROOT/<wnid>.tar archives
  tar_archive.py    the members of one plain tar archive, listed with their offsets, not extracted
  val_folder.py     a flat validation folder and the file naming each image's class (LOC_val_solution.csv)
  file_list.py      a train_cls.txt-style list of images that need not be present
  listing.py        what the folder layouts share: reading a folder, reading a text file
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curate.errors import BadImages
from curate.images.layouts import class_folders, file_list, val_folder


@dataclass(frozen=True)
class Source:
    """What a user asked to index: a root, and for some layouts a file that says more."""

    root: Path
    split: str  # the split every row records: "train", "val"...
    val_labels: Path | None = None
    file_list: Path | None = None


def layout_of(source: Source):
    """The layout module that reads `source`."""
    if source.file_list is not None and source.val_labels is not None:
        raise BadImages("Give either a file list or validation labels, not both.")
    if source.file_list is not None:
        return file_list
    if source.val_labels is not None:
        return val_folder
    return class_folders
