"""Image indexes, subsets and training tables: small trees, lists and archives built in tmp_path."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from curate.cli.images import app as images_app
from curate.fileformat import content_hash
from curate.images.index import ImageIndex
from curate.images.order import path_scores, score
from curate.images.subsets import budget_quotas, class_counts, sample_budget, sample_per_class, spread
from curate.images.table import ImageTable
from curate.labels.labelset import LabelRow, LabelSet
from curate.labels.manifest import labels_hash, write_labels

TENCH, GOLDFISH, WHITE_SHARK, TIGER_SHARK = "n01440764", "n01443537", "n01484850", "n01491361"
FISH, SHARK = "n02512053", "n01482330"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(images_app, [str(a) for a in args])


def error(result) -> str:
    """The one stderr line of a failed command."""
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
    lines = [f"{w}/{w}_{i} {n}" for n, (w, c) in enumerate(counts.items(), 1) for i in range(start, start + c)]
    path.write_text("\n".join(lines) + "\n")
    return path


def index_of(tmp_path: Path, counts: dict[str, int], name: str = "index.parquet") -> Path:
    listing = file_list(tmp_path / f"{name}.txt", counts)
    out = tmp_path / name
    result = run("index", tmp_path / "nowhere", "--file-list", listing, "-o", out)
    assert result.exit_code == 0, result.stderr
    return out


def label_set(mapping: dict[str, str | None]) -> LabelSet:
    names = {TENCH: "tench", GOLDFISH: "goldfish", WHITE_SHARK: "great white shark", TIGER_SHARK: "tiger shark",
             FISH: "fish", SHARK: "shark"}
    rows = tuple(
        LabelRow(w, names.get(w, w), label, names.get(label) if label else None, None if label else "test")
        for w, label in mapping.items()
    )
    return LabelSet(rows, "test", {"case": 1}, None, "test", "", "tests")


def labels_file(tmp_path: Path, mapping: dict[str, str | None], name: str = "labels.parquet") -> Path:
    write_labels(label_set(mapping), tmp_path / name)
    return tmp_path / name


# --- indexing ------------------------------------------------------------------------------------------


def test_class_tree_counts_and_reports(tmp_path):
    root = tmp_path / "train"
    for i in range(3):
        touch(root / TENCH / f"{TENCH}_{i}.JPEG")
    touch(root / TENCH / "deeper" / f"{TENCH}_9.jpg")
    touch(root / TENCH / "notes.txt")
    touch(root / GOLDFISH / f"{GOLDFISH}_0.JPEG", b"")  # empty file: unreadable
    touch(root / GOLDFISH / f"{GOLDFISH}_1.png")
    (root / WHITE_SHARK).mkdir()  # an empty class
    touch(root / "junk" / "x.JPEG")
    touch(root / "n99999999" / "x.JPEG")  # shaped like a wnid, but not in WordNet 3.0
    touch(root / "README.txt")
    out, report = tmp_path / "index.parquet", tmp_path / "report.json"
    result = run("index", root, "-o", out, "--report", report)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"
    assert "5 images of 2 classes (class folders)" in result.stderr
    index = ImageIndex.read(out)
    table, meta = index.rows, index.metadata
    assert table["path"].to_pylist() == sorted(
        [f"{TENCH}/deeper/{TENCH}_9.jpg", *(f"{TENCH}/{TENCH}_{i}.JPEG" for i in range(3)), f"{GOLDFISH}/{GOLDFISH}_1.png"]
    )
    assert class_counts(table) == {TENCH: 4, GOLDFISH: 1}
    assert set(table["split"].to_pylist()) == {"train"}
    assert table["size"].to_pylist() == [len(b"not really a jpeg")] * 5
    assert meta["root"] == str(root.resolve()) and meta["kind"] == "images"
    found = json.loads(report.read_text())
    assert found["not_wnid"] == ["junk/", "n99999999/"]
    assert found["not_image"] == ["README.txt", f"{TENCH}/notes.txt"]
    assert found["empty"] == [f"{WHITE_SHARK}/"]
    assert found["unreadable"] == [f"{GOLDFISH}/{GOLDFISH}_0.JPEG"]
    assert found["counts"]["images"] == 5 and found["counts"]["classes"] == 2


def test_validation_folder_with_loc_solution_and_two_column_file(tmp_path):
    root = tmp_path / "val"
    for i in range(1, 5):
        touch(root / f"ILSVRC2012_val_0000000{i}.JPEG")
    loc = tmp_path / "LOC_val_solution.csv"
    loc.write_text(
        "ImageId,PredictionString\n"
        f"ILSVRC2012_val_00000001,{TENCH} 1 2 3 4 {TENCH} 5 6 7 8\n"
        f"ILSVRC2012_val_00000002,{GOLDFISH} 1 2 3 4\n"
        f"ILSVRC2012_val_00000003,{GOLDFISH} 1 2 3 4\n"
        f"ILSVRC2012_val_00000009,{TENCH} 1 2 3 4\n"
    )
    built = ImageIndex.build(root, val_labels=loc)
    table, report = built.rows, built.report
    assert dict(zip(table["path"].to_pylist(), table["wnid"].to_pylist())) == {
        "ILSVRC2012_val_00000001.JPEG": TENCH,
        "ILSVRC2012_val_00000002.JPEG": GOLDFISH,
        "ILSVRC2012_val_00000003.JPEG": GOLDFISH,
    }
    assert set(table["split"].to_pylist()) == {"val"}
    assert report.unlabelled == ["ILSVRC2012_val_00000004.JPEG"]
    assert report.missing == ["ILSVRC2012_val_00000009"]
    plain = tmp_path / "val.txt"
    plain.write_text(f"ILSVRC2012_val_00000001.JPEG,{TENCH}\nILSVRC2012_val_00000004.JPEG,{WHITE_SHARK}\n")
    out = tmp_path / "val.parquet"
    result = run("index", root, "--val-labels", plain, "-o", out)
    assert result.exit_code == 0, result.stderr
    table = ImageIndex.read(out).rows
    assert class_counts(table) == {TENCH: 1, WHITE_SHARK: 1}


def test_file_list_without_images(tmp_path):
    listing = tmp_path / "train_cls.txt"
    listing.write_text(
        f"{TENCH}/{TENCH}_10026 1\n\n  {TENCH}/{TENCH}_2.jpg\t2\r\n{GOLDFISH}/{GOLDFISH}_7\n"
        f"loose_file 4\nfoo/bar 5\n{GOLDFISH}/notes.txt 6\n"
    )
    built = ImageIndex.build(tmp_path / "not-here", file_list=listing)
    table, report = built.rows, built.report
    assert table["path"].to_pylist() == [f"{TENCH}/{TENCH}_10026.JPEG", f"{TENCH}/{TENCH}_2.jpg", f"{GOLDFISH}/{GOLDFISH}_7.JPEG"]
    assert table["wnid"].to_pylist() == [TENCH, TENCH, GOLDFISH]
    assert table["size"].null_count == 3
    assert report.not_wnid == ["foo/bar", "loose_file"]
    assert report.not_image == [f"{GOLDFISH}/notes.txt"]
    assert (report.images, report.classes) == (3, 2)


@pytest.mark.parametrize(
    "text",
    [
        "{t}/{t}_1 1\n{t}/{t}_2 2\n",  # ILSVRC's own shape: no suffixes, no dots, no tabs
        "{t}/{t}_1\t1\n{t}/{t}_2\t2\n",  # tab-separated
        "{t}/{t}_1\n{t}/{t}_2",  # names only, no newline at the end
        "{t}/{t}_1.JPEG 1\n{t}/{t}_2 2.0\n",  # one suffix named, a dot in a number
    ],
)
def test_file_list_shapes_index_alike(tmp_path, text):
    listing = tmp_path / "train_cls.txt"
    listing.write_text(text.format(t=TENCH))
    built = ImageIndex.build(tmp_path, file_list=listing)
    table, report = built.rows, built.report
    assert table["path"].to_pylist() == [f"{TENCH}/{TENCH}_1.JPEG", f"{TENCH}/{TENCH}_2.JPEG"]
    assert table["wnid"].to_pylist() == [TENCH, TENCH]
    assert report.counts() == {**dict.fromkeys(report.counts(), 0), "images": 2, "classes": 1}


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_tar_archives_are_listed_with_offsets(tmp_path):
    root = tmp_path / "fall11"
    root.mkdir()
    members = {f"{TENCH}_{i}.JPEG": f"image {i} ".encode() * (i + 1) for i in range(3)}
    members["deep/" + "long" * 40 + ".JPEG"] = b"a member behind a PAX header"
    make_tar(root / f"{TENCH}.tar", {**members, "index.html": b"<html>"})
    make_tar(root / f"{GOLDFISH}.tar", {})
    built = ImageIndex.build(root)
    table, report = built.rows, built.report
    assert table.num_rows == 4 and set(table["archive"].to_pylist()) == {f"{TENCH}.tar"}
    data = (root / f"{TENCH}.tar").read_bytes()
    for row in table.to_pylist():
        assert row["path"].startswith(f"{TENCH}.tar/") and row["wnid"] == TENCH
        assert data[row["offset"] : row["offset"] + row["size"]] == members[row["path"].split("/", 1)[1]]
    assert report.not_image == [f"{TENCH}.tar/index.html"]
    assert report.empty == [f"{GOLDFISH}.tar"]
    assert report.layout == "tar archives"


def test_verify_reports_images_that_do_not_decode(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    root = tmp_path / "train"
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buffer, "JPEG")
    touch(root / TENCH / "good.JPEG", buffer.getvalue())
    touch(root / TENCH / "bad.JPEG", b"\xff\xd8 this is not a jpeg")
    make_tar(root / f"{GOLDFISH}.tar", {"good.JPEG": buffer.getvalue(), "cut.JPEG": buffer.getvalue()[:20]})
    built = ImageIndex.build(root, verify=True)
    table, report = built.rows, built.report
    assert sorted(table["path"].to_pylist()) == [f"{TENCH}/good.JPEG", f"{GOLDFISH}.tar/good.JPEG"]
    assert report.broken == [f"{TENCH}/bad.JPEG", f"{GOLDFISH}.tar/cut.JPEG"]


# --- the path hash, subsets and budgets ----------------------------------------------------------------


def test_path_scores_are_a_fixed_function_of_path_and_seed(tmp_path):
    paths = ["", "a", f"{TENCH}/{TENCH}_10026.JPEG", "é/ünïcode.jpg", "x" * 300] + [f"p{i}" for i in range(40_000)]
    for seed in (0, 7, 2**64 + 3):
        column = path_scores(pa.array(paths).slice(1), seed).to_pylist()
        assert column[:4] == [score(p, seed) for p in paths[1:5]]
        assert column[-1] == score(paths[-1], seed)
    # pinned: these numbers may never change, or every published subset changes with them
    assert score(f"{TENCH}/{TENCH}_10026.JPEG", 0) == PINNED_SCORE


PINNED_SCORE = 12490700579058319407


def test_per_class_subsets_nest_and_are_stable_when_images_are_added(tmp_path):
    index = ImageIndex.read(index_of(tmp_path, {TENCH: 40, GOLDFISH: 30, WHITE_SHARK: 25})).rows
    chosen = {n: set(sample_per_class(index, n, seed=1)["path"].to_pylist()) for n in (5, 10, 20)}
    assert chosen[5] < chosen[10] < chosen[20]
    assert class_counts(sample_per_class(index, 10, seed=1)) == {TENCH: 10, GOLDFISH: 10, WHITE_SHARK: 10}
    assert set(sample_per_class(index, 10, seed=2)["path"].to_pylist()) != chosen[10]
    # more images of every class, and a new class
    listing = file_list(tmp_path / "more.txt", {TENCH: 60, GOLDFISH: 30, WHITE_SHARK: 25, TIGER_SHARK: 12})
    built = ImageIndex.build(tmp_path, file_list=listing)
    bigger, _ = built.rows, built.report
    after = set(sample_per_class(bigger, 10, seed=1)["path"].to_pylist())
    old = set(index["path"].to_pylist())
    assert {p for p in after if not p.startswith(TENCH)} - {p for p in after if p.startswith(TIGER_SHARK)} == {
        p for p in chosen[10] if not p.startswith(TENCH)
    }
    assert {p for p in after if p in old} <= chosen[10]  # old images keep their order among themselves


def test_spread_arithmetic():
    assert spread(10, [None, None, None]) == [4, 3, 3]
    assert spread(9, [None, None, None]) == [3, 3, 3]
    assert spread(10, [1, None, None]) == [1, 5, 4]
    assert spread(10, [2, 100, 3]) == [2, 5, 3]
    assert spread(7, [3, 3, 3]) == [3, 2, 2]
    assert spread(0, [None, None]) == [0, 0]
    with pytest.raises(ValueError):
        spread(10, [3, 3])


def test_budget_spreads_over_labels_then_classes(tmp_path):
    labels = label_set({TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: None})
    counts = {TENCH: 100, GOLDFISH: 100, WHITE_SHARK: 100, TIGER_SHARK: 100}
    # label order is wnid order: shark n01482330 is label 0 and takes the odd image
    assert budget_quotas(labels, counts, 13) == {TENCH: 3, GOLDFISH: 3, WHITE_SHARK: 7}
    assert budget_quotas(labels, counts, 15) == {TENCH: 4, GOLDFISH: 3, WHITE_SHARK: 8}
    assert budget_quotas(labels, counts, 200) == {TENCH: 50, GOLDFISH: 50, WHITE_SHARK: 100}
    short = {**counts, GOLDFISH: 10}
    assert budget_quotas(labels, short, 100, allow_short=True) == {TENCH: 40, GOLDFISH: 10, WHITE_SHARK: 50}
    assert budget_quotas(labels, {**short, WHITE_SHARK: 5}, 100, allow_short=True) == {TENCH: 85, GOLDFISH: 10, WHITE_SHARK: 5}
    index = ImageIndex.read(index_of(tmp_path, {TENCH: 40, GOLDFISH: 30, WHITE_SHARK: 25, TIGER_SHARK: 5})).rows
    small, large = sample_budget(index, labels, 20, seed=3), sample_budget(index, labels, 40, seed=3)
    assert class_counts(small) == {TENCH: 5, GOLDFISH: 5, WHITE_SHARK: 10}
    assert set(small["path"].to_pylist()) < set(large["path"].to_pylist())


def test_subset_cli(tmp_path):
    index = index_of(tmp_path, {TENCH: 12, GOLDFISH: 8})
    out = tmp_path / "sub.parquet"
    result = run("subset", index, "--per-class", 5, "--seed", 4, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n" and "10 of 20 images" in result.stderr
    subset = ImageIndex.read(out)
    table, meta = subset.rows, subset.metadata
    assert class_counts(table) == {TENCH: 5, GOLDFISH: 5}
    assert meta["root"] == str((tmp_path / "nowhere").resolve())
    assert json.loads(meta["subset"]) == {"per_class": 5, "seed": 4, "allow_short": False}
    assert meta["parent_hash"] == ImageIndex.read(index).metadata["content_hash"]
    assert error(run("subset", index, "--per-class", 10, "-o", out)) == (
        f"Error: 1 class of the index has fewer than 10 images: {GOLDFISH} (8); --allow-short takes all of theirs."
    )
    result = run("subset", index, "--per-class", 10, "--allow-short", "-o", out)
    assert result.exit_code == 0 and class_counts(ImageIndex.read(out).rows) == {TENCH: 10, GOLDFISH: 8}
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: SHARK})
    result = run("subset", index, "--budget", 15, "--labels", labels, "-o", out, "--allow-short")
    assert result.exit_code == 0, result.stderr
    assert class_counts(ImageIndex.read(out).rows) == {TENCH: 7, GOLDFISH: 8}  # shark, label 0, takes the odd one
    assert json.loads(ImageIndex.read(out).metadata["subset"])["labels_hash"] == labels_hash(label_set({TENCH: FISH, GOLDFISH: SHARK}))


def test_subset_is_the_same_under_any_hash_seed(tmp_path):
    index = index_of(tmp_path, {TENCH: 30, GOLDFISH: 30})
    script = (
        "import sys; from curate.images.index import ImageIndex;"
        "print(ImageIndex.read(sys.argv[1]).subset(per_class=7, seed=5).content_hash)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", script, str(index)], env=env, capture_output=True, text=True, check=True)
    here = ImageIndex.read(index).subset(per_class=7, seed=5).content_hash
    assert other.stdout.strip() == here


# --- the training table --------------------------------------------------------------------------------


def test_apply_builds_the_training_table(tmp_path):
    index = index_of(tmp_path, {TENCH: 4, GOLDFISH: 3, WHITE_SHARK: 2, TIGER_SHARK: 5})
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: None})
    out = tmp_path / "table.parquet"
    result = run("apply", "--labels", labels, "--images", index, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"
    assert "9 images under 2 labels" in result.stderr
    for line in ("min │ 2", "median │ 4.5", "max │ 7", "classes with no images │ 0", "manifest) │ 5"):
        assert line in " ".join(result.stderr.split()).replace("images per label: ", ""), line
    image_table = ImageTable.read(out)
    table, meta = image_table.rows, image_table.metadata
    rows = table.to_pylist()
    assert {(r["wnid"], r["label"], r["label_wnid"]) for r in rows} == {(TENCH, 1, FISH), (GOLDFISH, 1, FISH), (WHITE_SHARK, 0, SHARK)}
    assert table.num_rows == 9
    assert meta["images_hash"] == ImageIndex.read(index).metadata["content_hash"]
    assert meta["labels_hash"] == read_labels_hash(labels)
    assert meta["label_count"] == "2" and meta["root"] == ImageIndex.read(index).metadata["root"]


def read_labels_hash(path: Path) -> str:
    import pyarrow.parquet as pq

    return pq.read_schema(path).metadata[b"curate.content_hash"].decode()


def test_apply_reports_classes_without_images(tmp_path):
    index = index_of(tmp_path, {TENCH: 4})
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK})
    out = tmp_path / "table.parquet"
    assert error(run("apply", "--labels", labels, "--images", index, "-o", out)) == (
        f"Error: 2 classes of the labels file have no images in the index: {GOLDFISH}, {WHITE_SHARK}; "
        "--allow-missing trains without them."
    )
    assert not out.exists()
    result = run("apply", "--labels", labels, "--images", index, "-o", out, "--allow-missing")
    assert result.exit_code == 0, result.stderr
    assert f"Classes with no images: {GOLDFISH}, {WHITE_SHARK}" in result.stderr
    table = ImageIndex.read(index).label(label_set({TENCH: FISH, GOLDFISH: FISH}), allow_missing=True)
    assert len(table) == 4


# --- bad input: one sentence, exit 1, nothing written ----------------------------------------------------


def test_bad_roots(tmp_path):
    out = tmp_path / "out" / "index.parquet"
    out.parent.mkdir()
    missing = tmp_path / "missing"
    assert error(run("index", missing, "-o", out)) == f"Error: {missing} does not exist."
    root = tmp_path / "root"
    touch(root / "junk" / "a.JPEG")
    touch(root / "notes.txt")
    assert error(run("index", root, "-o", out)) == (
        f"Error: {root} holds no images: no <wnid> class folders or <wnid>.tar archives of images "
        "(not a wnid: 1; not an image: 1)."
    )
    flat = tmp_path / "flat"
    touch(flat / "ILSVRC2012_val_00000001.JPEG")
    assert error(run("index", flat, "-o", out)) == (
        f"Error: {flat} holds 1 image but no class folders: for a validation folder, give its labels with --val-labels."
    )
    assert error(run("index", flat, "-o", tmp_path / "no" / "x.parquet")) == (
        f"Error: Cannot write {tmp_path / 'no' / 'x.parquet'}: the folder {tmp_path / 'no'} does not exist."
    )
    assert only_files(out.parent) == []


def test_bad_file_lists(tmp_path):
    out = tmp_path / "index.parquet"
    names = ("missing.txt", "lists", "empty.txt", "blank.txt", "bin.txt")
    missing, folder, empty, blank, binary = (tmp_path / name for name in names)
    folder.mkdir()
    empty.write_text("")
    blank.write_text("\n  \n\t\n")
    binary.write_bytes(b"\xff\xfe\x00\x81 binary\n" * 10)
    index = ("index", tmp_path / "nowhere", "-o", out, "--file-list")
    assert error(run(*index, missing)) == f"Error: {missing} does not exist."
    assert error(run(*index, folder)) == f"Error: {folder} is a folder, not a file list."
    assert error(run(*index, empty)) == f"Error: {empty} lists no images."
    assert error(run(*index, blank)) == f"Error: {blank} lists no images."
    assert error(run(*index, binary)) == f"Error: {binary} is not a text file, so it cannot be read as a file list."
    assert not out.exists()


def test_corrupt_and_truncated_tars(tmp_path):
    out = tmp_path / "index.parquet"
    root = tmp_path / "tars"
    root.mkdir()
    (root / f"{TENCH}.tar").write_bytes(b"this is no tar archive at all" * 40)
    assert error(run("index", root, "-o", out)).startswith(f"Error: {TENCH}.tar is not a readable tar archive (")
    data = make_tar(tmp_path / "whole.tar", {f"{TENCH}_{i}.JPEG": b"x" * 3000 for i in range(3)}).read_bytes()
    (root / f"{TENCH}.tar").write_bytes(data[:5000])
    assert error(run("index", root, "-o", out)) == f"Error: {TENCH}.tar is a damaged tar archive: it ends inside {TENCH}_1.JPEG."
    (root / f"{TENCH}.tar").write_bytes(data[:3584] + b"garbage!" * 64 + data[3584 + 512 :])
    assert error(run("index", root, "-o", out)).startswith(f"Error: {TENCH}.tar is a damaged tar archive: it holds data")
    make_tar(root / f"{TENCH}.tar", {"a.JPEG": b"1", "b.JPEG": b"2"})
    with tarfile.open(root / f"{TENCH}.tar", "a") as tar:
        info = tarfile.TarInfo("a.JPEG")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"3"))
    assert error(run("index", root, "-o", out)) == f"Error: {TENCH}.tar holds the member a.JPEG twice."
    assert only_files(tmp_path) == ["tars", "whole.tar"]


def test_duplicated_paths(tmp_path):
    out = tmp_path / "index.parquet"
    listing = tmp_path / "train_cls.txt"
    listing.write_text(f"{TENCH}/a 1\n{TENCH}/b 2\n{TENCH}/a.JPEG 3\n")
    assert error(run("index", tmp_path, "--file-list", listing, "-o", out)) == (
        f"Error: {TENCH}/a.JPEG is listed twice in {listing}, on lines 1 and 3."
    )
    root = tmp_path / "val"
    touch(root / "v1.JPEG")
    labels = tmp_path / "val.csv"
    labels.write_text(f"v1.JPEG,{TENCH}\nv1.JPEG,{GOLDFISH}\n")
    assert error(run("index", root, "--val-labels", labels, "-o", out)) == f"Error: v1.JPEG is listed twice in {labels}, on lines 1 and 2."
    labels.write_text(f"v1.JPEG,{TENCH}\nv2.JPEG,n0144\n")
    assert error(run("index", root, "--val-labels", labels, "-o", out)) == (
        f"Error: 'n0144' on line 2 of {labels} is not a WordNet 3.0 noun id: ids look like n01440764."
    )
    labels.write_text("v1.JPEG,n99999999\n")
    assert error(run("index", root, "--val-labels", labels, "-o", out)) == (
        f"Error: {labels} names 1 class WordNet 3.0 does not have: n99999999."
    )
    labels.write_text(f"v7.JPEG,{TENCH}\n")
    assert error(run("index", root, "--val-labels", labels, "-o", out)) == (
        f"Error: {root} holds no image that its labels file names (no class label: 1; labelled but missing: 1)."
    )
    assert not out.exists()
    # an index file edited to hold a path twice
    table = pa.table({"path": ["a", "a"], "wnid": [TENCH, TENCH], "split": ["train"] * 2})
    import pyarrow.parquet as pq

    pq.write_table(table.append_column("size", pa.nulls(2, pa.int64())).append_column("archive", pa.nulls(2, pa.string()))
                   .append_column("offset", pa.nulls(2, pa.int64()))
                   .replace_schema_metadata({"curate.kind": "images", "curate.root": "/"}), tmp_path / "dup.parquet")
    assert error(run("subset", tmp_path / "dup.parquet", "-n", 1, "-o", out)) == (
        f"Error: {tmp_path / 'dup.parquet'} lists path a more than once."
    )


def test_bad_subsets(tmp_path):
    index = index_of(tmp_path, {TENCH: 6, GOLDFISH: 4})
    out = tmp_path / "sub.parquet"
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: SHARK, WHITE_SHARK: SHARK})
    assert error(run("subset", index, "--per-class", 7, "-o", out)) == (
        f"Error: 7 images per class is more than the index holds: its largest class, {TENCH}, has 6."
    )
    assert error(run("subset", index, "-o", out)) == "Error: Give either --per-class N, or --budget TOTAL with --labels MANIFEST."
    assert error(run("subset", index, "--budget", 5, "-o", out)) == (
        "Error: --budget needs --labels MANIFEST: the budget is spread over the manifest's labels."
    )
    assert error(run("subset", index, "--budget", 11, "--labels", labels, "-o", out, "--allow-short")) == (
        "Error: A budget of 11 images is more than the index holds for the manifest's classes (10)."
    )
    assert error(run("subset", index, "--budget", 8, "--labels", labels, "-o", out)) == (
        f"Error: 1 class has fewer images than its share of the budget: {WHITE_SHARK} has 0 of 2; "
        "--allow-short gives their share to other classes."
    )
    assert not out.exists()


def test_bad_labels(tmp_path):
    index = index_of(tmp_path, {TENCH: 3})
    out = tmp_path / "table.parquet"
    labels = labels_file(tmp_path, {TENCH: FISH, "n99999999": FISH})
    assert error(run("apply", "--labels", labels, "--images", index, "-o", out)) == (
        "Error: The labels file names 1 wnid WordNet 3.0 does not have: n99999999."
    )
    assert error(run("apply", "--labels", index, "--images", index, "-o", out)) == (
        f"Error: {index} is an image index, not a label manifest."
    )
    assert error(run("apply", "--labels", labels_file(tmp_path, {TENCH: FISH}, "ok.parquet"), "--images", tmp_path / "ok.parquet", "-o", out)) == (
        f"Error: {tmp_path / 'ok.parquet'} is a label manifest, not an image index."
    )
    assert not out.exists()


def test_every_command_has_help():
    listing = run("--help")
    assert listing.exit_code == 0
    for command in ("index", "subset", "apply"):
        assert command in listing.stdout
        result = run(command, "--help")
        assert result.exit_code == 0 and "Example" in result.stdout
