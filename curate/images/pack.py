"""Pack an image index into a store: every image decoded once, resized, and written where training reads it
fast, for every label set and subset of that index.

Two formats:
- jpeg: re-encoded JPEG at short side SIZE (never enlarged) and quality Q, in tar shards (shards/*.tar) that
        are WebDataset shards too: each image KEY.jpg beside KEY.cls, its class's number among the index's
        classes in wnid order (the ILSVRC-2012 label, for an index of the 1000 classes), with timm's
        _info.json beside shards/ (its `classes` lists them);
- raw:  uint8 pixels, short side SIZE then the central SIZE x SIZE, in one memory-mappable array
        (pixels.npy, shape (rows, SIZE, SIZE, 3)).
The store's own index (index.parquet, the usual image-index schema) keeps each image's original `path`,
`wnid` and `split`, so subsets and label sets made on the source index select the same images from it, and
points each row into the store (`archive`, `offset`, `size`). It is written last: a folder without it is a
store still being packed, and running the same pack again goes on where it stopped (each finished part of
CHUNK rows is recorded in .parts/). Images that do not decode are left out and reported, never silently.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.claims import Held, take
from curate.errors import BadImages
from curate.fileio import atomic_path, check_folder_writable, make_folder
from curate.images.exports.webdataset import INFO, add_member, write_info
from curate.images.index import ImageIndex
from curate.images.rows import IMAGES, open_image, pillow, read_image_bytes
from curate.images.store import INDEX, PARTS, PIXELS, SETTINGS, SHARDS, ImageStore, span_digest
from curate.progress import Progress, no_progress
from curate.wording import amount_of_bytes, plural
from curate.workers import WorkerDied, in_processes

FORMATS = ("jpeg", "raw")
SMALLEST = 16  # px: below this no network curate trains learns much (downsampled ImageNet starts at 16)
LARGEST = 4096  # px: past this a part of CHUNK images takes over 50 GB (and no ImageNet recipe trains that large)
DEFAULT_QUALITY = 90
CLAIM = ".packing.claim"  # held by the process packing the folder, with its pid
CHUNK = 1024  # rows a worker packs at a time: one part, one shard
# Pillow's Hamming filter: as fast as its bilinear one, half the cost of Lanczos, and 43 dB PSNR (SSIM 0.994) from
# Lanczos on photographs at 224-256 px (bench/RESULTS.md, issue 26). Recorded in the settings: a pack begun with
# another filter is not gone on with.
FILTER = "Hamming"
WORKER_MODULES = ("PIL.Image", "PIL.JpegImagePlugin")  # imported once, by the process the workers are forked from


@dataclass
class PackReport:
    packed: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # path -> why it could not be packed
    resumed_parts: int = 0  # parts an earlier, interrupted run had finished


def resize_rule(fmt: str, size: int, quality: int) -> str:
    if fmt == "jpeg":
        return f"short side to {size} px (never enlarged), {FILTER} after JPEG DCT scaling; JPEG quality {quality}"
    return f"short side to {size} px, then the central {size}x{size}; {FILTER} after JPEG DCT scaling"


def pack(index: ImageIndex, out: Path, *, fmt: str, size: int, quality: int | None = None, workers: int | None = None,
         overwrite: bool = False, progress: Progress = no_progress) -> tuple[ImageStore, PackReport]:
    """Pack `index` into the store folder `out`; return the store (its index is out/index.parquet) and what
    was packed and what failed. An unfinished pack of the same index and settings goes on; a folder another
    process is packing is refused. `quality` is the jpeg format's (default DEFAULT_QUALITY).

    The workers are forkserver processes, which import the calling script's main module: a script that calls
    this needs the `if __name__ == "__main__":` guard, as multiprocessing asks."""
    check_settings(fmt, size, quality, workers)
    quality = quality or DEFAULT_QUALITY
    pillow()
    out = Path(out)
    if fmt == "raw":
        check_room(out, len(index) * size * size * 3, f"A raw store of {plural(len(index), 'image')} at {size} px")
    processes = max(1, min(workers or os.cpu_count() or 1, -(-len(index) // CHUNK)))
    check_memory(processes, min(CHUNK, len(index)), size)
    settings = {"format": fmt, "size": size, "quality": quality if fmt == "jpeg" else None,
                "source_hash": index.content_hash, "rows": len(index), "chunk": CHUNK, "cls": fmt == "jpeg",
                "spans": True, "filter": FILTER}  # an unfinished pack from before either is not gone on with
    with claimed(out):
        prepare_folder(out, settings, overwrite)
        if fmt == "raw" and not (out / PIXELS).exists():
            allocate_pixels(out / PIXELS, len(index), size)
        report = PackReport()
        done = {int(part.stem) for part in (out / PARTS).glob("*.json")}
        report.resumed_parts = len(done)
        chunks = [start for start in range(0, len(index), CHUNK) if start // CHUNK not in done]
        columns = index.rows.select(["path", "archive", "offset", "size"]).to_pydict()
        columns["cls"] = pc.index_in(index.rows["wnid"], value_set=pa.array(list(index.class_counts()), pa.string())).to_pylist()
        advance = progress("Packing images", len(index))
        advance(len(index) - sum(min(CHUNK, len(index) - start) for start in chunks))
        jobs = [(index.root, {k: v[start : start + CHUNK] for k, v in columns.items()}, start, CHUNK, fmt, size, quality, str(out))
                for start in chunks]
        # Forkserver workers start clean (forked from a server that has only imported modules, not from this process
        # and its threads); one pool packs every part. On an interrupt the parts in flight are dropped (each worker
        # removes its half-written shard) and packed again by the next run.
        try:
            for _, rows in in_processes(pack_part, jobs, max(1, min(processes, len(jobs))), preload=WORKER_MODULES):
                advance(len(rows))
        except WorkerDied as error:
            raise BadImages(f"{error} The parts packed before are kept: the same command goes on from them.") from None
        return finish(index, out, settings, report)


def check_settings(fmt: str, size: int, quality: int | None, workers: int | None) -> None:
    if fmt not in FORMATS:
        raise BadImages(f"`fmt` must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    if size < SMALLEST:
        raise BadImages(f"`size` is {size} px, too small to train on: give {SMALLEST} or more (32 and 64 are the "
                        "downsampled-ImageNet sizes).")
    if size > LARGEST:
        raise BadImages(f"`size` is {size:,} px, larger than a store holds: give {LARGEST:,} or less.")
    if quality is not None and fmt != "jpeg":
        raise BadImages(f"`quality` applies to jpeg stores; a {fmt} store keeps pixels, not JPEGs: leave it out.")
    if quality is not None and not 1 <= quality <= 100:
        raise BadImages(f"`quality` must be 1 to 100, not {quality}.")
    if workers is not None and workers < 1:
        raise BadImages(f"`workers` must be 1 or more, not {workers}.")


def check_memory(processes: int, rows: int, size: int) -> None:
    """Refuse, before any work, a pack whose workers would not fit in the memory available: each holds a
    part of `rows` images at `size` px, and one image being resized (at most twice as long as wide)."""
    each = (rows + 2) * size * size * 3
    available = available_memory()
    if available is not None and processes * each > available:
        fewer = "fewer `workers` or " if processes > 1 else ""
        raise BadImages(f"Packing at {size:,} px takes {amount_of_bytes(processes * each)} of memory "
                        f"({plural(processes, 'worker')}, {amount_of_bytes(each)} each), more than the "
                        f"{amount_of_bytes(available)} available: give {fewer}a smaller `size`.")


def available_memory() -> int | None:
    """Bytes of memory available to new work (MemAvailable: free plus reclaimable caches), or None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            kilobytes = next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable:"))
        return kilobytes * 1024
    except (OSError, StopIteration, ValueError):
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            return None


