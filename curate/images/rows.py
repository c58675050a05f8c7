"""What a row of an image index is: its columns, how layouts build rows, which file names are images.

An image index (kind "images") has one row per image: `path` relative to the root recorded in the metadata
key "root", `wnid`, `split`, file `size` (null where unknown), and for a member of a tar archive the
archive's path relative to the root (`path` is then "<archive>/<member name>") and the byte `offset` of the
member's data in it.

A row of a Parquet shard (Hugging Face's imagenet-1k) uses the same two columns: `archive` is the shard's
path relative to the root (it ends in ".parquet"), `offset` the row's number in the shard, counted across its
row groups from 0, and `path` is "<shard>/<row number>". A row of `save_to_disk`'s Arrow files likewise (the
archive ends in ".arrow"). A shard's image without bytes is read from the file its `path` names. The schema has no column for the row group, and
needs none: the shard's footer gives every row group's row count, so the number names the group and the row
in it. `size` is null: the images' lengths are not known without reading them.
"""

from __future__ import annotations

import bisect
import functools
import io
import itertools
import math
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import BadImages
from curate.fileformat import FileKind, text_scalar

IMAGES = FileKind(
    "images",
    pa.schema(
        [
            pa.field("path", pa.string(), nullable=False),
            pa.field("wnid", pa.string(), nullable=False),
            pa.field("split", pa.string(), nullable=False),
            pa.field("size", pa.int64()),
            pa.field("archive", pa.string()),
            pa.field("offset", pa.int64()),
        ]
    ),
    "path",
)
SHARD_SUFFIX = ".parquet"  # an archive with this suffix is a Parquet shard, not a tar archive
ARROW_SUFFIX = ".arrow"  # and with this one, an Arrow IPC stream as Hugging Face's save_to_disk writes it
IMAGE_SUFFIXES = frozenset(".jpeg .jpg .png .bmp .gif .webp .tif .tiff .ppm .pgm .pbm".split())


def image_rows(paths: list[str] | pa.Array, wnids: list[str] | pa.Array | str, split: str,
               sizes: list[int | None] | pa.Array | None, archives: list[str | None] | None = None,
               offsets: list[int | None] | None = None) -> pa.Table:
    """Rows of the image-index schema. A column is a list or an Arrow array; `wnids` may be the one wnid of every
    row, `sizes` None where no size is known. One wnid, a split and null columns are made without a list per row."""
    n = len(paths)
    return pa.Table.from_arrays(
        [
            column(paths, pa.string(), n),
            pa.repeat(text_scalar(wnids), n) if isinstance(wnids, str) else column(wnids, pa.string(), n),
            pa.repeat(text_scalar(split), n),
            column(sizes, pa.int64(), n),
            column(archives, pa.string(), n),
            column(offsets, pa.int64(), n),
        ],
        schema=IMAGES.schema,
    )


def no_rows() -> pa.Table:
    """An image index without rows (made without `schema.empty_table`, which imports pandas where it is installed)."""
    return pa.Table.from_batches([], schema=IMAGES.schema)


def column(values: list | pa.Array | None, type: pa.DataType, n: int) -> pa.Array:
    """`values` as an Arrow array of `type` (n nulls for None)."""
    if values is None:
        return pa.nulls(n, type)
    return values.cast(type) if isinstance(values, pa.Array) else pa.array(values, type)


def is_image_name(name: str) -> bool:
    """Whether a file name (or a tar member's path) ends in an image suffix, as `os.path.splitext` reads
    suffixes (a name's leading dots start no suffix), in under half its time: indexing calls this per file."""
    stem, _, suffix = name.rpartition("/")[2].rpartition(".")
    return bool(stem.lstrip(".")) and "." + suffix.lower() in IMAGE_SUFFIXES


# is_image_name as a regular expression, for a whole array of names at once: the last part of the path has a
# character other than a dot before the dot of an image suffix. Ignoring case here agrees with str.lower():
# the only non-ASCII letters that fold to ASCII ones (the Kelvin sign, the long s) fold to k and s, in no suffix.
IMAGE_NAME = r"(?:^|/)\.*[^./][^/]*\.(?:" + "|".join(sorted(s[1:] for s in IMAGE_SUFFIXES)) + ")$"


def image_name_mask(paths: pa.Array, dots: int | None = None) -> pa.BooleanArray:
    """`is_image_name` of each of `paths`, computed by pyarrow over the whole array. `dots`, the number of dots in
    all paths together, lets the usual case skip the regular expression (0.1 µs a path): where each path has one dot,
    one ending in ILSVRC's own .JPEG is an image unless that dot starts its last part."""
    if dots == len(paths):
        ilsvrc = pc.and_not(pc.ends_with(paths, ".JPEG"), pc.or_(pc.ends_with(paths, "/.JPEG"), pc.starts_with(paths, ".")))
        if pc.all(ilsvrc).as_py() is not False:
            return ilsvrc
    return pc.match_substring_regex(paths, IMAGE_NAME, ignore_case=True)


