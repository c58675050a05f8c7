"""Decode every image of an index (`--verify`): the ones that do not read or decode go to the report, and so
do those too large for Pillow to decode (a JPEG that a reduced DCT scale brings under its limit decodes)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from curate.images.report import IndexReport
from curate.images.rows import ImageTooLarge, open_image, pillow, read_image_bytes
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
            image, _ = open_image(Image, data)
            image.load()
        except ImageTooLarge:
            return "too_large"
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
        if verdict is not None:
            getattr(report, verdict).append(path)
    return table.filter(pa.array([verdict is None for verdict in verdicts]))