@contextmanager
def claimed(out: Path):
    """Hold `out` for this process while packing into it: a claim file inside, locked (an exclusive lock the
    system drops when its holder dies, so a pack killed mid-way leaves nothing that stops the next one) and
    holding its pid, removed at the end. A folder claimed by a live process is refused."""
    if out.exists() and not out.is_dir():
        raise BadImages(f"{out} is a file: a store is a folder.")
    check_folder_writable(out, "a store")
    made = not out.exists()
    make_folder(out)
    claim = out / CLAIM
    try:
        try:
            descriptor = take(claim)
        except Held as held:
            raise BadImages(f"{out} is being packed by another process"
                            + (f" (pid {held.holder})." if held.holder else ".")) from None
        try:
            yield
        finally:
            claim.unlink(missing_ok=True)
            os.close(descriptor)
    finally:
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # refused before anything was written: nothing left


def prepare_folder(out: Path, settings: dict, overwrite: bool) -> None:
    """Make the folder `out` (claimed) ready for packing: new, or an unfinished pack of the same settings to go on with. A
    finished store is replaced only with `overwrite`; a folder that is not a store is never touched."""
    store_files = [out / INDEX, out / SHARDS, out / PIXELS, out / PARTS, out / SETTINGS, out / INFO]
    others = sorted(p.name for p in out.iterdir() if p not in [*store_files, out / CLAIM])
    if others:
        raise BadImages(f"{out} holds files that are not a store's ({', '.join(others[:3])}): give a new or empty folder.")
    unfinished = (out / SETTINGS).is_file() and json.loads((out / SETTINGS).read_text()) == settings
    if (out / INDEX).exists() or ((out / SETTINGS).exists() and not unfinished):
        if not overwrite:
            what = "a store" if (out / INDEX).exists() else "a store being packed with other settings"
            raise BadImages(f"{out} already holds {what}: give `overwrite` to replace it, or another folder.")
        for path in store_files:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    make_folder(out / PARTS)
    with atomic_path(out / SETTINGS) as tmp:
        tmp.write_text(json.dumps(settings, sort_keys=True))


