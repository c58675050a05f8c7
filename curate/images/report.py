"""What indexing found besides the images: an `IndexReport`, the sentence when it found no image at all,
and the full report as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from curate.fileio import atomic_path


def printable(name: str) -> str:
    """A name as text a report can hold: the bytes of a name that is not UTF-8 written as escapes ('\\xff')."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass
class IndexReport:
    """What indexing found besides the images. Every list is sorted; entries are paths relative to the root."""

    layout: str = ""
    images: int = 0
    classes: int = 0
    not_wnid: list[str] = field(default_factory=list)  # folders, archives or list entries not named by a wnid
    not_image: list[str] = field(default_factory=list)  # files (and stray folders) that are not images
    empty: list[str] = field(default_factory=list)  # class folders or archives without a single image
    empty_file: list[str] = field(default_factory=list)  # image files (or archive members) of zero bytes
    unreadable: list[str] = field(default_factory=list)  # files, folders or archives that could not be read
    not_utf8: list[str] = field(default_factory=list)  # files or folders whose names are not UTF-8 (an index holds text)
    damaged: list[str] = field(default_factory=list)  # tar archives or shards that are truncated or not what they are named
    unlabelled: list[str] = field(default_factory=list)  # images whose class is not known
    missing: list[str] = field(default_factory=list)  # labelled or listed files that are not there
    unlisted: list[str] = field(default_factory=list)  # images the download's own image list does not name
    broken: list[str] = field(default_factory=list)  # images that do not decode (verify only)
    too_large: list[str] = field(default_factory=list)  # images past Pillow's pixel limit, even drafted (verify only)

    PROBLEMS = {
        "not_wnid": "not a wnid",
        "not_image": "not an image",
        "empty": "empty class",
        "empty_file": "empty file",
        "unreadable": "unreadable",
        "not_utf8": "name not UTF-8",
        "damaged": "damaged archive",
        "unlabelled": "no class label",
        "missing": "labelled but missing",
        "unlisted": "not in the image list",
        "broken": "broken image",
        "too_large": "too large for Pillow",
    }

    def problems(self) -> dict[str, list[str]]:
        return {key: getattr(self, key) for key in self.PROBLEMS}

    def counts(self) -> dict[str, int]:
        return {"images": self.images, "classes": self.classes, **{k: len(v) for k, v in self.problems().items()}}

    def sort(self) -> IndexReport:
        for items in self.problems().values():
            items[:] = sorted(map(printable, items))
        return self

    def found(self) -> str:
        """' (not a wnid: 1; not an image: 2)': what was found besides images, or '' when nothing was."""
        found = [f"{self.PROBLEMS[key]}: {len(items):,}" for key, items in self.problems().items() if items]
        return f" ({'; '.join(found)})" if found else ""


def write_report(report: IndexReport, path: Path) -> None:
    """The full report as JSON: counts, and every listed path by problem."""
    text = json.dumps({"layout": report.layout, "counts": report.counts(), **report.problems()}, indent=1, sort_keys=True)
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text + "\n")