def numpy_array(values: np.ndarray) -> pa.Array:
    """A numpy array of numbers as an Arrow array, sharing its memory (pa.array imports pandas, where installed)."""
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def name_array(names: str) -> pa.StringArray:
    """File names (or paths) joined by NUL, which none holds, as an Arrow array: split in C, where pa.array of a
    list costs a Python object per name (and imports pandas, where it is installed: half a second)."""
    if not names:
        return pa.nulls(0, pa.string())
    return pc.split_pattern(text_scalar(names), "\0").values


def read_image_bytes(root: Path, path: str, archive: str | None, offset: int | None, size: int | None) -> bytes:
    """The stored bytes of one row: the file `path` under `root`, `size` bytes at `offset` of the tar `archive`,
    or row `offset` of the Parquet shard or Arrow file `archive`."""
    if archive is None:
        return (Path(root) / path).read_bytes()
    if archive.endswith(SHARD_SUFFIX):
        return shard_image(Path(root) / archive, offset)
    if archive.endswith(ARROW_SUFFIX):
        return stored_image(Path(root) / archive, arrow_images(str(Path(root) / archive))[offset])
    with open(Path(root) / archive, "rb") as handle:
        handle.seek(offset)
        return handle.read(size)


def shard_image(shard: Path, row: int) -> bytes:
    """The image bytes of row `row` (counted across row groups) of a Parquet shard with an `image` column."""
    _, starts = open_shard(str(shard), threading.get_ident())
    group = bisect.bisect_right(starts, row) - 1
    return stored_image(shard, row_group_images(str(shard), threading.get_ident(), group)[row - starts[group]])


def stored_image(shard: Path, image) -> bytes:
    """The bytes of a shard's `image` struct: its own, or those of the file its path names."""
    data = image["bytes"].as_py()
    return data if data is not None else image_file(shard, image["path"].as_py()).read_bytes()


def image_file(shard: Path, path: str) -> Path:
    """The file a shard's image path names: an absolute path, or one relative to the shard's folder."""
    return Path(shard).parent / path


@functools.lru_cache(maxsize=8)
def arrow_images(path: str):
    """The `image` column of an Arrow IPC stream, memory-mapped, not read (a stream has no index of its
    record batches, so the file is opened once per process and its batches' places kept)."""
    return pa.ipc.open_stream(pa.memory_map(path)).read_all().column("image")


@functools.lru_cache(maxsize=8)
def row_group_images(shard: str, thread: int, group: int):
    """The image column of one row group, kept for the rows that follow. Rows in index order sort as text
    (1, 10, 100, 1000, 1001, ..., 101): with a few groups kept, reading them reads each group once, where
    reading one group per image read a shard's every group hundreds of times."""
    file, _ = open_shard(shard, thread)
    return file.read_row_group(group, columns=["image"]).column(0)


@functools.lru_cache(maxsize=32)
def open_shard(shard: str, thread: int):
    """A Parquet shard opened once per process (a training worker reads many rows of each) and thread (two
    threads reading one ParquetFile at once corrupt its memory: verify reads in threads), and the first row
    number of each of its row groups."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(shard)
    counts = [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)]
    return file, list(itertools.accumulate(counts[:-1], initial=0))


class ImageTooLarge(BadImages):
    """A valid image with more pixels than Pillow decodes (its guard against decompression bombs)."""


LIFTING = threading.Lock()  # held while Pillow's pixel limit is lifted to open one image past it


def open_image(Image, data: bytes, short_side: int | None = None):
    """The image of `data`, opened to decode, and its own size (width, height). A JPEG is decoded at the smallest reduced DCT scale (draft)
    whose short side is still at least `short_side`, and one past Pillow's pixel limit at a scale that brings
    it under the limit, if one does. Raises ImageTooLarge for an image still past the limit (Pillow would
    call it a decompression bomb)."""
    limit = Image.MAX_IMAGE_PIXELS and 2 * Image.MAX_IMAGE_PIXELS  # Pillow refuses images past twice its maximum
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        with LIFTING:  # the limit is checked below instead, after a draft that may bring the image under it
            lifted, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                image = Image.open(io.BytesIO(data))
            finally:
                Image.MAX_IMAGE_PIXELS = lifted
    width, height = image.size
    if short_side and short_side < min(width, height):
        scale = short_side / min(width, height)
        image.draft("RGB", (max(short_side, round(width * scale)), max(short_side, round(height * scale))))
    elif limit and width * height > limit:
        image.draft("RGB", (math.ceil(width / 8), math.ceil(height / 8)))  # JPEG's smallest DCT scale
    if limit and image.size[0] * image.size[1] > limit:
        raise ImageTooLarge(f"{width:,} x {height:,} px, more than Pillow's limit of {limit:,} px")
    return image, (width, height)


def pillow():
    """PIL.Image, or one sentence saying how to get it (curate decodes images only to verify and to pack)."""
    try:
        from PIL import Image
    except ImportError:
        raise BadImages("Decoding images needs Pillow, which is not installed: pip install pillow.") from None
    return Image
