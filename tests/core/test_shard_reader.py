"""Reading one image's bytes from a row of a Parquet shard, as verify, pack and training do."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq

from curate.images.rows import shard_image


def test_threads_read_one_shard_at_once(tmp_path):
    images = [bytes([row % 256]) * (500 + row) for row in range(2000)]
    shard = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(pa.table({"image": [{"bytes": data, "path": None} for data in images], "label": [0] * 2000}),
                   shard, row_group_size=20)
    with ThreadPoolExecutor(max_workers=16) as pool:  # verify reads so: one ParquetFile shared by threads crashes
        assert list(pool.map(lambda row: shard_image(shard, row), [*range(2000)] * 2)) == images * 2


def test_rows_in_index_order_read_each_row_group_once(tmp_path, monkeypatch):
    images = [bytes([row % 256]) * (10 + row) for row in range(4358)]  # a Hugging Face imagenet-1k train shard's rows
    shard = tmp_path / "train-00001-of-00002.parquet"
    pq.write_table(pa.table({"image": [{"bytes": data, "path": None} for data in images], "label": [0] * 4358}),
                   shard, row_group_size=100)
    reads = []
    read_row_group = pq.ParquetFile.read_row_group
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda self, group, **kw: reads.append(group) or
                        read_row_group(self, group, **kw))
    in_index_order = sorted(range(4358), key=lambda row: f"{shard.name}/{row}")  # paths sort as text
    assert [shard_image(shard, row) for row in in_index_order] == [images[row] for row in in_index_order]
    assert sorted(reads) == list(range(44))
