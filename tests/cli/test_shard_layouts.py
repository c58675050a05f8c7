"""`curate images index` on ImageNet as people download it: Hugging Face's imagenet-1k Parquet shards, timm's
WebDataset shards and Kaggle's ILSVRC folders. Exact rows and pointers, the exact bytes training reads back
through them, and bad input refused in one sentence with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from image_world import GOLDFISH, TENCH, bytes_of, indexed, make_tar, refused, tiny_jpeg, touch

from curate.images.index import ImageIndex
from curate.labels.classlists import builtin_list

SHARD = "data/train-00000-of-00002.parquet"
WDS = "imagenet1k-train-0000.tar"


def hf_shard(path: Path, images: list[bytes], labels: list[int], row_group_size: int = 2) -> list[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = [{"bytes": data, "path": f"{i}.JPEG"} for i, data in enumerate(images)]
    pq.write_table(pa.table({"image": image, "label": pa.array(labels, pa.int64())}), path, row_group_size=row_group_size)
    return images


def wds_shard(path: Path, samples: dict[str, dict[str, bytes]]) -> Path:
    """A WebDataset shard: KEY.jpg, KEY.cls, KEY.json... members, in sample order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_tar(path, {f"{key}.{part}": data for key, parts in samples.items() for part, data in parts.items()})


# --- Hugging Face imagenet-1k Parquet shards ---------------------------------------------------------------


def test_hf_shards_index_every_labelled_row_by_its_number(curate_cli, tmp_path, ilsvrc):
    root = tmp_path / "imagenet-1k"
    images = hf_shard(root / SHARD, [tiny_jpeg(i * 40) for i in range(5)], [0, 1, -1, 999, 1], row_group_size=3)
    hf_shard(root / "data/train-00001-of-00002.parquet", [tiny_jpeg(7)], [2])
    hf_shard(root / "data/validation-00000-of-00001.parquet", [tiny_jpeg(9)], [3])
    index = indexed(curate_cli, root)
    assert index.rows.select(["path", "wnid", "split", "size", "archive", "offset"]).to_pylist() == [
        {"path": f"{SHARD}/{row}", "wnid": ilsvrc.wnids[label], "split": "train", "size": None, "archive": SHARD, "offset": row}
        for row, label in ((0, 0), (1, 1), (3, 999), (4, 1))
    ] + [{"path": "data/train-00001-of-00002.parquet/0", "wnid": ilsvrc.wnids[2], "split": "train", "size": None,
          "archive": "data/train-00001-of-00002.parquet", "offset": 0}]
    assert index.metadata["layout"] == "Hugging Face Parquet shards"
    assert json.loads(index.metadata["report"])["unlabelled"] == 1
    read = bytes_of(index)
    for row in (0, 1, 3, 4):  # rows 3 and 4 lie in the second row group
        assert read[f"{SHARD}/{row}"] == (images[row], images[row])


def test_hf_val_split_reads_the_validation_shards(curate_cli, tmp_path, ilsvrc):
    root = tmp_path / "imagenet-1k"
    hf_shard(root / SHARD, [tiny_jpeg(1)], [0])
    (image,) = hf_shard(root / "data/validation-00000-of-00001.parquet", [tiny_jpeg(2)], [5])
    index = indexed(curate_cli, root, "--split", "val")
    assert index.rows.select(["path", "wnid", "split"]).to_pylist() == [
        {"path": "data/validation-00000-of-00001.parquet/0", "wnid": ilsvrc.wnids[5], "split": "val"}]
    assert bytes_of(index)["data/validation-00000-of-00001.parquet/0"] == (image, image)


def test_hf_verify_decodes_each_row_and_reports_the_broken(curate_cli, tmp_path):
    root = tmp_path / "imagenet-1k"
    images = [tiny_jpeg(i) for i in range(40)]
    images[13] = b"not a jpeg"
    hf_shard(root / SHARD, images, [i % 7 for i in range(40)], row_group_size=4)
    index = indexed(curate_cli, root, "--verify")
    assert index.rows["offset"].to_pylist() == sorted(set(range(40)) - {13}, key=lambda row: f"{SHARD}/{row}")
    assert json.loads(index.metadata["report"])["broken"] == 1


