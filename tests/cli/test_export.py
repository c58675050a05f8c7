"""`curate export class-map`, `labels-table`, `imagefolder`, `webdataset`: exact contents, the symlink tree, the
refusals. (What trainers' readers make of the image exports: test_exports_read_by_trainers.py.)"""

import os
from pathlib import Path

import pytest

from image_world import FISH, GOLDFISH, SHARK, TENCH, TIGER_SHARK, WHITE_SHARK, index_of, labels_file, make_tar, run

DEPTH3_LABELS = [
    ("n00003553", "whole"), ("n00007846", "person"), ("n00019613", "substance"), ("n00020090", "substance"),
    ("n00027807", "shape"), ("n06791372", "signal"), ("n06793231", "sign"), ("n09287968", "geological formation"),
    ("n15046900", "solid"),
]


def test_class_map_is_one_label_wnid_per_line_in_label_order(curate_cli, depth3, tmp_path):
    out = tmp_path / "classes.txt"
    result = curate_cli("export", "class-map", depth3, "-o", out)
    assert (result.exit_code, result.stdout) == (0, f"{out}\n")
    assert out.read_text() == "".join(f"{wnid}\n" for wnid, _ in DEPTH3_LABELS)


def test_class_map_reads_back_as_timm_reads_it(curate_cli, depth3, tmp_path):
    out = tmp_path / "classes.txt"
    curate_cli("export", "class-map", depth3, "-o", out)
    with open(out) as f:  # timm.data.readers.class_map.load_class_map, for a .txt file
        class_to_idx = {v.strip(): k for k, v in enumerate(f)}
    assert class_to_idx == {wnid: index for index, (wnid, _) in enumerate(DEPTH3_LABELS)}


def test_labels_table_maps_each_output_index_to_its_class(curate_cli, depth3, tmp_path):
    out = tmp_path / "labels.tsv"
    assert curate_cli("export", "labels-table", depth3, "-o", out).exit_code == 0
    assert out.read_text() == "".join(f"{i}\t{wnid}\t{name}\n" for i, (wnid, name) in enumerate(DEPTH3_LABELS))


def test_labels_table_of_a_set_with_removed_classes(curate_cli, tmp_path):
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: None})
    out = tmp_path / "labels.tsv"
    assert curate_cli("export", "labels-table", labels, "-o", out).exit_code == 0
    assert out.read_text() == f"0\t{SHARK}\tshark\n1\t{FISH}\tfish\n"


NUMBERINGS = [("imagenet12k", "imagenet12k_synsets.txt"), ("imagenet21k-p-fall11", "imagenet21k_miil_synsets.txt"),
              ("imagenet21k-p-winter21", "imagenet21k_miil_w21_synsets.txt"),
              ("imagenet22k-ms", "imagenet22k_ms_synsets.txt"), ("imagenet21k-goog", "imagenet21k_goog_synsets.txt")]


@pytest.mark.parametrize("numbering, timm_file", NUMBERINGS, ids=[name for name, _ in NUMBERINGS])
def test_class_map_of_a_numbering_is_timms_file(curate_cli, tmp_path, numbering, timm_file):
    timm = pytest.importorskip("timm")
    out = tmp_path / "classes.txt"
    result = curate_cli("export", "class-map", numbering, "-o", out)
    assert (result.exit_code, result.stdout) == (0, f"{out}\n")
    assert out.read_text() == (Path(timm.__file__).parent / "data" / "_info" / timm_file).read_text()


def test_labels_table_of_microsofts_22k_names_its_outputs_in_its_order(curate_cli, tmp_path):
    out = tmp_path / "labels.tsv"
    assert curate_cli("export", "labels-table", "imagenet22k-ms", "-o", out).exit_code == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 21_842
    assert (lines[0], lines[999], lines[1000]) == ("0\tn01440764\ttench", "999\tn15075141\ttoilet tissue",
                                                 "1000\tn00004475\torganism")


def table_of(tmp_path, index, mapping=None):
    """The image table of `index` under `mapping` (class -> label), by `curate images apply`."""
    labels = labels_file(tmp_path, mapping or {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK, TIGER_SHARK: None})
    out = tmp_path / "table.parquet"
    result = run("apply", "--labels", labels, "--images", index, "-o", out, "--allow-missing")
    assert result.exit_code == 0, result.stderr
    return out


