"""`curate images index / subset / apply` through the CLI: what each writes and reports, and bad input
(one sentence, exit status 1, nothing written)."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from image_world import (
    FISH, GOLDFISH, SHARK, TENCH, TIGER_SHARK, WHITE_SHARK, error, index_of, label_set, labels_file, make_tar,
    only_files, run, touch,
)

from curate.fileformat import metadata_hash
from curate.images.index import ImageIndex
from curate.images.table import ImageTable
from curate.labels.manifest import labels_hash


def test_index_writes_the_index_and_reports_the_rest(tmp_path):
    root = tmp_path / "train"
    for i in range(3):
        touch(root / TENCH / f"{TENCH}_{i}.JPEG")
    touch(root / TENCH / "deeper" / f"{TENCH}_9.jpg")
    touch(root / TENCH / "notes.txt")
    touch(root / GOLDFISH / f"{GOLDFISH}_0.JPEG", b"")  # an empty file
    touch(root / GOLDFISH / f"{GOLDFISH}_1.png")
    (root / WHITE_SHARK).mkdir()  # an empty class
    touch(root / "junk" / "x.JPEG")
    touch(root / "n99999999" / "x.JPEG")  # shaped like a wnid, but not in WordNet 3.0
    touch(root / "README.txt")
    out, report = tmp_path / "index.parquet", tmp_path / "report.json"
    result = run("index", root, "-o", out, "--report", report, "--sizes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"
    assert "5 images of 2 classes (class folders)" in result.stderr
    index = ImageIndex.read(out)
    assert index.rows["path"].to_pylist() == sorted(
        [f"{TENCH}/deeper/{TENCH}_9.jpg", *(f"{TENCH}/{TENCH}_{i}.JPEG" for i in range(3)), f"{GOLDFISH}/{GOLDFISH}_1.png"]
    )
    assert index.class_counts() == {TENCH: 4, GOLDFISH: 1}
    assert set(index.rows["split"].to_pylist()) == {"train"}
    assert index.rows["size"].to_pylist() == [len(b"not really a jpeg")] * 5
    assert index.metadata["root"] == str(root.resolve()) and index.metadata["kind"] == "images"
    assert json.loads(index.metadata["report"])["not_wnid"] == 2
    found = json.loads(report.read_text())
    assert found["not_wnid"] == ["junk/", "n99999999/"]
    assert found["not_image"] == ["README.txt", f"{TENCH}/notes.txt"]
    assert found["empty"] == [f"{WHITE_SHARK}/"]
    assert found["empty_file"] == [f"{GOLDFISH}/{GOLDFISH}_0.JPEG"] and found["unreadable"] == []
    assert found["counts"]["images"] == 5 and found["counts"]["classes"] == 2


@pytest.mark.parametrize("sizes", [[], ["--sizes"]], ids=["listed", "with sizes"])
def test_names_that_are_not_utf8_are_reported_and_the_rest_indexed(tmp_path, sizes):
    """A Latin-1 file name from an old download (an index holds text): reported as escapes, never a traceback."""
    root = tmp_path / "train"
    touch(root / TENCH / f"{TENCH}_0.JPEG")
    touch(root / TENCH / "z.JPEG")
    os.rename(root / TENCH / "z.JPEG", bytes(root / TENCH) + b"/caf\xe9.JPEG")  # sorts after the image kept
    touch(root / GOLDFISH / f"{GOLDFISH}_0.JPEG")
    (root / GOLDFISH / "deeper").mkdir()
    touch(root / GOLDFISH / "deeper" / "a.JPEG")
    os.rename(root / GOLDFISH / "deeper", bytes(root / GOLDFISH) + b"/\xff")
    out, report = tmp_path / "index.parquet", tmp_path / "report.json"
    result = run("index", root, "-o", out, "--report", report, *sizes)
    assert result.exit_code == 0, result.stderr
    index = ImageIndex.read(out)
    assert index.rows["path"].to_pylist() == [f"{TENCH}/{TENCH}_0.JPEG", f"{GOLDFISH}/{GOLDFISH}_0.JPEG"]
    assert index.rows["size"].to_pylist() == ([len(b"not really a jpeg")] * 2 if sizes else [None, None])
    assert json.loads(report.read_text())["not_utf8"] == [f"{TENCH}/caf\\xe9.JPEG", f"{GOLDFISH}/\\xff/"]
    strict = run("index", root, "-o", tmp_path / "strict.parquet", "--strict", *sizes)
    assert strict.exit_code == 1 and "name not UTF-8: 2" in strict.stderr


def test_index_a_validation_folder_labelled_by_filename_wnid_lines(tmp_path):
    root = tmp_path / "val"
    for i in range(1, 5):
        touch(root / f"ILSVRC2012_val_0000000{i}.JPEG")
    plain = tmp_path / "val.txt"
    plain.write_text(f"ILSVRC2012_val_00000001.JPEG,{TENCH}\nILSVRC2012_val_00000004.JPEG,{WHITE_SHARK}\n")
    out = tmp_path / "val.parquet"
    result = run("index", root, "--val-labels", plain, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert ImageIndex.read(out).class_counts() == {TENCH: 1, WHITE_SHARK: 1}


def test_subset_per_class_records_where_it_came_from(tmp_path):
    index = index_of(tmp_path, {TENCH: 12, GOLDFISH: 8})
    out = tmp_path / "sub.parquet"
    result = run("subset", index, "--per-class", 5, "--seed", 4, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n" and "10 of 20 images" in result.stderr
    subset = ImageIndex.read(out)
    assert subset.class_counts() == {TENCH: 5, GOLDFISH: 5}
    assert subset.root == str((tmp_path / "nowhere").resolve())
    assert json.loads(subset.metadata["subset"]) == {"per_class": 5, "seed": 4, "allow_short": False}
    assert subset.metadata["parent_hash"] == ImageIndex.read(index).content_hash


def test_subset_allow_short_takes_all_of_a_small_class(tmp_path):
    index = index_of(tmp_path, {TENCH: 12, GOLDFISH: 8})
    out = tmp_path / "sub.parquet"
    assert error(run("subset", index, "--per-class", 10, "-o", out)) == (
        f"Error: 1 class of the index has fewer than 10 images: {GOLDFISH} (8); --allow-short takes all of theirs."
    )
    assert run("subset", index, "--per-class", 10, "--allow-short", "-o", out).exit_code == 0
    assert ImageIndex.read(out).class_counts() == {TENCH: 10, GOLDFISH: 8}


def test_subset_with_a_budget_over_labels(tmp_path):
    index = index_of(tmp_path, {TENCH: 12, GOLDFISH: 8})
    out = tmp_path / "sub.parquet"
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: SHARK})
    result = run("subset", index, "--budget", 15, "--labels", labels, "-o", out, "--allow-short")
    assert result.exit_code == 0, result.stderr
    subset = ImageIndex.read(out)
    assert subset.class_counts() == {TENCH: 7, GOLDFISH: 8}  # shark, label 0, takes the odd one
    assert json.loads(subset.metadata["subset"])["labels_hash"] == labels_hash(label_set({TENCH: FISH, GOLDFISH: SHARK}))


def test_apply_builds_the_training_table(tmp_path):
    index = index_of(tmp_path, {TENCH: 4, GOLDFISH: 3, WHITE_SHARK: 2, TIGER_SHARK: 5})
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: None})
    out = tmp_path / "table.parquet"
    result = run("apply", "--labels", labels, "--images", index, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"
    digest = ImageTable.read(out).content_hash
    assert result.stderr.splitlines() == [  # not a terminal: no box, one line each
        f"9 images under 2 labels, {digest[:19]}…", "images per label: min\t2", "images per label: median\t4.5",
        "images per label: max\t7", "classes with no images\t0", "labels with no images\t0",
        "images left out (class removed or not in the manifest)\t5"]
    table = ImageTable.read(out)
    rows = table.rows.to_pylist()
    assert {(r["wnid"], r["label"], r["label_wnid"]) for r in rows} == {(TENCH, 1, FISH), (GOLDFISH, 1, FISH), (WHITE_SHARK, 0, SHARK)}
    assert len(table) == 9
    assert table.metadata["images_hash"] == ImageIndex.read(index).content_hash
    assert table.metadata["labels_hash"] == pq.read_schema(labels).metadata[b"curate.content_hash"].decode()
    assert table.metadata["label_count"] == "2" and table.root == ImageIndex.read(index).root


def test_apply_allow_missing_names_the_classes_without_images(tmp_path):
    index = index_of(tmp_path, {TENCH: 4, WHITE_SHARK: 2})
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: SHARK})
    out = tmp_path / "table.parquet"
    assert error(run("apply", "--labels", labels, "--images", index, "-o", out)) == (
        f"Error: 2 classes of the labels file have no images in the index: {GOLDFISH}, {TIGER_SHARK}; "
        "--allow-missing trains without them."
    )
    assert not out.exists()
    result = run("apply", "--labels", labels, "--images", index, "-o", out, "--allow-missing")
    assert result.exit_code == 0, result.stderr
    assert f"Classes with no images: {GOLDFISH}, {TIGER_SHARK}" in result.stderr
    assert len(ImageTable.read(out)) == 6


# --- bad input: one sentence, exit 1, nothing written ----------------------------------------------------
# Each case makes its inputs under tmp_path and returns (the command's arguments, the sentence); a sentence
# ending in "(" must only start the message (it goes on with a library's own words).


def missing_root(tmp):
    return ["index", tmp / "missing"], f"{tmp / 'missing'} does not exist."


def root_without_classes(tmp):
    touch(tmp / "root" / "junk" / "a.JPEG")
    touch(tmp / "root" / "notes.txt")
    return ["index", tmp / "root"], (f"{tmp / 'root'} holds no images: no <wnid> class folders or <wnid>.tar archives of "
                                     "images (not a wnid: 1; not an image: 1).")


def flat_folder_without_labels(tmp):
    touch(tmp / "flat" / "ILSVRC2012_val_00000001.JPEG")
    return ["index", tmp / "flat"], (f"{tmp / 'flat'} holds 1 image but no class folders: for a validation folder, "
                                     "give its labels with --val-labels.")


def output_in_a_missing_folder(tmp):
    touch(tmp / "root" / TENCH / "a.JPEG")
    return ["index", tmp / "root", "-o", tmp / "no" / "x.parquet"], (
        f"Cannot write {tmp / 'no' / 'x.parquet'}: the folder {tmp / 'no'} does not exist.")


def file_list_case(make, sentence):
    def case(tmp):
        path = tmp / "list.txt"
        make(path)
        return ["index", tmp / "nowhere", "--file-list", path], sentence.format(path=path)
    return case


def tar_case(make, sentence):
    def case(tmp):
        root = tmp / "tars"
        root.mkdir()
        make(root / f"{TENCH}.tar", tmp)
        return ["index", root], sentence.format(root=root)
    return case


def three_members(tmp):
    return make_tar(tmp / "whole.tar", {f"{TENCH}_{i}.JPEG": b"x" * 3000 for i in range(3)}).read_bytes()


def member_twice(path, tmp):
    make_tar(path, {"a.JPEG": b"1", "b.JPEG": b"2"})
    with tarfile.open(path, "a") as tar:
        info = tarfile.TarInfo("a.JPEG")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"3"))


DAMAGED_ONLY = "{root} holds no images: no <wnid> class folders or <wnid>.tar archives of images (damaged archive: 1)."


def val_labels_case(text, sentence):
    def case(tmp):
        touch(tmp / "val" / "v1.JPEG")
        (tmp / "val.csv").write_text(text)
        return ["index", tmp / "val", "--val-labels", tmp / "val.csv"], sentence.format(labels=tmp / "val.csv", root=tmp / "val")
    return case


def index_with_a_path_twice(tmp):
    rows = pa.table({"path": ["a", "a"], "wnid": [TENCH, TENCH], "split": ["train"] * 2, "size": pa.nulls(2, pa.int64()),
                     "archive": pa.nulls(2, pa.string()), "offset": pa.nulls(2, pa.int64())})
    metadata = {"kind": "images", "root": "/"}
    metadata["metadata_hash"] = metadata_hash(metadata, rows.num_rows)  # its footer as curate writes one
    pq.write_table(rows.replace_schema_metadata({f"curate.{k}": v for k, v in metadata.items()}), tmp / "dup.parquet")
    return ["subset", tmp / "dup.parquet", "--per-class", 1], f"{tmp / 'dup.parquet'} lists path a more than once."


def subset_case(options, sentence, labels=None):
    def case(tmp):
        index = index_of(tmp, {TENCH: 6, GOLDFISH: 4})
        extra = ["--labels", labels_file(tmp, labels)] if labels else []
        return ["subset", index, *options, *extra], sentence
    return case


def apply_case(labels, images, sentence):
    def case(tmp):
        paths = {"index": index_of(tmp, {TENCH: 3}), "unknown wnid": labels_file(tmp, {TENCH: FISH, "n99999999": FISH}),
                 "labels": labels_file(tmp, {TENCH: FISH}, "ok.parquet")}
        return ["apply", "--labels", paths[labels], "--images", paths[images]], sentence.format(**{k.split()[0]: v for k, v in paths.items()})
    return case


BAD_INPUTS = {
    "missing root": missing_root,
    "root without classes": root_without_classes,
    "flat folder without --val-labels": flat_folder_without_labels,
    "output in a missing folder": output_in_a_missing_folder,
    "file list missing": file_list_case(lambda p: None, "{path} does not exist."),
    "file list is a folder": file_list_case(lambda p: p.mkdir(), "{path} is a folder, not a file list."),
    "file list empty": file_list_case(lambda p: p.write_text(""), "{path} lists no images."),
    "file list blank": file_list_case(lambda p: p.write_text("\n  \n\t\n"), "{path} lists no images."),
    "file list binary": file_list_case(lambda p: p.write_bytes(b"\xff\xfe\x00\x81 binary\n" * 10),
                                       "{path} is not a text file, so it cannot be read as a file list."),
    "file list names a path twice": file_list_case(lambda p: p.write_text(f"{TENCH}/a 1\n{TENCH}/b 2\n{TENCH}/a.JPEG 3\n"),
                                                   f"{TENCH}/a.JPEG is listed twice in {{path}}, on lines 1 and 3."),
    "tar that is no tar": tar_case(lambda p, tmp: p.write_bytes(b"this is no tar archive at all" * 40), DAMAGED_ONLY),
    "tar truncated": tar_case(lambda p, tmp: p.write_bytes(three_members(tmp)[:5000]), DAMAGED_ONLY),
    "tar with a damaged header": tar_case(
        lambda p, tmp: p.write_bytes((data := three_members(tmp))[:3584] + b"garbage!" * 64 + data[3584 + 512:]), DAMAGED_ONLY),
    "tar holds a member twice": tar_case(member_twice, DAMAGED_ONLY),
    "val labels name a file twice": val_labels_case(f"v1.JPEG,{TENCH}\nv1.JPEG,{GOLDFISH}\n",
                                                    "v1.JPEG is listed twice in {labels}, on lines 1 and 2."),
    "val labels with a bad wnid": val_labels_case(f"v1.JPEG,{TENCH}\nv2.JPEG,n0144\n",
                                                  "'n0144' on line 2 of {labels} is not a WordNet 3.0 noun id: ids look like n01440764."),
    "val labels with an unknown wnid": val_labels_case("v1.JPEG,n99999999\n",
                                                       "{labels} names 1 class WordNet 3.0 does not have: n99999999."),
    "val labels name no present image": val_labels_case(
        f"v7.JPEG,{TENCH}\n", "{root} holds no image that its labels file names (no class label: 1; labelled but missing: 1)."),
    "index with a path twice": index_with_a_path_twice,
    "per class above the largest class": subset_case(
        ["--per-class", 7], f"7 images per class is more than the index holds: its largest class, {TENCH}, has 6."),
    "neither per class nor budget": subset_case([], "Give either --per-class, --budget with --labels, or --holdout."),
    "budget without labels": subset_case(
        ["--budget", 5], "--budget needs --labels: the budget is spread over the labels of a label set."),
    "budget above what the index holds": subset_case(
        ["--budget", 11, "--allow-short"], "A budget of 11 images is more than the index holds for the manifest's classes (10).",
        {TENCH: FISH, GOLDFISH: SHARK, WHITE_SHARK: SHARK}),
    "budget share above a class": subset_case(
        ["--budget", 8], f"1 class has fewer images than its share of the budget: {WHITE_SHARK} has 0 of 2; "
        "--allow-short gives their share to other classes.", {TENCH: FISH, GOLDFISH: SHARK, WHITE_SHARK: SHARK}),
    "labels with an unknown wnid": apply_case("unknown wnid", "index", "The labels file names 1 wnid WordNet 3.0 does not have: n99999999."),
    "an index given as labels": apply_case("index", "index", "{index} is an image index, not a label manifest."),
    "labels given as an index": apply_case("labels", "labels", "{labels} is a label manifest, not an image index."),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gives_one_sentence_and_writes_nothing(tmp_path, case):
    argv, sentence = BAD_INPUTS[case](tmp_path)
    before = only_files(tmp_path)
    if "-o" not in argv:
        argv = [*argv, "-o", tmp_path / "out.parquet"]
    line = error(run(*argv))
    if sentence.endswith("("):
        assert line.startswith(f"Error: {sentence[:-1]}"), line
    else:
        assert line == f"Error: {sentence}"
    assert only_files(tmp_path) == before


@pytest.mark.parametrize("command", ["index", "subset", "apply"])
def test_every_command_has_help_with_an_example(command):
    assert command in run("--help").stdout
    result = run(command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout


def test_sizes_asks_for_the_sizes_of_image_files_and_a_file_list_has_none(tmp_path):
    listing = tmp_path / "train_cls.txt"
    listing.write_text(f"{TENCH}/{TENCH}_1 1\n")
    out = tmp_path / "index.parquet"
    assert error(run("index", tmp_path / "nowhere", "--file-list", listing, "--sizes", "-o", out)) == (
        f"Error: --sizes looks up the sizes of image files in folders, and {listing} is read as file list, which has "
        "no image files to look up.")
    assert not out.exists()
