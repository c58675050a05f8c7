"""Decode once, train many: training input from packed stores against torchvision's ImageFolder + DataLoader
on the original JPEGs, in the same run, on the same images; and each store against its limit.

    .venv/bin/python bench/bench_store.py [--images 512] [--crop 64] [-b 64] [-j 2] [--repeats 5]
    .venv/bin/python bench/bench_store.py --crop 224 --stores jpeg256,raw224 [--profile]
    uv run --extra train --with scikit-image python bench/bench_store.py --photos ...   (real photographs)

1. Draws `--images` JPEGs of ImageNet-like size (500x375, quality 90): bench_train.py's smooth random colour
   fields with shapes, or with --photos crops of the colour photographs in scikit-image's data (astronaut,
   coffee, chelsea, ...). Indexes them with curate and packs them as `--stores` (default a JPEG store at
   short side 160, quality 90, and raw stores at 64 and 112 px). Packing is timed end to end (images per
   second with -j processes, their start-up included) and per core (one image's decode, resize and encode,
   in this process).
2. Pipelines make the same batches (batch size, random-resized crop of --crop px, flip, normalised, on the CPU
   here; each store also without the normalisation, as a GPU run would get it): baseline = torchvision
   ImageFolder with PIL, ToTensor, Normalize in the workers (the torchvision reference); train/ on the
   originals; train/ on each JPEG store (decoded in the workers); each raw store read in batches and cropped
   on the "device" (the CPU here; counted), and its host side alone (the reads: what a GPU run's host does).
   Beside each store its limit: for a JPEG store, decoding its JPEGs on one core (PIL open + draft + decode,
   nothing else); for a raw store, a numpy memmap read + copy of the same batches' bytes. One warm-up pass
   each, then --repeats passes interleaved; median images per wall-clock second and per CPU-second (all
   processes: what a GPU machine's cores buy), the ratios against the baseline, and each store's fraction of
   its limit. This process runs one intra-op thread, as DataLoader's workers do.
3. --profile: where a store's batch goes, per image, in this process (CPU time, median of repeats).
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_train import baseline_loader, curate_table, make_jpegs
from common import interleaved_passes, timed_runs
from PIL import Image

warnings.filterwarnings("ignore", category=DeprecationWarning)

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "ihc.png", "retina.jpg",
          "motorcycle_left.png", "motorcycle_right.png"]


def make_photo_jpegs(root: Path, count: int, seed: int = 0) -> None:
    """root/train/<wnid>/<wnid>_<n>.JPEG as make_jpegs lays them out, each a random 4:3 crop (half the photo's
    width or more, mirrored at random) of one of scikit-image's colour photographs, resized to 500x375."""
    import skimage.data

    from bench_train import WNIDS

    photos = [Image.open(Path(skimage.data.__file__).parent / name).convert("RGB") for name in PHOTOS]
    rng = np.random.default_rng(seed)
    for n in range(count):
        photo = photos[n % len(photos)]
        width = int(rng.uniform(0.5, 1.0) * min(photo.width, photo.height * 4 / 3))
        height = width * 3 // 4
        left, top = int(rng.integers(0, photo.width - width + 1)), int(rng.integers(0, photo.height - height + 1))
        image = photo.resize((500, 375), Image.LANCZOS, box=(left, top, left + width, top + height))
        if rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        folder = root / "train" / WNIDS[n % len(WNIDS)]
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{WNIDS[n % len(WNIDS)]}_{n}.JPEG", quality=90)


