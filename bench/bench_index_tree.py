"""`curate images index` of a class-folder tree (ImageFolder's layout, ROOT/<wnid>/<image>.JPEG) against
torchvision's `ImageFolder(root)`, both as whole processes: each side's interpreter start and imports counted.

Run: .venv/bin/python bench/bench_index_tree.py [--per-class 3 1281] [--repeat 5] [--where /dev/shm]

For each --per-class count, builds a tree of the 1000 ILSVRC-2012 classes with that many files each (1281: the
size of ILSVRC-2012 train, 1,281,000 files), then runs each command in a fresh process, one of each per round
(a warm-up round, then --repeat rounds), and prints the median CPU-seconds (the process and its threads) and
wall seconds of each, and their ratios against torchvision's. The files are hard links to one 1-byte file per
class: made at 100k a second, they take no page each, and `--sizes` indexes them as it does real images (an
empty file it leaves out). Every command must count the same images, or the benchmark stops.

Also timed, to say where the time goes: curate's start-up (a tree of one image), torchvision's import alone,
and the limit, a listing that does nothing else: os.scandir of each class folder and a suffix check per name.
Compile the bytecode first (`uv sync --compile-bytecode`): with PYTHONDONTWRITEBYTECODE set and no .pyc files,
each process compiles its imports from source, and torch's take seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from curate.images.index import ImageIndex
from curate.labels.classlists import builtin_list

IMAGEFOLDER = "import sys, torchvision; print(len(torchvision.datasets.ImageFolder(sys.argv[1])))"
IMPORT_TORCHVISION = "import torchvision; print(0)"
SCANDIR_LIMIT = """import os, sys
suffixes = ('.jpeg', '.jpg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff', '.ppm', '.pgm', '.pbm')
count = 0
for folder in os.scandir(sys.argv[1]):
    with os.scandir(folder.path) as listing:
        count += sum(1 for entry in listing if entry.name.lower().endswith(suffixes))
print(count)"""


def make_tree(root: Path, wnids: list[str], per_class: int) -> None:
    """`per_class` files in each class folder: a 1-byte file and hard links to it."""
    root.mkdir()
    for wnid in wnids:
        folder = root / wnid
        folder.mkdir()
        first = str(folder / f"{wnid}_0.JPEG")
        fd = os.open(first, os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"\xff")
        os.close(fd)
        for number in range(1, per_class):
            os.link(first, f"{folder}/{wnid}_{number}.JPEG")


def run(command: list[str]) -> tuple[float, float, str]:
    """CPU-seconds (user + system, all threads) and wall seconds of a command in a fresh process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return cpu, wall, done.stdout


def commands(root: Path, one: Path, out: Path) -> dict[str, list[str]]:
    python = sys.executable
    index = [python, "-m", "curate", "images", "index", "-q", "-o", str(out)]
    return {
        "torchvision ImageFolder(root)": [python, "-c", IMAGEFOLDER, str(root)],
        "curate images index": [*index, str(root)],
        "curate images index --sizes": [*index, "--sizes", str(root)],
        "limit: scandir + suffix check": [python, "-c", SCANDIR_LIMIT, str(root)],
        "start-up: import torchvision": [python, "-c", IMPORT_TORCHVISION],
        "start-up: curate images index, 1 file": [*index, str(one)],
    }


def images_counted(name: str, stdout: str, out: Path) -> int | None:
    """How many images a command found: what it printed, or the rows of the index curate wrote."""
    if name.startswith("start-up"):
        return None
    return len(ImageIndex.read(out)) if name.startswith("curate") else int(stdout)


def measure(root: Path, one: Path, files: int, repeat: int) -> dict[str, tuple[list[float], list[float]]]:
    """Each command once per round, a warm-up round first; CPU and wall seconds per command."""
    out = root.parent / "index.parquet"
    runs = commands(root, one, out)
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in runs}
    for round in range(repeat + 1):
        for name, command in runs.items():
            cpu, wall, stdout = run(command)
            found = images_counted(name, stdout, out)
            if found is not None and found != files:
                sys.exit(f"{name} found {found:,} images of {files:,}")
            if round:
                times[name][0].append(cpu)
                times[name][1].append(wall)
    return times


def report(times: dict[str, tuple[list[float], list[float]]], baseline: str) -> None:
    base_cpu, base_wall = (statistics.median(t) for t in times[baseline])
    width = max(map(len, times))
    print(f"{'':{width}}  {'CPU-s':>7} {'(min-max)':>15}  {'wall s':>7} {'(min-max)':>15}  per CPU-s  per wall s")
    for name, (cpu, wall) in times.items():
        c, w = statistics.median(cpu), statistics.median(wall)
        print(f"{name:{width}}  {c:7.3f} ({min(cpu):6.3f}-{max(cpu):6.3f})  {w:7.3f} ({min(wall):6.3f}-{max(wall):6.3f})"
              f"  {base_cpu / c:8.2f}x  {base_wall / w:9.2f}x")


def bytecode_compiled() -> bool:
    """Whether torch's own modules have .pyc files beside them (imported from source, they take seconds longer)."""
    origin = importlib.util.find_spec("torch").origin
    return Path(importlib.util.cache_from_source(origin)).exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, nargs="+", default=[3, 1281])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--where", type=Path, default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None,
                        help="Build the trees in a new folder here (default: /dev/shm, a tmpfs, where there is one).")
    args = parser.parse_args()
    if not bytecode_compiled():
        print("warning: torch has no .pyc files: every process compiles its imports (uv sync --compile-bytecode)\n")
    wnids = list(builtin_list("ilsvrc2012").wnids)
    print(f"{os.cpu_count()} cores; warm page cache; median of {args.repeat} interleaved rounds after a warm-up round")
    folder = Path(tempfile.mkdtemp(prefix="bench-index-tree-", dir=args.where))
    try:
        one = folder / "one"
        make_tree(one, wnids[:1], 1)
        for per_class in args.per_class:
            root = folder / f"tree-{per_class}"
            start = time.perf_counter()
            make_tree(root, wnids, per_class)
            files = per_class * len(wnids)
            print(f"\n== {files:,} files, {per_class} in each of {len(wnids)} class folders "
                  f"(made in {time.perf_counter() - start:.1f} s) ==")
            report(measure(root, one, files, args.repeat), "torchvision ImageFolder(root)")
            shutil.rmtree(root)
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
