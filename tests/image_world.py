"""Small image trees, file lists, tar archives and label sets for the image tests, built in tmp_path."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from curate.cli.images import app as images_app
from curate.labels.labelset import LabelRow, LabelSet
from curate.labels.manifest import write_labels

TENCH, GOLDFISH, WHITE_SHARK, TIGER_SHARK = "n01440764", "n01443537", "n01484850", "n01491361"
FISH, SHARK = "n02512053", "n01482330"
NAMES = {TENCH: "tench", GOLDFISH: "goldfish", WHITE_SHARK: "great white shark", TIGER_SHARK: "tiger shark",
         FISH: "fish", SHARK: "shark"}
runner = CliRunner()


def run(*args: str | Path):
    """`curate images ARGS...` in this process."""
    return runner.invoke(images_app, [str(a) for a in args])


def error(result) -> str:
    """The one stderr line of a command that failed with exit status 1 and printed nothing on stdout."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def only_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def touch(path: Path, data: bytes = b"not really a jpeg") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def file_list(path: Path, counts: dict[str, int], start: int = 0) -> Path:
    """A train_cls.txt-style list with `counts[wnid]` images of each class."""
    lines = [f"{w}/{w}_{i} {n}" for n, (w, c) in enumerate(counts.items(), 1) for i in range(start, start + c)]
    path.write_text("\n".join(lines) + "\n")
    return path


def index_of(tmp_path: Path, counts: dict[str, int], name: str = "index.parquet") -> Path:
    """An image index of a file list, written by `curate images index`."""
    listing = file_list(tmp_path / f"{name}.txt", counts)
    out = tmp_path / name
    result = run("index", tmp_path / "nowhere", "--file-list", listing, "-o", out)
    assert result.exit_code == 0, result.stderr
    return out


def label_set(mapping: dict[str, str | None]) -> LabelSet:
    """class wnid -> label wnid (None: removed)."""
    rows = tuple(
        LabelRow(w, NAMES.get(w, w), label, NAMES.get(label) if label else None, None if label else "test")
        for w, label in mapping.items()
    )
    return LabelSet(rows, "test", {"case": 1}, None, "test", "", "tests")


def labels_file(tmp_path: Path, mapping: dict[str, str | None], name: str = "labels.parquet") -> Path:
    write_labels(label_set(mapping), tmp_path / name)
    return tmp_path / name


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def tiny_jpeg(shade: int) -> bytes:
    """A real 8x6 JPEG, its bytes told apart by `shade`."""
    from PIL import Image

    data = io.BytesIO()
    Image.new("RGB", (8, 6), (shade % 256, 60, 200)).save(data, "JPEG")
    return data.getvalue()


def bytes_of(index) -> dict[str, tuple[bytes, bytes]]:
    """path -> (what training reads, what curate reads) for every row of the index."""
    from curate.images.rows import read_image_bytes
    from curate.labels.classlists import ClassList
    from curate.labels.recipes import identity
    from curate.wordnet.snapshot import load_hierarchy
    from train.data.tables import TrainingTable

    labels = identity(load_hierarchy(), ClassList("indexed", tuple(index.class_counts())))
    table = TrainingTable.of(index.label(labels), Path(index.root), "the index")
    trained = {path.decode(): bytes(table.read(i)) for i, path in enumerate(table.paths)}
    rows = index.rows.select(["path", "archive", "offset", "size"]).to_pylist()
    return {row["path"]: (trained[row["path"]], read_image_bytes(Path(index.root), *row.values())) for row in rows}


def refused(result, sentence: str) -> None:
    """A command that failed with exit status 1, printed nothing on stdout and `Error: sentence` on stderr."""
    assert (result.exit_code, result.stdout, result.stderr.strip()) == (1, "", f"Error: {sentence}")


def indexed(curate_cli, root: Path, *options):
    """The index `curate images index ROOT OPTIONS...` writes beside ROOT."""
    from curate.images.index import ImageIndex

    out = root.parent / "index.parquet"
    result = curate_cli("images", "index", root, *options, "-o", out, "-q")
    assert result.exit_code == 0, result.stderr
    return ImageIndex.read(out)