def check_room(out: Path, needed: int, what: str) -> None:
    """Refuse, before any work, a store that cannot fit on the disk that would hold `out` (its own pixel array,
    if one is there already, is counted as room: it is replaced or gone on with)."""
    existing = next(path for path in (out, *out.parents) if path.exists())
    if not existing.is_dir():
        return  # a file where the store's folder would be: `claimed` says so
    free = shutil.disk_usage(existing).free + ((out / PIXELS).stat().st_size if (out / PIXELS).is_file() else 0)
    if needed > free:
        raise BadImages(f"{what} takes {amount_of_bytes(needed)}, more than the {amount_of_bytes(free)} free on the disk "
                        f"of {existing.absolute()}: give a smaller `size`, or a folder on a larger disk.")


def allocate_pixels(path: Path, rows: int, size: int) -> None:
    import numpy as np

    with atomic_path(path) as tmp:
        np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(rows, size, size, 3)).flush()


def pack_part(job) -> list[str]:
    """One part of CHUNK rows, in a worker process: decode, resize, write (a tar shard, or rows of the pixel
    array), then record the part in .parts/ (last, so a part is either recorded whole or packed again)."""
    root, columns, start, chunk, fmt, size, quality, out = job
    out, Image = Path(out), pillow()
    packed, failed = [], {}
    images = []
    for n, row in enumerate(zip(columns["path"], columns["archive"], columns["offset"], columns["size"])):
        try:
            images.append((start + n, columns["cls"][n], shrink(Image, read_image_bytes(root, *row), fmt, size)))
        except Exception as error:  # unreadable, or Pillow's many kinds of damaged data
            failed[row[0]] = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    if fmt == "jpeg":
        shard = f"{SHARDS}/{start // chunk:06d}.tar"
        make_folder(out / SHARDS)
        with atomic_path(out / shard) as tmp, tarfile.open(tmp, "w") as tar:
            for slot, cls, image in images:
                data = io.BytesIO()
                image.save(data, "JPEG", quality=quality)
                jpeg = data.getvalue()
                packed.append([slot, shard, add_member(tar, f"{slot:09d}.jpg", jpeg), len(jpeg)])
                add_member(tar, f"{slot:09d}.cls", str(cls).encode())
        span = [shard, 0, (out / shard).stat().st_size]
    else:
        import numpy as np

        pixels = np.load(out / PIXELS, mmap_mode="r+")
        for slot, _, image in images:
            pixels[slot] = np.asarray(image, dtype=np.uint8)
            packed.append([slot, PIXELS, pixels.offset + slot * size * size * 3, size * size * 3])
        pixels.flush()
        span = [PIXELS, pixels.offset + start * size * size * 3, len(columns["path"]) * size * size * 3]
    with atomic_path(out / PARTS / f"{start // chunk:06d}.json") as tmp:
        tmp.write_text(json.dumps({"packed": packed, "failed": failed, "span": [*span, span_digest(out / span[0], *span[1:])]}))
    return columns["path"]