def test_imagefolder_links_each_image_under_its_label(curate_cli, tmp_path):
    table = table_of(tmp_path, index_of(tmp_path, {TENCH: 2, GOLDFISH: 1, WHITE_SHARK: 1, TIGER_SHARK: 1}))
    out = tmp_path / "folder"
    result = curate_cli("export", "imagefolder", table, "-o", out)
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{out}\n", f"4 links to images of {table}.\n")
    tree = {str(p.relative_to(out)): os.readlink(p) for p in out.rglob("*") if p.is_symlink()}
    root = tmp_path / "nowhere"
    assert tree == {f"{label}/{wnid}_{i}.JPEG": str(root / wnid / f"{wnid}_{i}.JPEG")
                    for label, wnid, i in [(FISH, TENCH, 0), (FISH, TENCH, 1), (FISH, GOLDFISH, 0), (SHARK, WHITE_SHARK, 0)]}
    assert sorted(os.listdir(out)) == ["classes.txt", SHARK, FISH] and sorted(os.listdir(tmp_path)).count("folder") == 1
    assert (out / "classes.txt").read_text() == f"{SHARK}\n{FISH}\n"
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".folder")]


def test_imagefolder_refuses_images_inside_tar_archives(curate_cli, tmp_path):
    root = tmp_path / "train"
    root.mkdir()
    make_tar(root / f"{TENCH}.tar", {f"{TENCH}_0.JPEG": b"x"})
    index = tmp_path / "index.parquet"
    assert run("index", root, "-o", index).exit_code == 0
    table = table_of(tmp_path, index, {TENCH: FISH})
    result = curate_cli("export", "imagefolder", table, "-o", tmp_path / "folder")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (f"Error: The table has 1 image inside tar archives, Parquet shards or a store ({TENCH}.tar/{TENCH}_0.JPEG), "
                             "which a symlink cannot point into: give --copy to copy their bytes out.\n")
    assert sorted(os.listdir(tmp_path)) == ["index.parquet", "labels.parquet", "table.parquet", "train"]


def test_imagefolder_refuses_two_images_of_one_label_with_one_file_name(curate_cli, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{TENCH}/a.JPEG 1\n{GOLDFISH}/a.JPEG 2\n")
    index = tmp_path / "index.parquet"
    assert run("index", tmp_path / "nowhere", "--file-list", listing, "-o", index).exit_code == 0
    result = curate_cli("export", "imagefolder", table_of(tmp_path, index, {TENCH: FISH, GOLDFISH: FISH}), "-o", tmp_path / "folder")
    assert (result.exit_code, result.stderr) == (
        1, f"Error: Images of one label share a file name, so one folder cannot hold both: {FISH}/a.JPEG.\n")
    assert not (tmp_path / "folder").exists()


@pytest.mark.parametrize("command,name", [("class-map", "classes.txt"), ("labels-table", "labels.tsv"),
                                          ("imagefolder", "folder"), ("webdataset", "shards")])
@pytest.mark.parametrize("existing", ["file", "folder", "dangling link"])
def test_an_existing_target_is_refused_and_left_as_it_was(curate_cli, depth3, tmp_path, command, name, existing):
    source = depth3 if command in ("class-map", "labels-table") else table_of(tmp_path, index_of(tmp_path, {TENCH: 1}), {TENCH: FISH})
    target = tmp_path / name
    if existing == "file":
        target.write_text("mine\n")
    elif existing == "folder":
        target.mkdir()
    else:
        target.symlink_to(tmp_path / "absent")
    before = sorted(os.listdir(tmp_path))
    result = curate_cli("export", command, source, "-o", target)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: {target} exists already: an export never replaces anything, so remove it or name another.\n"
    assert sorted(os.listdir(tmp_path)) == before
    assert target.read_text() == "mine\n" if existing == "file" else True
    assert target.is_dir() if existing == "folder" else True


def test_a_class_map_must_be_named_txt_for_timm(curate_cli, depth3, tmp_path):
    result = curate_cli("export", "class-map", depth3, "-o", tmp_path / "classes.csv")
    assert (result.exit_code, result.stderr) == (1, "Error: timm reads a class map only from a .txt file: name the output classes.txt.\n")
    assert not (tmp_path / "classes.csv").exists()


def test_an_export_into_a_missing_folder_is_refused(curate_cli, depth3, tmp_path):
    target = tmp_path / "no" / "labels.tsv"
    result = curate_cli("export", "labels-table", depth3, "-o", target)
    assert (result.exit_code, result.stderr) == (1, f"Error: Cannot write {target}: the folder {target.parent} does not exist.\n")


def test_an_interrupted_imagefolder_export_leaves_nothing(curate_cli, tmp_path, monkeypatch):
    table = table_of(tmp_path, index_of(tmp_path, {TENCH: 2, GOLDFISH: 1, WHITE_SHARK: 1}))
    before = sorted(os.listdir(tmp_path))
    links, symlink = [], os.symlink

    def symlink_then_interrupt(target, link):
        if links:
            raise KeyboardInterrupt
        links.append(symlink(target, link))

    monkeypatch.setattr("curate.images.exports.imagefolder.os.symlink", symlink_then_interrupt)
    result = curate_cli("export", "imagefolder", table, "-o", tmp_path / "folder")
    assert (result.exit_code, result.stderr) == (130, "Interrupted.\n")
    assert sorted(os.listdir(tmp_path)) == before
