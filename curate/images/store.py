"""ImageStore: a packed store (see `pack`) opened for reading, checked whole before any training reads it.

    store = ImageStore.open("store64")      # refuses a store still being packed, or with a shard missing
    rows = store.rows_for(table.rows["path"])  # where each image of a table made on the source index is
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import BadImages
from curate.images.index import ImageIndex
from curate.wording import plural, some

# A store's folder: index.parquet (written last: the store is complete), shards/*.tar (jpeg) or pixels.npy (raw),
# and while it is being packed, the settings it is packed with and the parts packed so far.
INDEX, SHARDS, PIXELS, SETTINGS, PARTS = "index.parquet", "shards", "pixels.npy", ".packing.json", ".parts"


class ImageStore:
    def __init__(self, folder: Path, index: ImageIndex):
        self.folder = folder
        self.index = index

    @classmethod
    def open(cls, folder: Path) -> ImageStore:
        folder = Path(folder)
        if not folder.is_dir():
            raise BadImages(f"The store {folder} does not exist." if not folder.exists() else f"{folder} is a file, not a store.")
        if not (folder / INDEX).is_file():
            if (folder / SETTINGS).is_file():
                parts = len(list((folder / PARTS).glob("*.json")))
                raise BadImages(f"{folder} is a store still being packed ({plural(parts, 'part')} done): run the same "
                                "`curate images pack` again to finish it.")
            raise BadImages(f"{folder} is not a store: it has no index.parquet (`curate images pack` makes one).")
        index = ImageIndex.read(folder / INDEX)
        if "store_format" not in index.metadata:
            raise BadImages(f"{folder / INDEX} is an image index, but not a store's.")
        store = cls(folder, index)
        store.check_shards()
        return store

    @property
    def format(self) -> str:
        return self.index.metadata["store_format"]

    @property
    def size(self) -> int:
        return int(self.index.metadata["store_size"])

    @property
    def origin_hash(self) -> str:
        return self.index.origin_hash

    def check_shards(self) -> None:
        """Every shard the index points into is there, and long enough for the bytes it points at."""
        rows = self.index.rows
        end = pc.add(rows["offset"], rows["size"])
        needed: dict[str, int] = {}
        for archive, last in zip(rows["archive"].to_pylist(), end.to_pylist()):
            needed[archive] = max(needed.get(archive, 0), last)
        for archive in sorted(needed):
            path = self.folder / archive
            if not path.is_file():
                raise BadImages(f"The store {self.folder} is damaged: {archive} is missing.")
            if path.stat().st_size < needed[archive]:
                raise BadImages(f"The store {self.folder} is damaged: {archive} ends at byte {path.stat().st_size:,}, "
                                f"before the {needed[archive]:,} bytes its images take (truncated?).")

    def rows_for(self, paths: pa.ChunkedArray | pa.Array) -> pa.Table:
        """The store's rows of the images `paths`, in that order; every one must be in the store."""
        position = pc.index_in(paths, value_set=self.index.rows["path"])
        if position.null_count:
            absent = [p for p, at in zip(paths.to_pylist(), position.to_pylist()) if at is None]
            raise BadImages(f"{plural(len(absent), 'image')} of the table {'is' if len(absent) == 1 else 'are'} not in the store "
                            f"{self.folder} ({some(absent, 3)}): pack the index the table was made from.")
        return self.index.rows.take(position)
