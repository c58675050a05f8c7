"""A label set in the files other tools read: timm's class map, and a label table for a checkpoint's outputs.

timm (`timm/data/readers/class_map.py`) reads a `.txt` class map as one class name per line, the line number
being the class index (`{line.strip(): index for index, line in enumerate(file)}`). With the class folders
of `curate export imagefolder` (one per label wnid), the class names are label wnids, in label order. A
built-in numbering (`imagenet12k`) exports the classes of a checkpoint trained on it, in its order.
"""

from __future__ import annotations

from pathlib import Path

from curate.errors import BadOutput
from curate.fileio import atomic_path, check_absent, check_writable
from curate.labels.classlists import NUMBERINGS, class_numbering
from curate.labels.labelset import LabelSet


def class_map_text(labels: LabelSet) -> str:
    """One label wnid per line, line i holding label i."""
    return "".join(f"{wnid}\n" for wnid in labels.label_wnids)


def labels_table_text(labels: LabelSet) -> str:
    """`index<TAB>wnid<TAB>name` per label, in label order: what output i of a checkpoint means."""
    names = {row.label_wnid: row.label_name for row in labels.kept}
    return "".join(f"{index}\t{wnid}\t{names[wnid]}\n" for index, wnid in enumerate(labels.label_wnids))


def exported_labels(spec: str) -> LabelSet:
    """The label set to export: a built-in numbering's (each class its own label, in the numbering's order), or
    a label manifest's."""
    if spec in NUMBERINGS:
        from curate.labels.recipes import numbered
        from curate.wordnet.snapshot import load_hierarchy

        return numbered(load_hierarchy(), class_numbering(spec))
    from curate.labels.manifest import read_labels

    return read_labels(Path(spec))


EXPORTS = {"class-map": class_map_text, "labels-table": labels_table_text}


def check_export(path: Path, kind: str) -> None:
    """Refuse, before any work, an export target that exists or cannot be written; timm reads a class map
    only from a file named .txt."""
    check_absent(path)
    check_writable(path)
    if kind == "class-map" and Path(path).suffix.lower() != ".txt":
        raise BadOutput(f"timm reads a class map only from a .txt file: name the output {Path(path).stem}.txt.")


def export_labels(labels: LabelSet, kind: str, path: Path) -> None:
    """Write the `kind` export of a label set to a new file, whole or not at all."""
    check_export(path, kind)
    with atomic_path(path) as tmp:
        tmp.write_text(EXPORTS[kind](labels))
