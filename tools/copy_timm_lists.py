"""Copy the built-in class lists from the installed timm wheel into curate/data/, and record where they came from.

Each list of `curate.labels.classlists.BUILTIN_LISTS` is a byte-for-byte copy of its file in `timm/data/_info/`
(line i names label i of the checkpoints trained on it, so the order is kept), written to curate/data/NAME.txt.
curate/data/class-lists.tsv records the timm release, each file's timm name, its line count and sha256;
curate/data/TIMM-LICENSE.txt is timm's licence (Apache-2.0), as its wheel ships it. Every file is checked to be
one WordNet 3.0 noun synset per line, each once, before anything is written.

Run: uv run --extra train python tools/copy_timm_lists.py
Then review `git diff curate/data/` and commit; tests/core/test_class_numberings.py checks the copies against the
installed timm.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

import timm

from curate.fileio import atomic_path
from curate.labels.classlists import BUILTIN_LISTS, PROVENANCE, builtin_path, wnids_in_lines
from curate.wordnet.snapshot import load_hierarchy

INFO = Path(timm.__file__).parent / "data" / "_info"
LICENSE = PROVENANCE.parent / "TIMM-LICENSE.txt"


def checked(data: bytes, timm_file: str) -> int:
    """The number of wnids in one of timm's lists; raises unless each line is a WordNet 3.0 noun, each once."""
    wnids = wnids_in_lines(data.decode(), timm_file)
    if data.decode().splitlines() != list(wnids):
        raise SystemExit(f"{timm_file} is not one wnid per line.")
    unknown = set(wnids) - load_hierarchy().known_wnids(wnids)
    if unknown:
        raise SystemExit(f"{timm_file} names {min(unknown)}, which is not a noun synset of WordNet 3.0.")
    return len(wnids)


def write(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def main() -> None:
    release = f"timm {metadata.version('timm')}"
    copies = {builtin_path(name): (INFO / builtin.timm_file).read_bytes() for name, builtin in BUILTIN_LISTS.items()}
    rows = [f"{path.name}\t{builtin.timm_file}\t{checked(data, builtin.timm_file)}\t{hashlib.sha256(data).hexdigest()}\n"
            for (path, data), builtin in zip(copies.items(), BUILTIN_LISTS.values())]
    licence = next(file for file in metadata.files("timm") if file.name == "LICENSE" and "dist-info" in str(file.parent))
    for path, data in copies.items():
        write(path, data)
    write(LICENSE, licence.locate().read_bytes())
    header = (f"# The built-in class lists, copied by tools/copy_timm_lists.py from timm/data/_info/ of the timm wheel\n"
              f"# (Apache-2.0: TIMM-LICENSE.txt); do not edit by hand.\n# {release}\n# file\ttimm file\tlines\tsha256\n")
    write(PROVENANCE, (header + "".join(rows)).encode())
    print(f"Copied {len(copies)} lists from {release} ({INFO}) into {PROVENANCE.parent}.")


if __name__ == "__main__":
    main()