def not_parquet(path: Path) -> None:
    touch(path, b"PAR1 but not really")


def without_image(path: Path) -> None:
    pq.write_table(pa.table({"jpeg": [b"x"], "label": [0]}), path)


def image_without_bytes(path: Path) -> None:
    pq.write_table(pa.table({"image": [{"path": "a.JPEG"}], "label": [0]}), path)


def label_1000(path: Path) -> None:
    hf_shard(path, [tiny_jpeg(1)], [1000])


@pytest.mark.parametrize(
    "make, sentence",
    [
        (not_parquet, f"{SHARD} is not a Parquet file, so it cannot be read as a Hugging Face shard."),
        (without_image, f"{SHARD} has no `image` column with the images' bytes: it is not a table of images as Hugging Face datasets writes one."),
        (image_without_bytes, f"{SHARD} has no `image` column with the images' bytes: it is not a table of images as Hugging Face datasets writes one."),
        (label_1000, f"Row 0 of {SHARD} has label 1000, outside 0..999, the 1,000 classes of imagenet1k "
                     "(-1 marks an unlabelled image)."),
    ],
    ids=["not parquet", "no image column", "image without bytes", "label outside the list"],
)
def test_hf_bad_shards_are_refused(curate_cli, tmp_path, make, sentence):
    (tmp_path / "hf" / "data").mkdir(parents=True)
    make(tmp_path / "hf" / SHARD)
    refused(curate_cli("images", "index", tmp_path / "hf", "-o", tmp_path / "index.parquet"), sentence)
    assert not (tmp_path / "index.parquet").exists()


def test_hf_test_split_has_no_labels_to_index(curate_cli, tmp_path):
    root = tmp_path / "hf"
    hf_shard(root / "data/test-00000-of-00001.parquet", [tiny_jpeg(1)], [-1])
    refused(curate_cli("images", "index", root, "--split", "test", "-o", tmp_path / "index.parquet"),
            f"{root} holds no labelled images in Parquet shards test-*-of-*.parquet (no class label: 1).")


# --- timm's WebDataset shards ------------------------------------------------------------------------------


def test_wds_shards_index_each_image_at_its_member_offset(curate_cli, tmp_path, ilsvrc):
    root = tmp_path / "wds"
    images = {f"n{i}": tiny_jpeg(i * 30) for i in range(3)}
    samples = {key: {"jpg": data, "cls": f"{7 * i}\n".encode(), "json": b'{"label": 0}'} for i, (key, data) in enumerate(images.items())}
    samples["lost"] = {"jpg": tiny_jpeg(99)}  # an image without a .cls
    samples["README"] = {"txt": b"hello"}
    wds_shard(root / WDS, samples)
    wds_shard(root / "imagenet1k-validation-00.tar", {"v": {"jpg": tiny_jpeg(5), "cls": b"1"}})
    index = indexed(curate_cli, root)
    rows = index.rows.select(["path", "wnid", "split", "archive"]).to_pylist()
    assert rows == [{"path": f"{WDS}/n{i}.jpg", "wnid": ilsvrc.wnids[7 * i], "split": "train", "archive": WDS} for i in range(3)]
    data = (root / WDS).read_bytes()
    for row in index.rows.to_pylist():
        assert data[row["offset"]: row["offset"] + row["size"]] == images[row["path"][len(WDS) + 1: -len(".jpg")]]
    assert set(bytes_of(index).values()) == {(image, image) for image in images.values()}
    assert json.loads(index.metadata["report"])["unlabelled"] == 1 and json.loads(index.metadata["report"])["not_image"] == 1


def test_wds_22k_shards_number_the_fall_2011_classes(curate_cli, tmp_path):
    root = tmp_path / "wds"
    wds_shard(root / "imagenet22k-validation-0000.tar", {"a": {"jpg": tiny_jpeg(1), "cls": b"21840"}})
    index = indexed(curate_cli, root, "--split", "val")
    assert index.rows["wnid"].to_pylist() == [builtin_list("imagenet22k").wnids[21840]]


