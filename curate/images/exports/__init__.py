"""An image table in the formats other trainers read, one module per format, each read back by that format's
own readers with the table's label ids:

  imagefolder.py  <folder>/<label folder>/<image>: symlinks to the images, or copies of their bytes
  webdataset.py   tar shards of KEY.<image> + KEY.cls + KEY.json, and timm's _info.json

Both take images from any source a table points into (class folders, tar archives, Parquet shards, a JPEG
store), and write their folder whole or not at all (`whole_folder`). What they share is here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from curate.errors import BadImages
from curate.fileio import check_absent, check_writable
from curate.images.table import ImageTable

# The first bytes of each image format a reader may meet, and the suffix its files take.
SIGNATURES = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"GIF87a", ".gif"), (b"GIF89a", ".gif"),
              (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"), (b"BM", ".bmp"))


def check_exportable(table: ImageTable) -> None:
    """A table of a raw store points at rows of pixels, which no image reader opens."""
    if table.metadata.get("store_format") == "raw":
        raise BadImages("The table's images are in a raw store, as pixels, not image files: export the table made "
                        "from the index the store was packed from, or from a JPEG store's index.")


def image_suffix(data: bytes, path: str) -> str:
    """The suffix of the image format `data` is in (told by its first bytes, not by the name it had)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    suffix = next((suffix for signature, suffix in SIGNATURES if data.startswith(signature)), None)
    if suffix is None:
        raise BadImages(f"{path} is not an image (JPEG, PNG, WebP, GIF, TIFF or BMP): index with `curate images "
                        "index --verify`, which leaves out what does not decode, and make the table again.")
    return suffix


@contextmanager
def whole_folder(folder: Path) -> Iterator[Path]:
    """A hidden sibling of `folder` to build an export in, renamed to `folder` when the block ends well and
    removed otherwise (an interrupt included): the export appears whole or not at all. `folder` must not exist."""
    folder = Path(folder)
    check_absent(folder)
    check_writable(folder)
    building = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
    try:
        building.mkdir()
        yield building
        os.rename(building, folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)
