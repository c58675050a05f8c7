"""curate's exports read by the trainers' own readers: torchvision's ImageFolder, timm's folder and WebDataset
readers, webdataset. Each image's class is told by its colour (a truth the export cannot copy from curate's own
rows), and every image's target must be curate's label for that class."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from image_world import make_tar, touch

from curate.labels.classlists import builtin_list
from curate.labels.manifest import read_labels

Image = pytest.importorskip("PIL.Image")
ImageFolder = pytest.importorskip("torchvision.datasets").ImageFolder
timm_data = pytest.importorskip("timm.data")
wds = pytest.importorskip("webdataset")

CLASSES = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475", "n01496331"]  # ILSVRC-2012 classes 0-5
PALETTE = [(230, 25, 25), (25, 230, 25), (25, 25, 230), (230, 230, 25), (230, 25, 230), (25, 230, 230), (128, 128, 128),
           (250, 250, 250)]
CURATE = Path(sys.executable).parent / "curate"


def picture(colour, n: int, fmt: str = "JPEG") -> bytes:
    data = io.BytesIO()
    Image.new("RGB", (40 + n, 30 + n), colour).save(data, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return data.getvalue()


def class_of(image, classes: list[str]) -> str:
    """The class whose colour the image is (nearest in mean colour): the truth, from the pixels alone."""
    mean = np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(0)
    return min(classes, key=lambda wnid: sum((a - b) ** 2 for a, b in zip(mean, PALETTE[classes.index(wnid)])))


def images_of(classes: list[str], per_class: int) -> dict[str, bytes]:
    """`<wnid>/<wnid>_<i>.JPEG` -> a JPEG in the class's colour, every one a different size (so different bytes)."""
    return {f"{wnid}/{wnid}_{i}.JPEG": picture(PALETTE[n], n * per_class + i) for n, wnid in enumerate(classes)
            for i in range(per_class)}


def class_folders(root: Path, images: dict[str, bytes]) -> Path:
    for path, data in images.items():
        touch(root / path, data)
    return root


def tar_archives(root: Path, images: dict[str, bytes]) -> Path:
    """One tar archive a class, as image-net.org ships its per-synset downloads."""
    root.mkdir(parents=True)
    for wnid in sorted({path.split("/")[0] for path in images}):
        make_tar(root / f"{wnid}.tar", {path.split("/")[1]: data for path, data in images.items() if path.startswith(wnid)})
    return root


def hf_shards(root: Path, images: dict[str, bytes]) -> Path:
    """One Parquet shard as Hugging Face `datasets` writes it (Dataset.to_parquet and push_to_hub, datasets 5.2):
    an `image` struct of bytes and path, an int64 `label` of a ClassLabel whose names are declared in the
    `huggingface` key of the schema's metadata (here the ILSVRC-2012 wnids, labels their sorted index), row
    groups of 100 rows (its writer batch size for images)."""
    wnids = builtin_list("ilsvrc2012").wnids
    features = {"image": {"_type": "Image"}, "label": {"names": list(wnids), "_type": "ClassLabel"}}
    table = pa.table({"image": [{"bytes": data, "path": path.split("/")[1]} for path, data in images.items()],
                      "label": pa.array([wnids.index(path.split("/")[0]) for path in images], pa.int64())})
    table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    (root / "data").mkdir(parents=True)
    pq.write_table(table, root / "data" / "train-00000-of-00001.parquet", row_group_size=100)
    return root


def ok(result):
    assert result.exit_code == 0, result.stderr
    return result


def table_of(curate_cli, tmp_path: Path, root: Path, labels: Path, *index_options) -> Path:
    """`curate images index ROOT`, then `curate images apply --labels LABELS`: the table."""
    ok(curate_cli("images", "index", root, *index_options, "-o", tmp_path / "index.parquet", "-q"))
    ok(curate_cli("images", "apply", "--labels", labels, "--images", tmp_path / "index.parquet", "--allow-missing",
                  "-o", tmp_path / "table.parquet", "-q"))
    return tmp_path / "table.parquet"


def coarsened(curate_cli, tmp_path: Path, classes: list[str], depth: int) -> Path:
    """`curate coarsen --base <classes> --depth DEPTH`: the manifest."""
    (tmp_path / "base.txt").write_text("".join(f"{wnid}\n" for wnid in classes))
    ok(curate_cli("coarsen", "--base", tmp_path / "base.txt", "--depth", depth, "-o", tmp_path / "labels.parquet", "-q"))
    return tmp_path / "labels.parquet"


