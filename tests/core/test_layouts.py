"""Every layout curate indexes, through ImageIndex.build: what becomes a row, what goes to the report."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from image_world import GOLDFISH, TENCH, WHITE_SHARK, make_tar, tiny_jpeg, touch

from curate.images.index import ImageIndex


def test_validation_folder_with_loc_val_solution(tmp_path):
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
    index = ImageIndex.build(root, val_labels=loc)
    assert dict(zip(index.rows["path"].to_pylist(), index.rows["wnid"].to_pylist())) == {
        "ILSVRC2012_val_00000001.JPEG": TENCH,
        "ILSVRC2012_val_00000002.JPEG": GOLDFISH,
        "ILSVRC2012_val_00000003.JPEG": GOLDFISH,
    }
    assert set(index.rows["split"].to_pylist()) == {"val"}
    assert index.report.unlabelled == ["ILSVRC2012_val_00000004.JPEG"]
    assert index.report.missing == ["ILSVRC2012_val_00000009"]
    assert index.metadata["val_labels"] == "LOC_val_solution.csv" and index.metadata["layout"] == "validation folder"


def test_file_list_without_images(tmp_path):
    listing = tmp_path / "train_cls.txt"
    listing.write_text(
        f"{TENCH}/{TENCH}_10026 1\n\n  {TENCH}/{TENCH}_2.jpg\t2\r\n{GOLDFISH}/{GOLDFISH}_7\n"
        f"loose_file 4\nfoo/bar 5\n{GOLDFISH}/notes.txt 6\n"
    )
    index = ImageIndex.build(tmp_path / "not-here", file_list=listing)
    assert index.rows["path"].to_pylist() == [f"{TENCH}/{TENCH}_10026.JPEG", f"{TENCH}/{TENCH}_2.jpg", f"{GOLDFISH}/{GOLDFISH}_7.JPEG"]
    assert index.rows["wnid"].to_pylist() == [TENCH, TENCH, GOLDFISH]
    assert index.rows["size"].null_count == 3
    assert index.report.not_wnid == ["foo/bar", "loose_file"]
    assert index.report.not_image == [f"{GOLDFISH}/notes.txt"]
    assert (index.report.images, index.report.classes) == (3, 2)
    assert index.root == str((tmp_path / "not-here").resolve())


@pytest.mark.parametrize(
    "text",
    [
        "{t}/{t}_1 1\n{t}/{t}_2 2\n",  # ILSVRC's own shape: no suffixes, no dots, no tabs
        "{t}/{t}_1\t1\n{t}/{t}_2\t2\n",  # tab-separated
        "{t}/{t}_1\n{t}/{t}_2",  # names only, no newline at the end
        "{t}/{t}_1.JPEG 1\n{t}/{t}_2 2.0\n",  # one suffix named, a dot in a number
    ],
    ids=["ilsvrc", "tabs", "names only", "suffixed"],
)
def test_file_list_shapes_index_alike(tmp_path, text):
    listing = tmp_path / "train_cls.txt"
    listing.write_text(text.format(t=TENCH))
    index = ImageIndex.build(tmp_path, file_list=listing)
    assert index.rows["path"].to_pylist() == [f"{TENCH}/{TENCH}_1.JPEG", f"{TENCH}/{TENCH}_2.JPEG"]
    assert index.rows["wnid"].to_pylist() == [TENCH, TENCH]
    assert index.report.counts() == {**dict.fromkeys(index.report.counts(), 0), "images": 2, "classes": 1}


def test_tar_archives_are_listed_with_offsets(tmp_path):
    root = tmp_path / "fall11"
    root.mkdir()
    members = {f"{TENCH}_{i}.JPEG": f"image {i} ".encode() * (i + 1) for i in range(3)}
    members["deep/" + "long" * 40 + ".JPEG"] = b"a member behind a PAX header"
    make_tar(root / f"{TENCH}.tar", {**members, "index.html": b"<html>"})
    make_tar(root / f"{GOLDFISH}.tar", {})
    index = ImageIndex.build(root)
    assert len(index) == 4 and set(index.rows["archive"].to_pylist()) == {f"{TENCH}.tar"}
    data = (root / f"{TENCH}.tar").read_bytes()
    for row in index.rows.to_pylist():
        assert row["path"].startswith(f"{TENCH}.tar/") and row["wnid"] == TENCH
        assert data[row["offset"] : row["offset"] + row["size"]] == members[row["path"].split("/", 1)[1]]
    assert index.report.not_image == [f"{TENCH}.tar/index.html"]
    assert index.report.empty == [f"{GOLDFISH}.tar"]
    assert index.report.layout == "tar archives"


def test_folders_and_tars_in_one_root(tmp_path):
    touch(tmp_path / TENCH / "a.JPEG")
    make_tar(tmp_path / f"{WHITE_SHARK}.tar", {"b.JPEG": b"b"})
    index = ImageIndex.build(tmp_path)
    assert index.rows["path"].to_pylist() == [f"{TENCH}/a.JPEG", f"{WHITE_SHARK}.tar/b.JPEG"]
    assert index.report.layout == "class folders and tar archives"


def test_verify_reports_images_that_do_not_decode(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    root = tmp_path / "train"
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buffer, "JPEG")
    touch(root / TENCH / "good.JPEG", buffer.getvalue())
    touch(root / TENCH / "bad.JPEG", b"\xff\xd8 this is not a jpeg")
    make_tar(root / f"{GOLDFISH}.tar", {"good.JPEG": buffer.getvalue(), "cut.JPEG": buffer.getvalue()[:20]})
    index = ImageIndex.build(root, verify=True)
    assert index.rows["path"].to_pylist() == [f"{TENCH}/good.JPEG", f"{GOLDFISH}.tar/good.JPEG"]
    assert index.report.broken == [f"{TENCH}/bad.JPEG", f"{GOLDFISH}.tar/cut.JPEG"]


def test_an_index_labelled_in_memory_records_the_hash_its_file_would_have(tmp_path):
    from image_world import FISH, label_set

    touch(tmp_path / "imgs" / TENCH / "a.JPEG")
    built = ImageIndex.build(tmp_path / "imgs")
    in_memory = built.label(label_set({TENCH: FISH}))
    built.write(tmp_path / "index.parquet")
    from_file = ImageIndex.read(tmp_path / "index.parquet").label(label_set({TENCH: FISH}))
    assert in_memory.metadata == from_file.metadata
    assert in_memory.metadata["images_hash"] == ImageIndex.read(tmp_path / "index.parquet").metadata["content_hash"]


# --- class folders at ImageNet size: no stat per file unless asked, names handled as whole arrays ------------

def awkward_tree(root):
    """Two classes of images named every way a listing must get right, and what is not an image among them."""
    names = ["a.JPEG", "b.jpg", "C.JpEg", "d.PNG", "e.tar.jpeg", "f..jpeg", "g.jpeg.txt", ".JPEG", "..jpeg", ".hidden.JPEG",
             "notes", "ünï.JPEG", "line\nbreak.JPEG", "\u212a.jpeg", "trailing.JPEG ", "x.jpe"]
    for number, name in enumerate(names):
        touch(root / TENCH / name, b"x" * (number + 1))
    touch(root / TENCH / "sub" / "deeper" / "z.jpg", b"zz")
    touch(root / TENCH / "folder.JPEG" / "inside.JPEG", b"in")  # a folder named like an image is searched
    touch(root / TENCH / ".dotted" / "y.JPEG", b"yy")
    for number in range(40):
        touch(root / GOLDFISH / f"{GOLDFISH}_{number * 7919 % 1000}.JPEG", bytes(number + 1))
    return root


def walked(root):
    """(path, wnid, size) of every image under the class folders, found by os.walk and os.path.splitext."""
    suffixes = {".jpeg", ".jpg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
    rows = []
    for wnid in (TENCH, GOLDFISH):
        for folder, _, files in os.walk(root / wnid):
            for name in files:
                if os.path.splitext(name)[1].lower() in suffixes:
                    path = Path(folder, name)
                    rows.append((path.relative_to(root).as_posix(), wnid, path.stat().st_size))
    return sorted(rows)


def test_class_folders_index_what_a_plain_walk_finds_with_sizes_only_when_asked(tmp_path):
    root = awkward_tree(tmp_path / "train")
    expected = walked(root)
    with_sizes = ImageIndex.build(root, sizes=True)
    assert [(r["path"], r["wnid"], r["size"]) for r in with_sizes.rows.to_pylist()] == expected
    # What indexing this tree gave before listings were read as arrays (one stat and one Python step per file):
    assert with_sizes.content_hash == "sha256:6a46c7a313c52ee779b53dc12da9f994d1f0e0e5ba8172ba159abbce4449dfed"
    without = ImageIndex.build(root)
    assert [(r["path"], r["wnid"], r["size"]) for r in without.rows.to_pylist()] == [(p, w, None) for p, w, _ in expected]
    assert without.report.counts() == with_sizes.report.counts()
    assert sorted(without.report.not_image) == [f"{TENCH}/{name}" for name in
                                                 sorted(["g.jpeg.txt", ".JPEG", "..jpeg", "notes", "trailing.JPEG ", "x.jpe"])]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("sizes", [False, True])
def test_class_folders_index_alike_in_any_listing_order_on_any_number_of_threads(tmp_path, monkeypatch, threads, sizes):
    from curate.images.layouts import class_folders

    root = awkward_tree(tmp_path / "train")
    expected = ImageIndex.build(root, sizes=sizes)
    listing = os.scandir

    class Backwards(list):  # a folder's entries, last first, usable as os.scandir's are
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def backwards(folder):
        with listing(folder) as entries:
            return Backwards(reversed(list(entries)))

    monkeypatch.setattr(os, "scandir", backwards)
    monkeypatch.setattr(class_folders, "THREADS", threads)
    index = ImageIndex.build(root, sizes=sizes)
    assert index.content_hash == expected.content_hash and index.rows.equals(expected.rows)
    assert index.report.counts() == expected.report.counts()


def test_without_sizes_an_empty_file_is_indexed_and_verify_finds_it(tmp_path):
    root = tmp_path / "train"
    touch(root / TENCH / "empty.JPEG", b"")
    touch(root / TENCH / "full.JPEG", tiny_jpeg(128))
    without = ImageIndex.build(root)
    assert without.rows.select(["path", "size"]).to_pylist() == [{"path": f"{TENCH}/empty.JPEG", "size": None},
                                                                  {"path": f"{TENCH}/full.JPEG", "size": None}]
    assert ImageIndex.build(root, sizes=True).report.empty_file == [f"{TENCH}/empty.JPEG"]
    verified = ImageIndex.build(root, verify=True)
    assert verified.report.broken == [f"{TENCH}/empty.JPEG"] and verified.rows["path"].to_pylist() == [f"{TENCH}/full.JPEG"]


@pytest.mark.parametrize("name", ["a.JPEG", ".JPEG", "w/.JPEG", "w/..JPEG", "w/a.JPEG", ".h/a.JPEG", "w/.h/a.JPEG",
                                  "w/a./.JPEG", "x.JPEG/", "a.jpeg", "a..jpeg", "x.jpeg.txt", "x.tar.jpeg", "d.jpg/e",
                                  ".a.png", "a.PnG", "a.jpe", "a\n.jpeg", "a.jpeg\n", "\u212a.jpeg", "\u017f.tiff", "a",
                                  "", ".", "a.", "w/a.JPEG.JPEG"])
def test_image_names_read_as_arrays_agree_with_is_image_name(name):
    import pyarrow as pa

    from curate.images.rows import image_name_mask, is_image_name

    for paths in ([name], [name, "w/b.JPEG"]):
        array = pa.array(paths, pa.string())
        for dots in (None, sum(path.count(".") for path in paths)):
            assert image_name_mask(array, dots).to_pylist() == [is_image_name(path) for path in paths], (paths, dots)