def test_wds_filenames_label_a_release_without_a_list_and_samples_without_a_cls(curate_cli, tmp_path, ilsvrc):
    root, tench, goldfish = tmp_path / "wds", ilsvrc.wnids[0], ilsvrc.wnids[1]
    named = {"a": {"jpg": tiny_jpeg(1), "cls": b"4021", "json": f'{{"filename": "{goldfish}_3.JPEG"}}'.encode()}}
    wds_shard(root / "imagenet21k-train-0000.tar", named)
    wds_shard(root / WDS, {"b": {"jpg": tiny_jpeg(2), "json": f'{{"label": 0, "filename": "{tench}_9.JPEG"}}'.encode()},
                           "c": {"jpg": tiny_jpeg(3), "cls": b"1", "json": b'{"filename": "ILSVRC2012_val_00000001.JPEG"}'}})
    index = indexed(curate_cli, root)
    assert dict(zip(index.rows["path"].to_pylist(), index.rows["wnid"].to_pylist())) == {
        f"{WDS}/b.jpg": tench, f"{WDS}/c.jpg": goldfish, "imagenet21k-train-0000.tar/a.jpg": goldfish}


@pytest.mark.parametrize(
    "shard, members, sentence",
    [
        (WDS, {"a.jpg": b"x", "a.cls": b"1000"},
         f"a.cls in {WDS} names class 1000, outside 0..999, the 1,000 classes of imagenet1k."),
        (WDS, {"a.jpg": b"x", "a.cls": b"tench"}, f"a.cls in {WDS} is not a class number: b'tench'."),
        ("imagenet21k-train-0000.tar", {"a.jpg": b"x", "a.cls": b"1", "a.json": b'{"label": 1}'},
         "imagenet21k-train-0000.tar is a shard of imagenet21k, whose class numbers curate has no list for (it "
         "numbers imagenet1k-*, imagenet22k-* and imagenet12k-* shards), and a.cls in imagenet21k-train-0000.tar has "
         "no .json whose filename names a wnid: give --classes, a built-in numbering (`curate lists`) or a file of "
         "one wnid per line in label order."),
        (WDS, {"a.jpg": b"x", "a.cls": b"1", "a.json": b'{"filename": "n01440764_7.JPEG"}'},
         f"a.cls in {WDS} names n01443537 but the filename in its .json names n01440764."),
        (WDS, {"a.jpg": b"x", "a.cls": b"1", "a.json": b"label=1"}, f"a.json in {WDS} is not JSON: b'label=1'."),
    ],
    ids=["cls outside the list", "cls not a number", "unknown release without filenames", "cls and filename disagree",
         "json not json"],
)
def test_wds_bad_samples_are_refused(curate_cli, tmp_path, shard, members, sentence):
    (tmp_path / "wds").mkdir()
    make_tar(tmp_path / "wds" / shard, members)
    refused(curate_cli("images", "index", tmp_path / "wds", "-o", tmp_path / "index.parquet"), sentence)
    assert not (tmp_path / "index.parquet").exists()