def identity_labels(curate_cli, tmp_path: Path, classes: list[str]) -> Path:
    """The label set of `classes`, each its own label, in wnid order (these fish lie less than 17 steps deep)."""
    manifest = coarsened(curate_cli, tmp_path, classes, 17)
    assert curate_label_of(manifest) == {wnid: n for n, wnid in enumerate(sorted(classes))}
    return manifest


def store_table(curate_cli, tmp_path: Path, images: dict[str, bytes], labels: Path, *pack_options) -> Path:
    """The class folders of `images` indexed, packed into a store (JPEG unless told, 24 px), and the table of the store's index."""
    ok(curate_cli("images", "index", class_folders(tmp_path / "train", images), "-o", tmp_path / "source.parquet", "-q"))
    ok(curate_cli("images", "pack", tmp_path / "source.parquet", "--size", "24", *pack_options, "-o", tmp_path / "store", "-q"))
    ok(curate_cli("images", "apply", "--labels", labels, "--images", tmp_path / "store" / "index.parquet",
                  "-o", tmp_path / "table.parquet", "-q"))
    return tmp_path / "table.parquet"


def curate_label_of(manifest: Path) -> dict[str, int]:
    """class wnid -> its label, as the manifest defines it."""
    labels = read_labels(manifest)
    return {row.wnid: labels.label_index[row.label_wnid] for row in labels.kept}


def assert_every_target(samples, classes: list[str], label_of: dict[str, int], count: int) -> None:
    """Every (image, target) read has the label of the class its colour says, and none is missing."""
    seen = [(class_of(image, classes), target) for image, target in samples]
    assert len(seen) == count
    assert [target for _, target in seen] == [label_of[wnid] for wnid, _ in seen]


def read_by_torchvision(folder: Path, **options):
    dataset = ImageFolder(str(folder), **options)
    return dataset, [(Image.open(path), target) for path, target in dataset.samples]


def read_by_timm(folder: Path, **options):
    return list(timm_data.create_dataset("", root=str(folder), **options))


# --- export imagefolder: curate's label ids in ImageFolder readers ------------------------------------------


def test_an_imagefolder_of_a_table_with_labels_without_images_is_refused_or_given_empty_folders(curate_cli, tmp_path):
    labels = identity_labels(curate_cli, tmp_path, CLASSES)
    images = {path: data for path, data in images_of(CLASSES, 2).items() if path.split("/")[0] in CLASSES[::2]}
    table = table_of(curate_cli, tmp_path, class_folders(tmp_path / "val", images), labels, "--split", "val")
    out = tmp_path / "val-folder"
    result = curate_cli("export", "imagefolder", table, "-o", out)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: 3 labels of the 6 have no images in the table (label 1, 3, 5), and ImageFolder readers number only "
        "the folders that hold images: give --labels, the label set the table was made with, for an empty folder "
        "each (torchvision's ImageFolder reads them with allow_empty=True, timm with the class map classes.txt).\n")
    assert not out.exists() and not [name for name in os.listdir(tmp_path) if name.startswith(".val-folder")]

    result = ok(curate_cli("export", "imagefolder", table, "--labels", labels, "-o", out))
    assert result.stderr == (f"6 links to images of {table}.\n3 label folders are empty ({CLASSES[1]}, {CLASSES[3]}, "
                             f"{CLASSES[5]}): read them with torchvision's ImageFolder(allow_empty=True), or timm's "
                             "--class-map classes.txt.\n")
    dataset, samples = read_by_torchvision(out, allow_empty=True)
    assert dataset.classes == CLASSES
    assert_every_target(samples, CLASSES, curate_label_of(labels), 6)
    assert_every_target(read_by_timm(out, class_map="classes.txt"), CLASSES, curate_label_of(labels), 6)
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes"):
        ImageFolder(str(out))  # torchvision's default says so aloud, never numbers them wrongly


def test_imagefolder_refuses_a_label_set_the_table_was_not_made_with(curate_cli, tmp_path):
    labels = identity_labels(curate_cli, tmp_path, CLASSES)
    table = table_of(curate_cli, tmp_path, class_folders(tmp_path / "val", images_of(CLASSES[:1], 1)), labels, "--split", "val")
    ok(curate_cli("coarsen", "--depth", "3", "-o", tmp_path / "other.parquet", "-q"))
    result = curate_cli("export", "imagefolder", table, "--labels", tmp_path / "other.parquet", "-o", tmp_path / "out")
    assert (result.exit_code, result.stderr) == (
        1, "Error: The table was not made with the label set --labels: give the one `curate images apply` made it with.\n")
    assert not (tmp_path / "out").exists()


