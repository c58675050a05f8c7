"""Decode every image of an index (`--verify`): the ones that do not read or decode go to the report."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from curate.images.report import IndexReport
from curate.images.rows import pillow, read_image_bytes
from curate.progress import Progress


def verify_images(root: Path, table: pa.Table, report: IndexReport, progress: Progress) -> pa.Table:
    """Decode every image of `table`; drop the ones that do not read or decode, and report them."""
    Image = pillow()

    columns = table.select(["path", "archive", "offset", "size"]).to_pydict()
    rows = list(zip(columns["path"], columns["archive"], columns["offset"], columns["size"]))

    def check(row) -> str | None:
        try:
            data = read_image_bytes(root, *row)
        except OSError:
            return "unreadable"
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
        except Exception:  # Pillow raises many kinds for damaged data: any of them means broken
            return "broken"
        return None

    advance = progress("Decoding images", len(rows))
    verdicts: list[str | None] = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Pillow decodes without the GIL
        for start in range(0, len(rows), 256):
            verdicts.extend(pool.map(check, rows[start : start + 256]))
            advance(len(rows[start : start + 256]))
    for (path, *_), verdict in zip(rows, verdicts):
        if verdict == "unreadable":
            report.unreadable.append(path)
        elif verdict == "broken":
            report.broken.append(path)
    return table.filter(pa.array([verdict is None for verdict in verdicts]))