def store_kinds(text: str) -> list[tuple[str, int]]:
    """"jpeg160,raw64" -> [("jpeg", 160), ("raw", 64)]."""
    kinds = [(name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")):])) for name in text.split(",")]
    if any(fmt not in ("jpeg", "raw") for fmt, _ in kinds):
        raise SystemExit(f"--stores {text}: each store is jpeg<size> or raw<size>, e.g. jpeg256,raw224.")
    return kinds


def pack_all(root: Path, workers: int, stores: list[tuple[str, int]]) -> dict[str, Path]:
    """Pack the index three ways; print each pack's throughput: end to end with `workers` processes (their
    start-up included), and per core, the decode + resize + encode of one image timed in this process."""
    from curate.images.index import ImageIndex
    from curate.images.pack import pack, shrink
    from curate.images.rows import pillow, read_image_bytes
    from curate.labels.manifest import read_labels

    index = ImageIndex.read(root / "index.parquet")
    sources = [read_image_bytes(index.root, row["path"], None, None, None) for row in index.rows.slice(0, 64).to_pylist()]
    tables = {}
    print("packing:")
    for fmt, size in stores:
        start = time.perf_counter()
        store, report = pack(index, root / f"{fmt}{size}", fmt=fmt, size=size, workers=workers)
        wall = time.perf_counter() - start
        per_core = timed_runs(lambda: [encoded(shrink(pillow(), data, fmt, size), fmt) for data in sources], repeat=3)
        disk = sum(p.stat().st_size for p in (root / f"{fmt}{size}").rglob("*") if p.is_file()) / len(store.index)
        print(f"  {fmt} {size:3d} px: {len(store.index) / wall:6.1f} images/s end to end with {workers} processes; "
              f"{len(sources) / statistics.median(per_core):6.1f} images/s per core; {disk / 1024:5.1f} KB per image on disk")
        store.index.label(read_labels(root / "labels.parquet")).write(root / f"{fmt}{size}-table.parquet")
        tables[f"{fmt}{size}"] = root / f"{fmt}{size}-table.parquet"
    return tables


def encoded(image, fmt: str):
    """What the packer writes of an image: JPEG bytes, or its pixels."""
    if fmt == "raw":
        return np.asarray(image)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def loaders(root: Path, tables: dict[str, Path], args) -> tuple[dict, dict[str, str]]:
    """The pipelines, name -> (loader, what is done to each batch), and each store row's limit row."""
    from train.config import PretrainConfig
    from train.data.loaders import to_device
    from train.data.tables import image_loader, load_table
    from train.distributed import Dist

    device = torch.device("cpu")
    run = Dist(0, 0, 1, device)
    config = PretrainConfig(batch_size=args.batch_size, workers=args.workers, train_crop_size=args.crop, min_scale=0.08)
    normalise = lambda x: to_device(x, device)  # noqa: E731 - counted for every train/ pipeline alike
    made = {"torchvision ImageFolder + DataLoader on the JPEGs (baseline)": (baseline_loader(root, args.batch_size, args.workers, args.crop), lambda x: x)}
    original = load_table(root / "table.parquet")
    made["train/ loader on the JPEGs"] = (image_loader(original, original.indices("train"), config, run, train=True), normalise)
    limits = {}
    for name, path in tables.items():
        table = load_table(path)
        how = "decoded in the workers" if name.startswith("jpeg") else "read in batches, cropped on the device"
        loader = image_loader(table, table.indices("train"), config, run, train=True)
        rows = [f"train/ loader on the {name} store ({how})", f"  {name}: the batch alone (what a GPU is sent; normalised there)"]
        made[rows[0]], made[rows[1]] = (loader, normalise), (loader, lambda x: x)
        if name.startswith("raw"):
            rows.append(f"  {name}: the host side alone (the reads a GPU run's host does; cropped on the GPU)")
            made[rows[-1]] = (HostSide(loader), lambda x: x)
            limit = f"  limit of {name}: numpy memmap read + copy of the same batches"
            made[limit] = (MemmapCopy(loader), lambda x: x)
        else:
            limit = f"  limit of {name}: PIL open + draft + decode of its JPEGs, one core"
            made[limit] = (DecodeOnly(table, table.indices("train"), args.batch_size, args.crop), lambda x: x)
        limits.update({row: limit for row in rows})
    return made, limits


class HostSide:
    """A raw store's batches of pixels as its loader reads them into its reused buffers, nothing done to them:
    on a GPU machine the host's whole share (the crops are drawn there in 2 us a sample; roi_align runs on
    the GPU)."""

    def __init__(self, loader):
        self.loader, self.sampler = loader, loader.sampler

    def __iter__(self):
        return ((pixels, None) for pixels, _ in self.loader.pixel_batches())


class MemmapCopy:
    """The raw store's limit: each batch of the loader's epoch copied out of the memory-mapped array into a
    preallocated array by one np.take, rows in the order the loader asks for them."""

    def __init__(self, loader):
        self.loader, self.sampler = loader, loader.sampler
        self.out = np.empty((loader.batch_size, loader.size, loader.size, 3), dtype=np.uint8)

    def __iter__(self):
        positions = np.fromiter(iter(self.sampler), dtype=np.int64, count=len(self.sampler))
        for start in range(0, len(positions), self.loader.batch_size):
            slots = self.loader.slots[positions[start : start + self.loader.batch_size]]
            yield np.take(self.loader.pixels, slots, axis=0, out=self.out[: len(slots)], mode="clip"), None


class DecodeOnly:
    """A JPEG store's limit: its stored JPEGs (read into memory once) decoded by PIL on one core, with draft
    mode asked for the crop size, a batch at a time, in a shuffled order; nothing else."""

    def __init__(self, table, rows: list[int], batch_size: int, crop: int):
        self.data = [bytes(table.read(row)) for row in rows]
        self.batch_size, self.crop, self.epoch = batch_size, crop, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self):
        return self

    def decoded(self, data: bytes):
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (self.crop, self.crop))
        image.load()
        return image

    def __iter__(self):
        order = np.random.default_rng(self.epoch).permutation(len(self.data))
        for start in range(0, len(order), self.batch_size):
            yield [self.decoded(self.data[i]) for i in order[start : start + self.batch_size]], None