def test_an_imagefolder_of_labels_not_in_wnid_order_is_read_in_label_order(curate_cli, tmp_path):
    base = tmp_path / "base.txt"  # teddy bear sorts last by wnid, but keeps its base label 3
    base.write_text("n01440764\nn01443537\nn02085620\nn04399382\n")
    manifest = tmp_path / "extended.parquet"
    ok(curate_cli("extend", "--base", base, "--add", "4", "--branch", "n02084071", "--branch", "n03001627",
                  "--keep-base-order", "-o", manifest, "-q"))
    classes = sorted(row.wnid for row in read_labels(manifest).kept)
    table = table_of(curate_cli, tmp_path, class_folders(tmp_path / "train", images_of(classes, 2)), manifest)
    out = tmp_path / "folder"
    ok(curate_cli("export", "imagefolder", table, "-o", out))
    label_of = curate_label_of(manifest)
    folders = [f"{label}-{wnid}" for wnid, label in sorted(label_of.items(), key=lambda item: item[1])]
    assert folders[:4] == ["0-n01440764", "1-n01443537", "2-n02085620", "3-n04399382"]
    assert (out / "classes.txt").read_text() == "".join(f"{name}\n" for name in folders)
    dataset, samples = read_by_torchvision(out)
    assert dataset.classes == folders
    assert_every_target(samples, classes, label_of, 16)
    assert_every_target(read_by_timm(out), classes, label_of, 16)


@pytest.mark.parametrize("source", ["tar archives", "Hugging Face shards", "a JPEG store"])
def test_imagefolder_copy_takes_the_bytes_out_of_any_source(curate_cli, tmp_path, source):
    images = images_of(CLASSES[:3], 3)
    labels = identity_labels(curate_cli, tmp_path, CLASSES[:3])
    if source == "tar archives":
        table = table_of(curate_cli, tmp_path, tar_archives(tmp_path / "train", images), labels)
    elif source == "Hugging Face shards":
        table = table_of(curate_cli, tmp_path, hf_shards(tmp_path / "imagenet", images), labels)
    else:
        table = store_table(curate_cli, tmp_path, images, labels)
    out = tmp_path / "folder"
    linked = curate_cli("export", "imagefolder", table, "-o", out)
    assert linked.exit_code == 1 and "which a symlink cannot point into: give --copy to copy their bytes out." in linked.stderr
    assert ok(curate_cli("export", "imagefolder", table, "--copy", "-o", out)).stderr == f"9 copies of images of {table}.\n"
    dataset, samples = read_by_torchvision(out)
    assert_every_target(samples, CLASSES[:3], curate_label_of(labels), 9)
    copied = {path: Path(path).read_bytes() for path, _ in dataset.samples}
    if source != "a JPEG store":  # the very bytes of the source, each under its class's label
        assert sorted(hashlib.sha256(data).hexdigest() for data in copied.values()) == \
            sorted(hashlib.sha256(data).hexdigest() for data in images.values())
    if source == "Hugging Face shards":  # a row's file is named by its shard and row, with its format's suffix
        assert sorted(os.listdir(out / CLASSES[0])) == [f"train-00000-of-00001-{row}.jpg" for row in range(3)]


# --- export webdataset: read by webdataset and timm -----------------------------------------------------------


