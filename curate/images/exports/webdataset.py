"""An image table as WebDataset shards, read by webdataset and by timm (`create_dataset("wds/...")`) with the
table's label ids.

  <folder>/<split>-000000.tar ...  per image three members: KEY.jpg (or .png, .webp: the image's own bytes),
                                   KEY.cls (its label, in decimal), KEY.json ({"label", "label_wnid", "wnid",
                                   "path", "split"}: `path` is where the image came from)
  <folder>/_info.json              timm's table of splits: each split's shard files and their sample counts

KEY is the split and the image's place in it (`train-000000012`). The images of a split are in the seeded
order of their paths (a fixed shuffle: the same shards from the same table on every run), so that a
reader's shuffle buffer mixes classes. Images in formats timm's reader does not take (GIF, TIFF, BMP) are
re-encoded as RGB PNG, losslessly.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa

from curate.errors import BadImages
from curate.images.exports import check_exportable, image_suffix, whole_folder
from curate.images.rows import pillow, read_image_bytes
from curate.images.table import ImageTable
from curate.progress import Progress, no_progress
from curate.seeded import path_scores

INFO = "_info.json"  # where timm's WebDataset reader looks for the splits
READ_BY_TIMM = (".jpg", ".png", ".webp")  # timm's reader takes an image from KEY.jpg, KEY.png or KEY.webp


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> int:
    """Append the member `name` holding `data`, with no date or owner (the same bytes on every run); the offset
    of its data in the archive."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return tar.offset - info.size - (-info.size % tarfile.BLOCKSIZE)


def write_info(path: Path, name: str, shards: dict[str, list[tuple[str, int]]], **more) -> None:
    """timm's `_info.json`: for each split its shard files (relative to the folder) and their sample counts."""
    splits = {split: {"name": split, "filenames": [file for file, _ in files], "shard_lengths": [n for _, n in files],
                      "num_samples": sum(n for _, n in files)} for split, files in shards.items()}
    path.write_text(json.dumps({"name": name, **more, "splits": splits}, indent=1, sort_keys=True) + "\n")


def readable_image(data: bytes, path: str) -> tuple[bytes, str]:
    """The image's bytes and suffix as a shard holds them: its own, or re-encoded as PNG where timm would not read it."""
    suffix = image_suffix(data, path)
    if suffix in READ_BY_TIMM:
        return data, suffix
    with pillow().open(io.BytesIO(data)) as image:
        png = io.BytesIO()
        image.convert("RGB").save(png, "PNG")
    return png.getvalue(), ".png"


def seeded_order(paths: list[str], seed: int) -> list[int]:
    """The positions of `paths` in their seeded order."""
    scores = path_scores(pa.array(paths, pa.string()), seed).tolist()
    return sorted(range(len(paths)), key=lambda n: (scores[n], paths[n]))


def export_webdataset(table: ImageTable, folder: Path, *, shard_size: int = 1000, seed: int = 0,
                      progress: Progress = no_progress) -> dict[str, list[tuple[str, int]]]:
    """Write `table` as WebDataset shards of `shard_size` images at `folder`, which must not exist yet; the shards
    of each split (file name, images)."""
    if shard_size < 1:
        raise BadImages(f"`shard_size` must be 1 or more, not {shard_size}.")
    check_exportable(table)
    root = Path(table.root).absolute()
    columns = table.rows.select(["path", "archive", "offset", "size", "wnid", "split", "label", "label_wnid"]).to_pydict()
    advance = progress("Writing shards", len(table))
    shards: dict[str, list[tuple[str, int]]] = {}
    with whole_folder(folder) as building:
        for split in sorted(set(columns["split"])):
            rows = [n for n, row_split in enumerate(columns["split"]) if row_split == split]
            rows = [rows[n] for n in seeded_order([columns["path"][row] for row in rows], seed)]
            shards[split] = []
            for start in range(0, len(rows), shard_size):
                shard, chunk = f"{split}-{start // shard_size:06d}.tar", rows[start : start + shard_size]
                with tarfile.open(building / shard, "w") as tar:
                    for place, row in enumerate(chunk, start):
                        add_sample(tar, f"{split}-{place:09d}", {name: column[row] for name, column in columns.items()}, root)
                        advance()
                shards[split].append((shard, len(chunk)))
        write_info(building / INFO, Path(folder).name, shards, num_classes=int(table.metadata["label_count"]))
    return shards


def add_sample(tar: tarfile.TarFile, key: str, row: dict, root: Path) -> None:
    """KEY.<image>, KEY.cls and KEY.json of one table row."""
    data, suffix = readable_image(read_image_bytes(root, row["path"], row["archive"], row["offset"], row["size"]), row["path"])
    about = {name: row[name] for name in ("label", "label_wnid", "wnid", "path", "split")}
    add_member(tar, key + suffix, data)
    add_member(tar, key + ".cls", str(row["label"]).encode())
    add_member(tar, key + ".json", json.dumps(about, sort_keys=True).encode())