def test_a_wds_shard_that_is_no_tar_is_refused(curate_cli, tmp_path):
    touch(tmp_path / "wds" / WDS, b"not a tar archive at all" * 40)
    result = curate_cli("images", "index", tmp_path / "wds", "-o", tmp_path / "index.parquet")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Error: {WDS} is not a readable tar archive (") and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "index.parquet").exists()


# --- Kaggle's ILSVRC download ------------------------------------------------------------------------------

CLS_LOC = "ILSVRC/Data/CLS-LOC"


@pytest.fixture
def kaggle(tmp_path) -> Path:
    root = tmp_path / "imagenet-object-localization-challenge"
    touch(root / "LOC_synset_mapping.txt", f"{TENCH} tench, Tinca tinca\n{GOLDFISH} goldfish\n".encode())
    touch(root / "LOC_train_solution.csv", f"ImageId,PredictionString\n{TENCH}_1,{TENCH} 1 2 3 4\n".encode())
    touch(root / "LOC_val_solution.csv", f"ImageId,PredictionString\nILSVRC2012_val_00000001,{GOLDFISH} 1 2 3 4 {GOLDFISH} 5 6 7 8\n".encode())
    touch(root / CLS_LOC / "train" / TENCH / f"{TENCH}_1.JPEG", tiny_jpeg(1))
    touch(root / CLS_LOC / "train" / TENCH / f"{TENCH}_2.JPEG", tiny_jpeg(2))
    touch(root / CLS_LOC / "train" / GOLDFISH / "notes.txt")
    touch(root / CLS_LOC / "val" / "ILSVRC2012_val_00000001.JPEG", tiny_jpeg(3))
    touch(root / CLS_LOC / "val" / "ILSVRC2012_val_00000002.JPEG", tiny_jpeg(4))
    touch(root / CLS_LOC / "test" / "ILSVRC2012_test_00000001.JPEG", tiny_jpeg(5))
    return root


def test_kaggle_folders_are_checked_against_its_image_lists(curate_cli, tmp_path, kaggle):
    lists = kaggle / "ILSVRC/ImageSets/CLS-LOC"
    touch(lists / "train_cls.txt", f"{TENCH}/{TENCH}_1 1\n{GOLDFISH}/{GOLDFISH}_5 2\n".encode())
    touch(lists / "val.txt", b"ILSVRC2012_val_00000001 1\nILSVRC2012_val_00000002 2\nILSVRC2012_val_00000003 3\n")
    train, val = tmp_path / "train.json", tmp_path / "val.json"
    assert curate_cli("images", "index", kaggle, "-o", tmp_path / "train.parquet", "--report", train, "-q").exit_code == 0
    assert curate_cli("images", "index", kaggle, "--split", "val", "-o", tmp_path / "val.parquet", "--report", val,
                      "-q").exit_code == 0
    train, val = json.loads(train.read_text()), json.loads(val.read_text())
    assert (train["missing"], train["unlisted"]) == ([f"{CLS_LOC}/train/{GOLDFISH}/{GOLDFISH}_5"],
                                                     [f"{CLS_LOC}/train/{TENCH}/{TENCH}_2.JPEG"])
    assert (val["missing"], val["unlisted"]) == ([f"{CLS_LOC}/val/ILSVRC2012_val_00000003"], [])
    assert val["unlabelled"] == [f"{CLS_LOC}/val/ILSVRC2012_val_00000002.JPEG"]
    assert ImageIndex.read(tmp_path / "train.parquet").rows.num_rows == 2


def test_kaggle_train_is_its_class_folders_with_paths_from_the_root(curate_cli, tmp_path, kaggle):
    out, report = tmp_path / "index.parquet", tmp_path / "report.json"
    assert curate_cli("images", "index", kaggle, "-o", out, "--report", report, "-q").exit_code == 0
    index = ImageIndex.read(out)
    assert index.rows.select(["path", "wnid", "split"]).to_pylist() == [
        {"path": f"{CLS_LOC}/train/{TENCH}/{TENCH}_{i}.JPEG", "wnid": TENCH, "split": "train"} for i in (1, 2)]
    assert index.metadata["layout"] == "Kaggle ILSVRC train" and index.root == str(kaggle.resolve())
    assert json.loads(report.read_text())["not_image"] == [f"{CLS_LOC}/train/{GOLDFISH}/notes.txt"]
    assert bytes_of(index)[f"{CLS_LOC}/train/{TENCH}/{TENCH}_2.JPEG"] == (tiny_jpeg(2), tiny_jpeg(2))


def test_kaggle_val_is_labelled_by_loc_val_solution(curate_cli, kaggle):
    index = indexed(curate_cli, kaggle, "--split", "val")
    assert index.rows.select(["path", "wnid", "split"]).to_pylist() == [
        {"path": f"{CLS_LOC}/val/ILSVRC2012_val_00000001.JPEG", "wnid": GOLDFISH, "split": "val"}]
    assert json.loads(index.metadata["report"])["unlabelled"] == 1


def test_kaggle_test_images_have_no_labels(curate_cli, tmp_path, kaggle):
    refused(curate_cli("images", "index", kaggle, "--split", "test", "-o", tmp_path / "index.parquet"),
            "Kaggle's ILSVRC test images have no labels: index --split train or --split val.")
    assert not (tmp_path / "index.parquet").exists()


def test_kaggle_val_without_its_solution_is_refused(curate_cli, tmp_path, kaggle):
    (kaggle / "LOC_val_solution.csv").unlink()
    refused(curate_cli("images", "index", kaggle, "--split", "val", "-o", tmp_path / "index.parquet"),
            f"{kaggle / 'LOC_val_solution.csv'} does not exist.")