def test_webdataset_shards_are_read_by_webdataset_and_timm_with_curate_s_labels(curate_cli, tmp_path):
    images = images_of(CLASSES[:4], 2)
    images[f"{CLASSES[3]}/{CLASSES[3]}_9.bmp"] = picture(PALETTE[3], 9, "BMP")  # a format timm does not read: PNG
    manifest = coarsened(curate_cli, tmp_path, CLASSES[:4], 11)  # the sharks: label 0; tench and goldfish: label 1
    label_of = curate_label_of(manifest)
    assert label_of == {CLASSES[0]: 1, CLASSES[1]: 1, CLASSES[2]: 0, CLASSES[3]: 0}
    table = table_of(curate_cli, tmp_path, tar_archives(tmp_path / "train", images), manifest)
    out = tmp_path / "shards"
    result = ok(curate_cli("export", "webdataset", table, "--shard-size", "4", "-o", out))
    assert (result.stdout, result.stderr) == (f"{out}\n", f"train: 9 images in 3 shards, from {table}.\n")
    assert sorted(os.listdir(out)) == ["_info.json", "train-000000.tar", "train-000001.tar", "train-000002.tar"]
    assert json.loads((out / "_info.json").read_text()) == {"name": "shards", "num_classes": 2, "splits": {"train": {
        "name": "train", "filenames": ["train-000000.tar", "train-000001.tar", "train-000002.tar"],
        "shard_lengths": [4, 4, 1], "num_samples": 9}}}

    shards = [str(out / f"train-{n:06d}.tar") for n in range(3)]
    read = list(wds.WebDataset(shards, shardshuffle=False).decode("pil").to_tuple("__key__", "jpg;png", "cls", "json"))
    assert [key for key, *_ in read] == [f"train-{n:09d}" for n in range(9)]
    assert_every_target([(image, target) for _, image, target, _ in read], CLASSES[:4], label_of, 9)
    for _, image, target, about in read:
        wnid = class_of(image, CLASSES[:4])
        assert about == {"label": target, "label_wnid": read_labels(manifest).label_wnids[target], "wnid": wnid,
                         "path": about["path"], "split": "train"}
        assert about["path"].startswith(f"{wnid}.tar/{wnid}_")
    with tarfile.open(shards[0]) as tar:
        assert [member.name.split(".", 1)[1] for member in tar.getmembers()][:3] == ["jpg", "cls", "json"]
    raw = list(wds.WebDataset(shards, shardshuffle=False))
    assert sorted(next(iter(set(sample) & {"jpg", "png"})) for sample in raw) == ["jpg"] * 8 + ["png"]
    bmp = next(sample for sample in raw if json.loads(sample["json"])["path"].endswith(".bmp"))
    assert "png" in bmp and Image.open(io.BytesIO(bmp["png"])).getpixel((0, 0)) == PALETTE[3]

    timm_read = list(timm_data.create_dataset("wds/shards", root=str(out), split="train"))
    assert_every_target(timm_read, CLASSES[:4], label_of, 9)


