"""Index a generated 1,281,167-line train_cls.txt, subset it to 500 images per class, and label the subset (and
the whole index) with the one-lift coarse label set (127 labels): curate against plain-Python code doing the same
work.

Run: uv run python bench/bench_images.py [--repeat 3]
Each step reads its input file and writes its output file, both ways, with the same Parquet options
(fileformat.PARQUET_OPTIONS); each baseline must produce rows with the same content hash as curate's, or the
benchmark stops. The two sides take turns (one warm-up round); prints median wall and CPU times (this process,
all its threads: curate's hash, Parquet decoding and writing use two) and the speed-ups by each.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from common import interleaved_clocks, report, summary, timed_runs

from curate.fileformat import PARQUET_OPTIONS, PREFIX, SCHEMA_VERSION, read_table, write_table
from curate.images.index import ImageIndex
from curate.images.layouts.file_list import LIST_SUFFIX
from curate.images.rows import IMAGE_SUFFIXES, IMAGES
from curate.images.subsets import sample_per_class
from curate.images.table import TABLE, join_labels
from curate.labels.classlists import builtin_list
from curate.labels.labelset import LabelSet
from curate.seeded import MASK, P
from curate.labels.manifest import read_labels, write_labels
from curate.labels.recipes import coarsen
from curate.wordnet.snapshot import load_hierarchy

IMAGE_COUNT = 1_281_167  # ILSVRC-2012 train
PER_CLASS = 500
SEED = 0


def class_sizes(wnids: list[str]) -> list[int]:
    """Between 732 and 1300 images per class, like ILSVRC-2012 train, summing to IMAGE_COUNT."""
    sizes = [732 if i % 100 == 0 else 1300 for i in range(len(wnids))]
    for k in range(sum(sizes) - IMAGE_COUNT):
        sizes[(k * 7919) % len(sizes) | 1] -= 1  # the odd-numbered classes lose about 26 each
    return sizes


def write_file_list(path: Path, wnids: list[str]) -> None:
    lines = []
    for wnid, size in zip(wnids, class_sizes(wnids)):
        names = sorted(f"{wnid}/{wnid}_{(j * 104729) % 99991 + j // 99991}" for j in range(size))
        lines += names
    path.write_text("".join(f"{name} {number}\n" for number, name in enumerate(lines, start=1)))
    assert len(lines) == IMAGE_COUNT


# --- the plain-Python baselines: lists, dicts, sorted(), hashlib; pyarrow only to read and write Parquet ------

def python_hash(names: list[str], rows: list[tuple]) -> str:
    """curate.fileformat.content_hash, one row at a time (it joins the cells and the newline with tabs)."""
    digest = hashlib.sha256(("\t".join(names) + "\n").encode())
    for row in rows:
        digest.update(("\t".join("\\N" if v is None else str(v) for v in row) + "\t\n").encode())
    return "sha256:" + digest.hexdigest()


def python_write(rows: list[tuple], schema: pa.Schema, path: Path, metadata: dict[str, str]) -> str:
    """Sort rows by their first column (path), hash them, write them as Parquet with curate's options."""
    rows.sort()
    digest = python_hash(schema.names, rows)
    columns = list(zip(*rows)) if rows else [[] for _ in schema.names]
    table = pa.table({n: pa.array(c, f.type) for n, c, f in zip(schema.names, columns, schema)}, schema=schema)
    stamped = {PREFIX + "schema_version": SCHEMA_VERSION, **{PREFIX + k: v for k, v in metadata.items()}, PREFIX + "content_hash": digest}
    pq.write_table(table.replace_schema_metadata(stamped), path, **PARQUET_OPTIONS)
    return digest


def python_read(path: Path) -> list[tuple]:
    columns = pq.read_table(path).to_pydict()
    return list(zip(*(columns[name] for name in IMAGES.schema.names)))


def python_index_rows(listing: Path) -> list[tuple]:
    lines = listing.read_text().splitlines()
    known = load_hierarchy().known_wnids({line.split("/", 1)[0] for line in lines})
    rows, seen = [], set()
    for line in lines:
        words = line.split()
        if not words:
            continue
        entry = words[0]
        wnid = entry.split("/", 1)[0] if "/" in entry else None
        if wnid not in known:
            continue
        if "." in entry.rsplit("/", 1)[-1]:
            if entry[entry.rindex(".") :].lower() not in IMAGE_SUFFIXES:
                continue
            path = entry
        else:
            path = entry + LIST_SUFFIX
        if path in seen:
            raise ValueError(f"{path} twice")
        seen.add(path)
        rows.append((path, wnid, "train", None, None, None))
    return rows


def score(path: str, seed: int) -> int:
    """curate.seeded.path_score, one path at a time in plain Python ints (the baseline's own code)."""
    def mix(x: int) -> int:
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
        return x ^ (x >> 31)

    h = 0
    for byte in reversed(path.encode()):  # Horner's rule for sum(byte[i] * P**i)
        h = (h * P + byte) & MASK
    return mix(h ^ mix(seed & MASK))


def python_subset_rows(rows: list[tuple]) -> list[tuple]:
    by_class: dict[str, list[tuple]] = {}
    for row in rows:
        by_class.setdefault(row[1], []).append(row)
    chosen = []
    for wnid in sorted(by_class):
        chosen += sorted(by_class[wnid], key=lambda row: (score(row[0], SEED), row[0]))[:PER_CLASS]
    return chosen


def python_apply_rows(labels: LabelSet, rows: list[tuple]) -> list[tuple]:
    number = labels.label_index
    label_of = {row.wnid: (number[row.label_wnid], row.label_wnid) for row in labels.kept}
    return [row + label_of[row[1]] for row in rows if row[1] in label_of]


