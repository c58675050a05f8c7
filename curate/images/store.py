"""ImageStore: a packed store (see `pack`) opened for reading, checked before any training reads it.

    store = ImageStore.open("store64")      # refuses a store still being packed, a file missing or cut short
    store.verify()                           # every byte against the digests recorded when it was packed
    rows = store.rows_for(table.rows["path"])  # where each image of a table made on the source index is

Packing records a sha256 digest of every span of bytes it writes (`spans` in the index's metadata): each
shard whole, or the header of pixels.npy and each part's rows of it. Opening checks what is cheap (every file
there, of the length packed, and the pixel array's header); `verify` reads everything.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import BadImages
from curate.images.index import ImageIndex
from curate.progress import Progress, no_progress
from curate.wording import plural, some

# A store's folder: index.parquet (written last: the store is complete), shards/*.tar (jpeg) or pixels.npy (raw),
# and while it is being packed, the settings it is packed with and the parts packed so far.
INDEX, SHARDS, PIXELS, SETTINGS, PARTS = "index.parquet", "shards", "pixels.npy", ".packing.json", ".parts"


def span_digest(path: Path, offset: int, size: int) -> str:
    """sha256 of `size` bytes of the file `path` from `offset` (fewer where the file ends sooner)."""
    sha = hashlib.sha256()
    with open(path, "rb") as file:
        file.seek(offset)
        while size > 0 and (chunk := file.read(min(size, 1 << 20))):
            sha.update(chunk)
            size -= len(chunk)
    return "sha256:" + sha.hexdigest()


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
        store.check_files()
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

    @property
    def spans(self) -> list[tuple[str, int, int, str]]:
        """The spans of bytes packing wrote, each (file, offset, size, digest); none in a store packed before
        stores recorded them (it opens unchecked, as it always did; `verify` refuses it)."""
        return [tuple(span) for span in json.loads(self.index.metadata.get("store_spans", "[]"))]

    def check_files(self) -> None:
        """Every file the store was packed into is there, exactly as long as it was packed, and the pixel
        array's header (a few hundred bytes) is the one it was packed with."""
        length: dict[str, int] = {}
        for name, offset, size, _ in self.spans:
            length[name] = max(length.get(name, 0), offset + size)
        for name in sorted(length):
            path = self.folder / name
            if not path.is_file():
                raise BadImages(f"The store {self.folder} is damaged: {name} is missing.")
            if path.stat().st_size != length[name]:
                cut = " (truncated?)" if path.stat().st_size < length[name] else ""
                raise BadImages(f"The store {self.folder} is damaged: {name} has {path.stat().st_size:,} bytes, not the "
                                f"{length[name]:,} it was packed with{cut}.")
        header = [span for span in self.spans if span[0] == PIXELS and span[1] == 0]
        if header and not self.matches(*header[0]):
            raise BadImages(f"The store {self.folder} is damaged: the header of {PIXELS} is not the one it was packed with.")

    def matches(self, name: str, offset: int, size: int, digest: str) -> bool:
        return span_digest(self.folder / name, offset, size) == digest

    def verify(self, progress: Progress = no_progress) -> None:
        """Read every byte of the store against the digests recorded when it was packed."""
        spans = self.spans
        if not spans:
            raise BadImages(f"The store {self.folder} records no digests of its files (it was packed before stores did): "
                            "pack it again to be able to verify it.")
        advance = progress("Checking the store", sum(size for _, _, size, _ in spans))
        damaged = []
        for span in spans:
            if not self.matches(*span):
                damaged.append(span[0] if span[0] != PIXELS else f"{PIXELS} (bytes {span[1]:,} to {span[1] + span[2]:,})")
            advance(span[2])
        if damaged:
            raise BadImages(f"The store {self.folder} is damaged: {some(damaged, 3)} {'does' if len(damaged) == 1 else 'do'} "
                            "not match the digests recorded when it was packed; pack it again.")

    def rows_for(self, paths: pa.ChunkedArray | pa.Array) -> pa.Table:
        """The store's rows of the images `paths`, in that order; every one must be in the store."""
        position = pc.index_in(paths, value_set=self.index.rows["path"])
        if position.null_count:
            absent = [p for p, at in zip(paths.to_pylist(), position.to_pylist()) if at is None]
            raise BadImages(f"{plural(len(absent), 'image')} of the table {'is' if len(absent) == 1 else 'are'} not in the store "
                            f"{self.folder} ({some(absent, 3)}): pack the index the table was made from.")
        return self.index.rows.take(position)