def test_webdataset_shards_are_the_same_bytes_on_every_run(curate_cli, tmp_path):
    labels = identity_labels(curate_cli, tmp_path, CLASSES[:3])
    table = table_of(curate_cli, tmp_path, class_folders(tmp_path / "train", images_of(CLASSES[:3], 4)), labels)
    ok(curate_cli("export", "webdataset", table, "--shard-size", "5", "-o", tmp_path / "here", "-q"))
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    subprocess.run([CURATE, "export", "webdataset", table, "--shard-size", "5", "-o", tmp_path / "there", "-q"],
                   env=env, check=True)
    files = sorted(os.listdir(tmp_path / "here"))
    assert files == sorted(os.listdir(tmp_path / "there")) == ["_info.json", "train-000000.tar", "train-000001.tar",
                                                                "train-000002.tar"]
    assert all((tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes() for name in files[1:])
    info = json.loads((tmp_path / "there" / "_info.json").read_text())
    assert info == {**json.loads((tmp_path / "here" / "_info.json").read_text()), "name": "there"}
    ok(curate_cli("export", "webdataset", table, "--shard-size", "5", "--seed", "1", "-o", tmp_path / "seed1", "-q"))
    order, other = ([json.loads(sample["json"])["path"] for sample in wds.WebDataset(str(tmp_path / folder / "train-000000.tar"),
                                                                                   shardshuffle=False)]
                    for folder in ("here", "seed1"))
    assert order != other and order != sorted(order)  # shuffled, by the seed


@pytest.mark.parametrize("source", ["Hugging Face shards", "a JPEG store"])
def test_webdataset_of_a_table_over_shards_or_a_store(curate_cli, tmp_path, source):
    images = images_of(CLASSES[:3], 3)
    labels = identity_labels(curate_cli, tmp_path, CLASSES[:3])
    if source == "Hugging Face shards":
        table = table_of(curate_cli, tmp_path, hf_shards(tmp_path / "imagenet", images), labels)
    else:
        table = store_table(curate_cli, tmp_path, images, labels)
    ok(curate_cli("export", "webdataset", table, "-o", tmp_path / "shards", "-q"))
    read = timm_data.create_dataset("wds/shards", root=str(tmp_path / "shards"), split="train")
    assert_every_target(list(read), CLASSES[:3], curate_label_of(labels), 9)


# --- JPEG stores: their shards are WebDataset shards with labels --------------------------------------------


def test_a_jpeg_store_is_read_by_timm_with_the_class_numbers_of_its_index(curate_cli, tmp_path):
    classes = [CLASSES[1], CLASSES[4], CLASSES[5]]
    ok(curate_cli("images", "index", class_folders(tmp_path / "train", images_of(classes, 5)), "-o",
                  tmp_path / "index.parquet", "-q"))
    ok(curate_cli("images", "pack", tmp_path / "index.parquet", "--size", "24", "-o", tmp_path / "store", "-q"))
    info = json.loads((tmp_path / "store" / "_info.json").read_text())
    assert info == {"name": "store", "num_classes": 3, "classes": classes, "splits": {"train": {
        "name": "train", "filenames": ["shards/000000.tar"], "shard_lengths": [15], "num_samples": 15}}}
    number_of = curate_label_of(identity_labels(curate_cli, tmp_path, classes))  # the label set of the index's classes
    assert_every_target(timm_data.create_dataset("wds/store", root=str(tmp_path / "store"), split="train"), classes,
                        number_of, 15)
    read = wds.WebDataset(str(tmp_path / "store" / "shards" / "000000.tar"), shardshuffle=False).decode("pil")
    assert_every_target(list(read.to_tuple("jpg", "cls")), classes, number_of, 15)


def test_a_store_of_an_index_of_two_splits_names_its_one_split_all(tmp_path):
    from curate.images.index import ImageIndex
    from curate.images.pack import pack

    class_folders(tmp_path / "images", images_of(CLASSES[:2], 2))
    train, val = (ImageIndex.build(tmp_path / "images", split=split) for split in ("train", "val"))
    both = ImageIndex(pa.concat_tables([train.rows.slice(0, 2), val.rows.slice(2, 2)]), train.metadata)
    pack(both, tmp_path / "store", fmt="jpeg", size=24, workers=1)
    assert list(json.loads((tmp_path / "store" / "_info.json").read_text())["splits"]) == ["all"]
    assert_every_target(timm_data.create_dataset("wds/store", root=str(tmp_path / "store"), split="all"), CLASSES[:2],
                        {CLASSES[0]: 0, CLASSES[1]: 1}, 4)


# --- refusals ------------------------------------------------------------------------------------------------


def test_webdataset_refuses_a_raw_store_s_table(curate_cli, tmp_path):
    table = store_table(curate_cli, tmp_path, images_of(CLASSES[:2], 1), identity_labels(curate_cli, tmp_path, CLASSES[:2]),
                        "-f", "raw")
    for command in ("webdataset", "imagefolder"):
        result = curate_cli("export", command, table, "--copy" if command == "imagefolder" else "-q",
                            "-o", tmp_path / "out")
        assert (result.exit_code, result.stderr) == (1, "Error: The table's images are in a raw store, as pixels, not "
                                                        "image files: export the table made from the index the store was "
                                                        "packed from, or from a JPEG store's index.\n")
        assert not (tmp_path / "out").exists()


def test_webdataset_refuses_a_file_that_is_no_image_and_leaves_nothing(curate_cli, tmp_path):
    images = {**images_of(CLASSES[:1], 3), f"{CLASSES[0]}/{CLASSES[0]}_x.JPEG": b"not an image at all"}
    labels = identity_labels(curate_cli, tmp_path, CLASSES[:1])
    table = table_of(curate_cli, tmp_path, class_folders(tmp_path / "train", images), labels)
    before = sorted(os.listdir(tmp_path))
    result = curate_cli("export", "webdataset", table, "-o", tmp_path / "shards")
    assert (result.exit_code, result.stderr) == (1, f"Error: {CLASSES[0]}/{CLASSES[0]}_x.JPEG is not an image (JPEG, PNG, "
                                                    "WebP, GIF, TIFF or BMP): index with `curate images index --verify`, "
                                                    "which leaves out what does not decode, and make the table again.\n")
    assert sorted(os.listdir(tmp_path)) == before


def test_webdataset_refuses_a_shard_size_below_one(curate_cli, tmp_path):
    labels = identity_labels(curate_cli, tmp_path, CLASSES[:1])
    table = table_of(curate_cli, tmp_path, class_folders(tmp_path / "train", images_of(CLASSES[:1], 1)), labels)
    result = curate_cli("export", "webdataset", table, "--shard-size", "0", "-o", tmp_path / "shards")
    assert (result.exit_code, result.stderr) == (1, "Error: --shard-size must be 1 or more, not 0.\n")
    assert not (tmp_path / "shards").exists()