def shrink(Image, data: bytes, fmt: str, size: int, resample: str = FILTER):
    """The image of `data`, resized by the format's rule: decoded at the smallest JPEG DCT scale that keeps
    its short side at least `size`, then resampled with Pillow's filter `resample`; of a raw store's image,
    only the central square is resampled (the same pixels as resizing it whole and cropping, for less work)."""
    image, (width, height) = open_image(Image, data, short_side=size)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")  # palette, CMYK, 16-bit: resampled as RGB
    scale = size / min(width, height)
    if fmt == "jpeg" and scale >= 1:
        return as_rgb(image)
    target = (max(size, round(width * scale)), max(size, round(height * scale)))
    box = (0, 0, *image.size)
    if fmt == "raw":
        across, down = image.width / target[0], image.height / target[1]  # decoded px per target px
        left, top = (target[0] - size) // 2, (target[1] - size) // 2
        box, target = (left * across, top * down, (left + size) * across, (top + size) * down), (size, size)
    return as_rgb(image.resize(target, getattr(Image.Resampling, resample.upper()), box=box, reducing_gap=3.0))


def as_rgb(image):
    """`image` in RGB (a greyscale one is resampled first: a third of the work, the same pixels)."""
    return image if image.mode == "RGB" else image.convert("RGB")


def finish(index: ImageIndex, out: Path, settings: dict, report: PackReport) -> tuple[ImageStore, PackReport]:
    """Gather the parts into the store's index, write it (the store is then complete), remove the parts."""
    slot_of: dict[int, tuple[str, int, int]] = {}
    spans = []
    for part in sorted((out / PARTS).glob("*.json")):
        recorded = json.loads(part.read_text())
        spans.append(recorded["span"])
        slot_of.update({slot: (archive, offset, size) for slot, archive, offset, size in recorded["packed"]})
        report.failed.update(recorded["failed"])
    slots = sorted(slot_of)
    rows = index.rows.take(pa.array(slots, pa.int64())).select(["path", "wnid", "split"])
    rows = rows.append_column("size", pa.array([slot_of[s][2] for s in slots], pa.int64()))
    rows = rows.append_column("archive", pa.array([slot_of[s][0] for s in slots], pa.string()))
    rows = rows.append_column("offset", pa.array([slot_of[s][1] for s in slots], pa.int64()))
    if not len(rows):
        raise BadImages(f"None of the {plural(len(index), 'image')} of the index could be packed "
                        f"(for example {next(iter(report.failed))}: {next(iter(report.failed.values()))}).")
    report.packed = len(rows)
    metadata = {
        "root": ".", "layout": "store", "store_format": settings["format"], "store_size": str(settings["size"]),
        **({"store_quality": str(settings["quality"])} if settings["quality"] else {}),
        "store_resize": resize_rule(settings["format"], settings["size"], settings["quality"]),
        "source_hash": settings["source_hash"], "origin_hash": index.origin_hash,
        "report": json.dumps({"packed": report.packed, "failed": len(report.failed)}, sort_keys=True),
        "store_spans": json.dumps(sorted(spans + pixels_header_span(out))),
    }
    if settings["format"] == "jpeg":
        write_shard_info(out, rows, list(index.class_counts()))
    ImageIndex(rows.cast(IMAGES.schema), metadata).write(out / INDEX)
    shutil.rmtree(out / PARTS)
    (out / SETTINGS).unlink()
    return ImageStore.open(out), report


def pixels_header_span(out: Path) -> list[list]:
    """The span of pixels.npy's header, for a raw store (none for a jpeg one)."""
    if not (out / PIXELS).is_file():
        return []
    import numpy as np

    header = np.load(out / PIXELS, mmap_mode="r").offset
    return [[PIXELS, 0, header, span_digest(out / PIXELS, 0, header)]]


def write_shard_info(out: Path, rows: pa.Table, classes: list[str]) -> None:
    """timm's _info.json for a JPEG store's shards: one split, named as the index's rows name theirs (`all`
    where they name several), holding every shard, and the `classes` their KEY.cls numbers."""
    splits = pc.unique(rows["split"]).to_pylist()
    counts = pc.value_counts(rows["archive"])
    per_shard = dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()))
    with atomic_path(out / INFO) as tmp:
        write_info(tmp, out.name, {splits[0] if len(splits) == 1 else "all": sorted(per_shard.items())},
                   num_classes=len(classes), classes=classes)