def spread(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):8.1f} {unit}  (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"


def profile(tables: dict[str, Path], args) -> None:
    """Each step of one batch of every store, CPU microseconds an image, in this process (median of 5)."""
    from train.data.crops import batch_resized_crop, crop_boxes
    from train.data.loaders import decode, to_device, train_transform
    from train.data.stores import RawBatches
    from train.data.tables import load_table

    print(f"\nwhere a batch of {args.batch_size} goes, CPU us an image in this process (median of 5):")
    for name, path in tables.items():
        table = load_table(path)
        rows = table.indices("train")[: args.batch_size]
        steps = {}
        if name.startswith("jpeg"):
            data = [table.read(row) for row in rows]
            images = [decode(bytearray(d)) for d in data]
            crops = train_transform(args.crop).many(images, rows, 0)
            limit = DecodeOnly(table, rows, len(rows), args.crop)
            steps = {"read the bytes": lambda: [table.read(row) for row in rows],
                     "decode (TorchCodec)": lambda: [decode(bytearray(d)) for d in data],
                     "crop + resize + flip": lambda: train_transform(args.crop).many(images, rows, 0),
                     "stack into a batch": lambda: torch.stack(crops),
                     "normalise (to_device)": lambda: to_device(torch.stack(crops), torch.device("cpu")),
                     "  limit: PIL open + draft + decode": lambda: [limit.decoded(d) for d in limit.data]}
        else:
            loader = RawBatches(table, rows, table.labels[rows], batch_size=len(rows), train=True, device=torch.device("cpu"),
                                crop_size=args.crop)
            buffer = torch.empty((len(rows), table.store_size, table.store_size, 3), dtype=torch.uint8)
            positions = np.arange(len(rows))
            pixels = loader.read(positions, buffer, None).permute(0, 3, 1, 2)
            boxes, flips = crop_boxes(0, 0, rows, table.store_size, table.store_size)
            crops = batch_resized_crop(pixels, boxes, flips, args.crop)
            steps = {"read into the buffer (np.take)": lambda: loader.read(positions, buffer, None),
                     "draw the crops": lambda: crop_boxes(0, 0, rows, table.store_size, table.store_size),
                     "crop + resize + flip (CPU)": lambda: batch_resized_crop(pixels, boxes, flips, args.crop),
                     "normalise (to_device)": lambda: to_device(crops, torch.device("cpu"))}
        for step, work in steps.items():
            print(f"  {name:8s} {step:40s} {statistics.median(timed_runs(work, clock=time.process_time)) * 1e6 / len(rows):8.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--stores", default="jpeg160,raw64,raw112", help="the stores to pack and read: jpeg<size> or raw<size>, comma-separated")
    parser.add_argument("--photos", action="store_true", help="crops of scikit-image's photographs, not drawn fields (needs --with scikit-image)")
    parser.add_argument("--profile", action="store_true", help="also time each step of a store's batch, per image")
    parser.add_argument("-b", "--batch-size", type=int, default=64)
    parser.add_argument("-j", "--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    stores = store_kinds(args.stores)
    # One intra-op thread here, as DataLoader gives its workers: with the workers on every core, this process's
    # OpenMP threads only spin (measured: normalising a batch costs 5 us an image alone, 220 us beside them).
    torch.set_num_threads(1)
    from train.data.loaders import set_epoch

    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        root = Path(tmp)
        (make_photo_jpegs if args.photos else make_jpegs)(root, args.images)
        curate_table(root, root)
        content = "crops of scikit-image's photographs" if args.photos else "drawn colour fields (bench_train.make_jpegs)"
        print(f"{args.images} JPEGs, 500x375, quality 90, {content}; batch {args.batch_size}, {args.workers} workers, "
              f"crop {args.crop} px, torch {torch.__version__}, {torch.get_num_threads()} threads")
        tables = pack_all(root, args.workers, stores)
        runs, limits = loaders(root, tables, args)
        wall, per_cpu = interleaved_passes(runs, args.repeats, set_epoch)
        baseline = next(iter(runs))
        for title, table, unit in (("images per wall-clock second", wall, "images/s"), ("images per CPU-second (all processes)", per_cpu, "images/CPU-s")):
            print(f"\n{title}:")
            base = statistics.median(table[baseline])
            for name, values in table.items():
                print(f"  {name:80s} {spread(values, unit)}  {statistics.median(values) / base:5.2f}x")
        print("\neach store against its limit, per CPU-second:")
        for name, limit in limits.items():
            print(f"  {name.strip():80s} {statistics.median(per_cpu[name]) / statistics.median(per_cpu[limit]):6.1%} of its limit")
        if args.profile:
            profile(tables, args)


if __name__ == "__main__":
    main()