ROOT = {"root": "/data/train"}


def python_index(listing: Path, out: Path) -> str:
    return python_write(python_index_rows(listing), IMAGES.schema, out, {"kind": "images", **ROOT})


def python_subset(index: Path, out: Path) -> str:
    return python_write(python_subset_rows(python_read(index)), IMAGES.schema, out, {"kind": "images", **ROOT})


def python_apply(labels_path: Path, index: Path, out: Path) -> str:
    rows = python_apply_rows(read_labels(labels_path), python_read(index))
    return python_write(rows, TABLE.schema, out, {"kind": "table", **ROOT})


# --- curate ------------------------------------------------------------------------------------------------


def curate_index(listing: Path, out: Path) -> str:
    return ImageIndex.build(Path(ROOT["root"]), file_list=listing).write(out)


def curate_subset(index: Path, out: Path) -> str:
    return ImageIndex.read(index).subset(per_class=PER_CLASS, seed=SEED).write(out)


def curate_apply(labels_path: Path, index: Path, out: Path) -> str:
    return ImageIndex.read(index).label(read_labels(labels_path)).write(out)


def compare(name: str, ours, baseline, repeat: int) -> tuple[float, float]:
    """The two interleaved; their wall seconds and CPU-seconds (this process, all threads), and curate's speed-up
    by each."""
    times = interleaved_clocks({f"plain Python: {name}": baseline, f"curate: {name}": ours}, repeat)
    for clock, which in (("wall", 0), ("CPU", 1)):
        rows = [(f"{label} ({clock})", runs[which]) for label, runs in times.items()]
        report(rows, rows[0][0])
    print()
    (base_wall, base_cpu), (wall, cpu) = (tuple(map(statistics.median, runs)) for runs in times.values())
    return base_wall / wall, base_cpu / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    wnids = list(builtin_list("ilsvrc2012").wnids)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        listing, labels = tmp / "train_cls.txt", tmp / "coarse-127.parquet"
        write_file_list(listing, wnids)
        write_labels(coarsen(load_hierarchy().tree(), builtin_list("ilsvrc2012"), lift=1), labels)
        steps = [
            (f"index {IMAGE_COUNT:,}-line file list", lambda: curate_index(listing, tmp / "index.parquet"),
             lambda: python_index(listing, tmp / "index-py.parquet")),
            (f"subset to {PER_CLASS} per class", lambda: curate_subset(tmp / "index.parquet", tmp / "subset.parquet"),
             lambda: python_subset(tmp / "index.parquet", tmp / "subset-py.parquet")),
            ("apply the 127-label set", lambda: curate_apply(labels, tmp / "subset.parquet", tmp / "table.parquet"),
             lambda: python_apply(labels, tmp / "subset.parquet", tmp / "table-py.parquet")),
            (f"apply the 127-label set to all {IMAGE_COUNT:,}", lambda: curate_apply(labels, tmp / "index.parquet", tmp / "all.parquet"),
             lambda: python_apply(labels, tmp / "index.parquet", tmp / "all-py.parquet")),
        ]
        print(f"{IMAGE_COUNT:,} images over {len(wnids)} classes; median of {args.repeat} runs after one warm-up run\n")
        print("== each step from its input file to its output file (Parquet read, validated, written) ==\n")
        speedups = []
        for name, ours, baseline in steps:
            assert ours() == baseline(), f"{name}: curate and the baseline disagree"
            speedups.append(compare(name, ours, baseline, args.repeat))

        print("== the same steps in memory: no Parquet read or write on either side ==\n")
        index = ImageIndex.read(tmp / "index.parquet")
        subset = ImageIndex.read(tmp / "subset.parquet").rows
        label_set = read_labels(labels)
        rows, subset_rows = python_read(tmp / "index.parquet"), python_read(tmp / "subset.parquet")
        assert sorted(python_subset_rows(rows)) == python_read(tmp / "subset.parquet")
        memory = [
            compare("index (parse the list)", lambda: ImageIndex.build(Path(ROOT["root"]), file_list=listing),
                    lambda: python_index_rows(listing), args.repeat),
            compare("subset (rank, take)", lambda: sample_per_class(index.rows, PER_CLASS, SEED),
                    lambda: python_subset_rows(rows), args.repeat),
            compare("apply (join)", lambda: join_labels(label_set, subset),
                    lambda: python_apply_rows(label_set, subset_rows), args.repeat),
            compare(f"apply (join), all {IMAGE_COUNT:,}", lambda: join_labels(label_set, index.rows),
                    lambda: python_apply_rows(label_set, rows), args.repeat),
        ]
        write = timed_runs(lambda: write_table(index.rows, tmp / "w.parquet", IMAGES, index.metadata), args.repeat)
        read = timed_runs(lambda: read_table(tmp / "index.parquet", IMAGES), args.repeat)
        print(f"curate.fileformat.write_table, {len(index):,}-row index (content hash, zstd, pages hash):{summary(write)}")
        print(f"curate.fileformat.read_table,  {len(index):,}-row index (read, check the pages hash):    {summary(read)}\n")
        print("speed-ups (wall, CPU), file to file: " +
              ", ".join(f"{name} {w:.1f}x, {c:.1f}x" for (name, *_), (w, c) in zip(steps, speedups)))
        print("speed-ups (wall, CPU), in memory:    " + ", ".join(f"{w:.1f}x, {c:.1f}x" for w, c in memory))


if __name__ == "__main__":
    main()
