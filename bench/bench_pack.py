"""Packing at the decode limit: `curate images pack` images per CPU-second against decoding alone, and the
resize it uses against Lanczos, by speed and by image quality.

    uv run --extra train --with scikit-image python bench/bench_pack.py [--images 2048] [--distinct 128]
        [--repeats 3] [-j 2] [--before DIR]

scikit-image (for this benchmark only, never a dependency of curate) gives real photographs and SSIM.

1. Content: two sets of --images JPEGs of ImageNet-like size (500x375, quality 90), --distinct of them drawn and
   copied to make up the count: "synthetic" (bench_train.make_jpegs: smooth colour fields, noise and a block)
   and "photos" (random crops, scales and mirror images of twelve of scikit-image's sample photographs, in RGB).
2. Resize, per image on one core in this process, on each set's distinct images, at the three targets of
   issue 26: jpeg256 (short side 256), raw224 and raw64 (the central square). Decode-only = PIL open + draft
   (JPEG DCT scaling, where the target allows) + load; every row pays it, and a row's resize is its CPU time
   beyond it, as a fraction of it (median of --repeats interleaved passes). Quality: PSNR and SSIM (mean and
   worst image) against the reference, Lanczos from a full decode (no DCT scaling), uint8; for jpeg256 also
   after the quality-90 encode the store applies, beside what that encode alone loses from the reference.
3. Pack: the `curate images pack` command whole (its own process, its forkserver and workers, start-up
   included; counted by making this process the subreaper of its orphans), images per CPU-second, against
   decode-only of the same files in this process on one core, interleaved, median of --repeats. The same
   command on a 16-image index gives its fixed cost, and the per-image ratio once that is amortised (at
   ImageNet size it is). With --before DIR (curate's code before this change: `mkdir DIR && git archive
   main curate | tar -x -C DIR`), that code's pack is timed too, interleaved.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_train import WNIDS, make_jpegs
from common import interleaved_runs
from PIL import Image

TARGETS = [("jpeg", 256), ("raw", 224), ("raw", 64)]
PHOTOS = ("astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "grass.png", "gravel.png",
          "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg")
SMALL = 16  # images of the index whose pack gives the command's fixed cost
PR_SET_CHILD_SUBREAPER = 36


def draw_photos(root: Path, count: int, seed: int = 0) -> None:
    """root/train/<wnid>/<wnid>_<n>.JPEG: 500x375 crops of scikit-image's photographs at random scales
    (1 to 1.5 times the scale that covers 500x375), half of them mirrored, quality 90."""
    from skimage import data

    photos = [Image.open(Path(data.__file__).parent / name).convert("RGB") for name in PHOTOS]
    rng = np.random.default_rng(seed)
    for n in range(count):
        photo = photos[n % len(photos)]
        scale = max(500 / photo.width, 375 / photo.height) * rng.uniform(1.0, 1.5)
        width, height = round(photo.width * scale), round(photo.height * scale)
        left, top = int(rng.integers(0, width - 500 + 1)), int(rng.integers(0, height - 375 + 1))
        image = photo.resize((width, height), Image.Resampling.LANCZOS).crop((left, top, left + 500, top + 375))
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        folder = root / "train" / WNIDS[n % len(WNIDS)]
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{folder.name}_{n}.JPEG", quality=90)


def content(root: Path, kind: str, images: int, distinct: int) -> tuple[Path, list[bytes]]:
    """Draw `distinct` JPEGs of `kind`, copy them up to `images` files, index them; the index and the
    distinct images' bytes."""
    from curate.images.index import ImageIndex

    (make_jpegs if kind == "synthetic" else draw_photos)(root, distinct)
    drawn = sorted((root / "train").rglob("*.JPEG"))
    for n in range(images - distinct):
        source = drawn[n % distinct]
        shutil.copyfile(source, source.with_name(f"{source.stem}_copy{n}.JPEG"))
    index = ImageIndex.build(root / "train", split="train")
    index.write(root / "index.parquet")
    index.subset(per_class=SMALL // len(WNIDS), seed=0).write(root / "small.parquet")
    return root / "index.parquet", [path.read_bytes() for path in drawn]


def target_size(width: int, height: int, size: int) -> tuple[int, int]:
    scale = size / min(width, height)
    return max(size, round(width * scale)), max(size, round(height * scale))


def central(image, fmt: str, size: int):
    if fmt == "jpeg":
        return image
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return image.crop((left, top, left + size, top + size))


def decode_only(data: bytes, fmt: str, size: int):
    """PIL open + draft + load: what every way of packing pays."""
    image = Image.open(io.BytesIO(data))
    if size < min(image.size):
        image.draft("RGB", target_size(*image.size, size))
    image.load()
    return image


def reference(data: bytes, fmt: str, size: int):
    """Lanczos from a full decode (no DCT scaling, no reducing gap)."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return central(image.resize(target_size(*image.size, size), Image.Resampling.LANCZOS), fmt, size)


def lanczos_before(data: bytes, fmt: str, size: int):
    """The rule before issue 26: decoded with DCT scaling, converted to RGB, Lanczos with reducing gap 3, cropped."""
    width, height = Image.open(io.BytesIO(data)).size
    image = decode_only(data, fmt, size).convert("RGB")
    return central(image.resize(target_size(width, height, size), Image.Resampling.LANCZOS, reducing_gap=3.0), fmt, size)


def full_decode_reduced(resample: str):
    """Without DCT scaling: a full decode, Image.reduce by the whole factor (reducing_gap=1), then `resample`."""
    def shrink(data: bytes, fmt: str, size: int):
        image = Image.open(io.BytesIO(data)).convert("RGB")
        filter = getattr(Image.Resampling, resample.upper())
        return central(image.resize(target_size(*image.size, size), filter, reducing_gap=1.0), fmt, size)
    return shrink


def torchvision_resize(interpolation: str):
    """torchvision's antialiased resize of the uint8 tensor (decoded with DCT scaling), then cropped."""
    import torchvision.transforms.v2.functional as F

    mode = getattr(F.InterpolationMode, interpolation.upper())

    def shrink(data: bytes, fmt: str, size: int):
        width, height = Image.open(io.BytesIO(data)).size
        pixels = torch.from_numpy(np.array(decode_only(data, fmt, size).convert("RGB"))).permute(2, 0, 1)
        width, height = target_size(width, height, size)
        resized = F.resize(pixels, [height, width], interpolation=mode, antialias=True)
        return central(Image.fromarray(resized.permute(1, 2, 0).contiguous().numpy()), fmt, size)
    return shrink


def curate_rule(resample: str):
    from curate.images.pack import shrink

    return lambda data, fmt, size: shrink(Image, data, fmt, size, resample)


def candidates() -> dict:
    from curate.images.pack import FILTER

    return {
        "decode-only (open + draft + load)": decode_only,
        "Lanczos, before (convert, reducing_gap 3)": lanczos_before,
        f"{FILTER}, curate now": curate_rule(FILTER),
        **{f"{name} (curate's rule)": curate_rule(name) for name in ("Box", "Bilinear", "Bicubic", "Lanczos") if name != FILTER},
        "full decode, reduce, Hamming (reducing_gap 1)": full_decode_reduced("Hamming"),
        "torchvision bilinear, antialias, uint8": torchvision_resize("bilinear"),
        "torchvision bicubic, antialias, uint8": torchvision_resize("bicubic"),
    }


def jpeg_round_trip(image) -> np.ndarray:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return np.asarray(Image.open(buffer).convert("RGB"))


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    error = np.mean((reference.astype(np.float64) - image) ** 2)
    return 10 * np.log10(255**2 / error) if error else float("inf")


def quality(references: list[np.ndarray], images: list) -> str:
    from skimage.metrics import structural_similarity

    pixels = [np.asarray(image) for image in images]
    psnrs = [psnr(r, p) for r, p in zip(references, pixels)]
    ssims = [structural_similarity(r, p, channel_axis=2, data_range=255) for r, p in zip(references, pixels)]
    return (f"PSNR {statistics.mean(psnrs):5.1f} dB (worst {min(psnrs):5.1f})  "
            f"SSIM {statistics.mean(ssims):.4f} (worst {min(ssims):.4f})")


def resize_table(kind: str, sources: list[bytes], repeats: int) -> None:
    """Per image, on one core: each candidate's CPU time beyond decode-only, and its quality."""
    rules = candidates()
    for fmt, size in TARGETS:
        works = {name: (lambda rule=rule: [rule(data, fmt, size) for data in sources]) for name, rule in rules.items()}
        times = dict(interleaved_runs(works, repeat=repeats, cpu=True))
        decode = statistics.median(times["decode-only (open + draft + load)"]) / len(sources)
        references = [np.asarray(reference(data, fmt, size)) for data in sources]
        print(f"\n{kind}, {fmt}{size}: {len(sources)} images; decode-only {decode * 1000:.2f} ms an image")
        if fmt == "jpeg":
            alone = statistics.mean(psnr(r, jpeg_round_trip(Image.fromarray(r))) for r in references)
            print(f"  (the quality-90 encode alone, of the reference: PSNR {alone:.1f} dB)")
        for name, rule in list(rules.items())[1:]:
            each = statistics.median(times[name]) / len(sources)
            images = [rule(data, fmt, size) for data in sources]
            encoded = ""
            if fmt == "jpeg":
                trips = [jpeg_round_trip(image) for image in images]
                encoded = f"  after the encode: PSNR {statistics.mean(psnr(r, t) for r, t in zip(references, trips)):5.1f} dB"
            print(f"  {name:46s} resize {(each - decode) * 1000:5.2f} ms = {(each - decode) / decode:4.2f} of decode-only"
                  f"  {quality(references, images)}{encoded}")


def command_cpu_seconds(argv: list[str], env: dict) -> float:
    """CPU seconds of a command and every process it starts (its forkserver and workers too, which outlive
    it briefly: this process is their subreaper, and reaps them)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def pack_command(index: Path, out: Path, fmt: str, size: int, workers: int, code: Path | None):
    env = {**os.environ, **({"PYTHONPATH": str(code)} if code else {})}
    argv = [str(Path(sys.executable).with_name("curate")), "images", "pack", str(index),  # as a user runs it
            "-f", fmt, "--size", str(size), "-j", str(workers), "-o", str(out), "--overwrite", "-q"]
    return lambda: command_cpu_seconds(argv, env)


def decode_files(paths: list[Path], fmt: str, size: int):
    return lambda: [decode_only(path.read_bytes(), fmt, size) for path in paths]


def pack_table(kind: str, root: Path, index: Path, args) -> None:
    """Images per CPU-second: the pack command whole against decode-only on one core, interleaved."""
    paths = sorted((root / "train").rglob("*.JPEG"))
    for fmt, size in TARGETS:
        packs = {"curate now": index, "curate now, 16 images": root / "small.parquet"}
        if args.before:
            packs |= {"before": index, "before, 16 images": root / "small.parquet"}
        runs = {name: pack_command(source, root / "store", fmt, size, args.workers, args.before if name.startswith("before") else None)
                for name, source in packs.items()}
        cpu: dict[str, list[float]] = {name: [] for name in ["decode-only", *runs]}
        for _ in range(args.repeats):
            start = time.process_time()
            decode_files(paths, fmt, size)()
            cpu["decode-only"].append(time.process_time() - start)
            for name, run in runs.items():
                cpu[name].append(run())
        decode = statistics.median(cpu["decode-only"]) / len(paths)
        print(f"\n{kind}, {fmt}{size}: {len(paths)} images, -j {args.workers}; decode-only {1 / decode:6.1f} images/CPU-s "
              f"(min {len(paths) / max(cpu['decode-only']):.1f}, max {len(paths) / min(cpu['decode-only']):.1f})")
        for name in [n for n in runs if not n.endswith("16 images")]:
            whole, fixed = statistics.median(cpu[name]), statistics.median(cpu[f"{name}, 16 images"])
            per_image = (whole - fixed) / (len(paths) - SMALL)
            print(f"  pack, {name:10s} {len(paths) / whole:6.1f} images/CPU-s = {decode * len(paths) / whole:4.2f} of decode-only "
                  f"(min {len(paths) / max(cpu[name]):.1f}, max {len(paths) / min(cpu[name]):.1f}, n={args.repeats}); "
                  f"fixed {fixed:.2f} CPU-s; past it {1 / per_image:6.1f} images/CPU-s = {decode / per_image:4.2f} of decode-only")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--distinct", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-j", "--workers", type=int, default=2)
    parser.add_argument("--before", type=Path, help="a checkout of curate before this change, to pack with too")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1)
    import PIL

    print(f"Pillow {PIL.__version__}, torch {torch.__version__}, {os.cpu_count()} cores; "
          f"{args.images} JPEGs a set ({args.distinct} distinct), 500x375, quality 90")
    with tempfile.TemporaryDirectory(prefix="bench-pack-") as tmp:
        sets = {kind: content(Path(tmp) / kind, kind, args.images, args.distinct) for kind in ("synthetic", "photos")}
        print("\nResize, per image on one core (CPU time beyond decode-only; quality against Lanczos from a full decode):")
        for kind, (_, sources) in sets.items():
            resize_table(kind, sources, args.repeats)
        print("\nPack, the whole command (every process, start-up included), against decode-only on one core:")
        for kind, (index, _) in sets.items():
            pack_table(kind, Path(tmp) / kind, index, args)


if __name__ == "__main__":
    main()
