"""Reading every image of Hugging Face Parquet shards in index order, as `curate images pack` and `--verify`
do: curate's row reader (a few row groups kept per thread) against reading the row's group for each image
(the reader before issue 15's last change), in the same run.

The shards are synthetic but shaped as `ILSVRC/imagenet-1k` train shards: 4,358 rows each, row groups of
100 rows (what `datasets` writes for images), --kb kilobytes of incompressible bytes per image. Rows are read
in index order, which sorts paths as text (`<shard>/0`, `/1`, `/10`, `/100`, `/1000`, `/1001`, ...).

    uv run python bench/bench_hf_rows.py --shards 2 --kb 20
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common import interleaved_runs, report

from curate.images.rows import open_shard, row_group_images, shard_image

ROWS, GROUP = 4358, 100


def write_shards(folder: Path, shards: int, kb: int) -> list[Path]:
    paths = []
    for n in range(shards):
        images = [{"bytes": os.urandom(kb * 1024), "path": None} for _ in range(ROWS)]
        path = folder / f"train-{n:05d}-of-{shards:05d}.parquet"
        pq.write_table(pa.table({"image": images, "label": [0] * ROWS}), path, row_group_size=GROUP)
        paths.append(path)
    return paths


def in_index_order(shards: list[Path]) -> list[tuple[Path, int]]:
    return sorted(((shard, row) for shard in shards for row in range(ROWS)), key=lambda item: f"{item[0].name}/{item[1]}")


def one_group_per_image(rows: list[tuple[Path, int]]) -> int:
    files = {shard: pq.ParquetFile(shard) for shard in dict.fromkeys(shard for shard, _ in rows)}
    images = (files[shard].read_row_group(row // GROUP, columns=["image"]).column(0)[row % GROUP] for shard, row in rows)
    return sum(len(image["bytes"].as_py()) for image in images)


def curate_reader(rows: list[tuple[Path, int]]) -> int:
    open_shard.cache_clear()
    row_group_images.cache_clear()
    return sum(len(shard_image(shard, row)) for shard, row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--kb", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = in_index_order(write_shards(Path(folder), args.shards, args.kb))
        assert one_group_per_image(rows) == curate_reader(rows) == len(rows) * args.kb * 1024
        print(f"{len(rows):,} rows in {args.shards} shards, row groups of {GROUP}, {args.kb} KB an image")
        report(interleaved_runs({
            "one row group read per image": lambda: one_group_per_image(rows),
            "curate: shard_image (groups kept)": lambda: curate_reader(rows),
        }, args.repeat), baseline="one row group read per image")


if __name__ == "__main__":
    main()
