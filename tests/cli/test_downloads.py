"""`curate images index` on ImageNet as the tools that write it leave it: Hugging Face `datasets` (push_to_hub's
shards, older versions' fingerprinted names, the hub's conversion, to_parquet, save_to_disk), webdataset's
ShardWriter, image-net.org's tar of tars and devkit, torchvision's ImageNet preparation. Each input is laid
out with its writer's exact names and metadata, every image's bytes are its own, and every indexed image's
class is checked against the class its bytes were made for, read back through what training reads."""

from __future__ import annotations

import io
import json
import random
import re
import shlex
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from image_world import bytes_of, indexed, refused, touch

from curate.images.index import ImageIndex
from curate.labels.classlists import builtin_list

HF_ROW_GROUP = 100  # datasets writes image datasets 100 rows a row group (PARQUET_ROW_GROUP_SIZE_FOR_IMAGE_DATASETS)


def jpeg(number: int) -> bytes:
    """A real JPEG whose bytes are its own: its size encodes `number`."""
    from PIL import Image

    data = io.BytesIO()
    Image.new("RGB", (8 + number % 64, 8 + number // 64), (number % 251, 90, 160)).save(data, "JPEG")
    return data.getvalue()


def images_of(wnids: list[str], per_class: int = 2, first: int = 0) -> dict[bytes, str]:
    """Distinct images, `per_class` of each class: image bytes -> the class they were made for."""
    return {jpeg(first + i * per_class + k): wnid for i, wnid in enumerate(wnids) for k in range(per_class)}


def assert_every_label(index: ImageIndex, truth: dict[bytes, str]) -> None:
    """Every image is indexed once, under the class its bytes were made for, and training reads the bytes
    curate reads."""
    read = bytes_of(index)
    assert all(trained == curated for trained, curated in read.values())
    found = {read[path][0]: wnid for path, wnid in zip(index.rows["path"].to_pylist(), index.rows["wnid"].to_pylist())}
    assert len(found) == index.rows.num_rows
    assert found == truth


def timm_list(name: str) -> list[str]:
    """A class list as timm ships it: one entry per line."""
    timm = pytest.importorskip("timm")
    return (Path(timm.__file__).parent / "data" / "_info" / name).read_text().split("\n")[:-1]


# --- Hugging Face: what datasets writes --------------------------------------------------------------------


def features(names: list[str] | None, legacy: bool = False) -> dict[bytes, bytes]:
    """The schema metadata datasets writes: `huggingface`, its Features as JSON (a ClassLabel with `names`; before
    datasets 2.x dropped them, also `num_classes`, `names_file` and `id`). None: a label that is a plain int."""
    if names is None:
        label = {"dtype": "int64", "_type": "Value"}
    elif legacy:
        label = {"num_classes": len(names), "names": names, "names_file": None, "id": None, "_type": "ClassLabel"}
    else:
        label = {"names": names, "_type": "ClassLabel"}
    image = {"decode": True, "id": None, "_type": "Image"} if legacy else {"_type": "Image"}
    return {b"huggingface": json.dumps({"info": {"features": {"image": image, "label": label}}}).encode()}


def hf_table(truth: dict[bytes, str], names: list[str] | None, labels: list[str], legacy: bool = False,
             on_disk: Path | None = None) -> pa.Table:
    """The rows datasets writes for images loaded from files: image {bytes, path} and label, the index of the
    image's class in `labels`. With `on_disk`, the images are files there and only their paths are kept, as
    to_parquet keeps images it has not embedded."""
    rows = []
    for number, (data, wnid) in enumerate(truth.items()):
        name = f"{wnid}_{number}.JPEG"
        if on_disk is not None:
            path = touch(on_disk / wnid / name, data)
            rows.append({"bytes": None, "path": str(path.resolve())})
        else:
            rows.append({"bytes": data, "path": name})
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([("image", image), ("label", pa.int64())], metadata=features(names, legacy))
    return pa.table({"image": pa.array(rows, image), "label": [labels.index(w) for w in truth.values()]}, schema=schema)


def write_parquet(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=HF_ROW_GROUP)
    return path


def write_arrow(path: Path, table: pa.Table) -> Path:
    """An Arrow file as save_to_disk writes it: an IPC stream (RecordBatchStreamWriter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.ipc.new_stream(path, table.schema) as writer:
        writer.write_table(table, max_chunksize=HF_ROW_GROUP)
    return path


def save_to_disk(folder: Path, table: pa.Table, split: str | None) -> None:
    """A Dataset folder as save_to_disk writes it: the Arrow file, state.json, dataset_info.json."""
    write_arrow(folder / "data-00000-of-00001.arrow", table)
    state = {"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_fingerprint": "18ef2b15c57a1339",
             "_format_columns": None, "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False,
             "_split": split}
    (folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
    info = json.loads(table.schema.metadata[b"huggingface"])["info"]
    (folder / "dataset_info.json").write_text(json.dumps({"builder_name": "imagefolder", **info}, indent=2))


@pytest.fixture(scope="module")
def subset():
    """A user's own 120 classes, as `load_dataset("imagefolder")` numbers them: ClassLabel names are the class
    folders' names, sorted; label i is the i-th (not the i-th of ILSVRC-2012)."""
    wnids = sorted(random.Random(22).sample(builtin_list("ilsvrc2012").wnids, 120))
    return wnids, images_of(wnids)


def test_a_users_subset_is_labelled_by_the_wnids_its_shard_declares(curate_cli, tmp_path, subset):
    wnids, truth = subset
    write_parquet(tmp_path / "mine/data/train-00000-of-00001.parquet", hf_table(truth, wnids, wnids))
    index = indexed(curate_cli, tmp_path / "mine")
    assert index.rows.num_rows == 240 and len(index.class_counts()) == 120
    assert_every_label(index, truth)


def test_a_winter21_shard_is_labelled_by_its_own_classes_even_where_labels_are_under_1000(curate_cli, tmp_path):
    winter21 = timm_list("imagenet21k_miil_w21_synsets.txt")
    assert len(winter21) == 10_450
    wnids = winter21[:6] + winter21[990:1000]  # labels under 1000, which ILSVRC-2012 numbers too
    truth = images_of(wnids)
    write_parquet(tmp_path / "w21/data/train-00000-of-00001.parquet", hf_table(truth, winter21, winter21))
    assert_every_label(indexed(curate_cli, tmp_path / "w21"), truth)


def test_a_winter21_shard_that_declares_nothing_is_read_by_classes_file(curate_cli, tmp_path):
    winter21 = timm_list("imagenet21k_miil_w21_synsets.txt")
    classes = tmp_path / "winter21.txt"
    classes.write_text("\n".join(winter21) + "\n")
    truth = images_of([winter21[3], winter21[999], winter21[5000]])
    write_parquet(tmp_path / "w21/data/train-00000-of-00001.parquet", hf_table(truth, None, winter21))
    index = indexed(curate_cli, tmp_path / "w21", "--classes", classes)
    assert_every_label(index, truth)
    assert index.metadata["classes"] == "winter21.txt"


def test_imagenet_1k_names_its_labels_by_description_and_the_two_cranes_by_place(curate_cli, tmp_path):
    """ILSVRC/imagenet-1k's ClassLabel names the 1000 classes by the devkit's words, "crane" twice (the bird,
    label 134, and the machine, label 517); timm's lemma file words them the same."""
    wnids = list(builtin_list("ilsvrc2012").wnids)
    described = dict(line.split("\t") for line in timm_list("imagenet_synset_to_lemma.txt"))
    names = [described[wnid] for wnid in wnids]
    assert (names[134], names[517]) == ("crane", "crane")
    chosen = [wnids[0], wnids[134], wnids[517], wnids[999]]
    truth = images_of(chosen)
    shard = "data/train-00000-of-00257.parquet"
    write_parquet(tmp_path / "imagenet-1k" / shard, hf_table(truth, names, wnids, legacy=True))
    assert_every_label(indexed(curate_cli, tmp_path / "imagenet-1k"), truth)
    index = indexed(curate_cli, tmp_path / "imagenet-1k", "--classes", "imagenet1k")  # what it declares, said again
    assert_every_label(index, truth)


def test_descriptions_of_some_ilsvrc_classes_name_them(curate_cli, tmp_path):
    wnids = ["n02085620", "n01440764", "n04399382"]  # Chihuahua, tench, teddy bear: not in wnid order
    described = dict(line.split("\t") for line in timm_list("imagenet_synset_to_lemma.txt"))
    truth = images_of(wnids)
    write_parquet(tmp_path / "mine/train.parquet", hf_table(truth, [described[w] for w in wnids], wnids))
    assert_every_label(indexed(curate_cli, tmp_path / "mine"), truth)


def classes_file(tmp_path: Path, wnids: list[str]) -> Path:
    (tmp_path / "classes.txt").write_text("".join(f"{wnid}\n" for wnid in wnids))
    return tmp_path / "classes.txt"


SHARD = "data/train-00000-of-00001.parquet"


@pytest.mark.parametrize(
    "names, classes, sentence",
    [
        (["tench, Tinca tinca", "crane"], None,
         f"{SHARD} names label 1 'crane', which describes 2 ILSVRC-2012 classes (n02012849, n03126707): give "
         "--classes FILE, one wnid per line, label 0's on the first."),
        (["tench", "dog"], None,
         f"{SHARD} names label 0 'tench', neither a wnid nor the description of an ILSVRC-2012 class (\"tench, "
         "Tinca tinca\"): give --classes FILE, one wnid per line, label 0's on the first."),
        (["n01440764", "n99999999"], None, f"{SHARD} names a class n99999999, which is not a noun synset of WordNet 3.0."),
        (["n01440764", "n01443537"], "imagenet1k",
         f"{SHARD} declares 2 classes, and --classes imagenet1k numbers 1,000: leave --classes out to read the labels "
         "as the shard declares them."),
        (["n01440764", "n01443537"], ["n01440764", "n01484850"],
         f"{SHARD} declares label 1 n01443537, and --classes classes.txt numbers it n01484850: leave --classes out to "
         "read the labels as the shard declares them."),
        ([str(i) for i in range(10)], None,
         f"{SHARD} declares 10 classes without naming them, and imagenet1k numbers 1,000: give --classes FILE, one "
         "wnid per line, label 0's on the first."),
    ],
    ids=["ambiguous description", "unknown name", "not a WordNet wnid", "declared and --classes differ",
         "declared and a file differ in order", "a count without names"],
)
def test_labels_a_shard_declares_are_never_read_against_another_list(curate_cli, tmp_path, names, classes, sentence):
    truth = {jpeg(0): "n01440764", jpeg(1): "n01440764"}
    labels = ["n01440764"] + ["other"] * (len(names) - 1)
    write_parquet(tmp_path / "hf" / SHARD, hf_table(truth, names, labels))
    given = [] if classes is None else ["--classes", classes if isinstance(classes, str) else classes_file(tmp_path, classes)]
    refused(curate_cli("images", "index", tmp_path / "hf", *given, "-o", tmp_path / "index.parquet"), sentence)
    assert not (tmp_path / "index.parquet").exists()


def test_names_curate_cannot_map_are_read_by_a_classes_file(curate_cli, tmp_path):
    truth = images_of(["n02012849", "n03126707"])  # the bird and the machine, both "crane"
    write_parquet(tmp_path / "hf" / SHARD, hf_table(truth, ["crane", "crane"], ["n02012849", "n03126707"]))
    index = indexed(curate_cli, tmp_path / "hf", "--classes", classes_file(tmp_path, ["n02012849", "n03126707"]))
    assert_every_label(index, truth)


@pytest.mark.parametrize(
    "classes, sentence",
    [
        ("imagenet21k", "--classes must be imagenet1k, imagenet22k, imagenet12k, imagenet21k-p-fall11, "
                        "imagenet21k-p-winter21, imagenet22k-ms, imagenet21k-goog, or a file of one wnid per line "
                        "(line i naming label i); imagenet21k is neither."),
        ("classes.txt", "classes.txt names n99999999, which is not a noun synset of WordNet 3.0."),
    ],
    ids=["unknown name", "file with a wnid WordNet lacks"],
)
def test_a_bad_classes_is_refused(curate_cli, tmp_path, monkeypatch, classes, sentence):
    monkeypatch.chdir(tmp_path)
    classes_file(tmp_path, ["n01440764", "n99999999"])
    write_parquet(tmp_path / "hf" / SHARD, hf_table({jpeg(0): "n01440764"}, None, ["n01440764"]))
    refused(curate_cli("images", "index", tmp_path / "hf", "--classes", classes, "-o", tmp_path / "index.parquet"),
            sentence)


def test_classes_is_refused_where_classes_are_named_by_wnids(curate_cli, tmp_path):
    touch(tmp_path / "train" / "n01440764" / "a.JPEG", jpeg(0))
    refused(curate_cli("images", "index", tmp_path / "train", "--classes", "imagenet1k", "-o", tmp_path / "i.parquet"),
            "--classes says what numbered labels number (Hugging Face and WebDataset shards), and "
            f"{tmp_path / 'train'} is read as class folders, whose classes are named by wnids.")


# --- Hugging Face: where the files are ---------------------------------------------------------------------


def test_older_datasets_fingerprinted_shards(curate_cli, tmp_path, subset):
    wnids, truth = subset
    table = hf_table(truth, wnids, wnids, legacy=True)
    write_parquet(tmp_path / "hf/data/train-00000-of-00002-a1b2c3d4e5f60718.parquet", table.slice(0, 150))
    write_parquet(tmp_path / "hf/data/train-00001-of-00002-a1b2c3d4e5f60718.parquet", table.slice(150))
    assert_every_label(indexed(curate_cli, tmp_path / "hf"), truth)


def test_the_hubs_parquet_conversion_and_its_validation_split(curate_cli, tmp_path, subset):
    wnids, truth = subset
    train, val = dict(list(truth.items())[:200]), dict(list(truth.items())[200:])
    write_parquet(tmp_path / "hf/default/train/0000.parquet", hf_table(train, wnids, wnids))
    write_parquet(tmp_path / "hf/default/validation/0000.parquet", hf_table(val, wnids, wnids))
    assert_every_label(indexed(curate_cli, tmp_path / "hf"), train)
    index = indexed(curate_cli, tmp_path / "hf", "--split", "val")
    assert_every_label(index, val)
    assert set(index.rows["split"].to_pylist()) == {"val"}


def test_a_split_named_val(curate_cli, tmp_path, subset):
    wnids, truth = subset
    write_parquet(tmp_path / "hf/data/val-00000-of-00001.parquet", hf_table(truth, wnids, wnids))
    assert_every_label(indexed(curate_cli, tmp_path / "hf", "--split", "val"), truth)


def test_one_file_from_to_parquet(curate_cli, tmp_path, subset):
    wnids, truth = subset
    write_parquet(tmp_path / "hf/train.parquet", hf_table(truth, wnids, wnids))
    index = indexed(curate_cli, tmp_path / "hf")
    assert_every_label(index, truth)
    assert index.metadata["layout"] == "Hugging Face Parquet shards"


def test_a_parquet_file_datasets_did_not_write_is_not_a_shard(curate_cli, tmp_path):
    """A train.parquet without datasets' metadata (curate's own index, say) beside class folders."""
    touch(tmp_path / "train" / "n01440764" / "a.JPEG", jpeg(0))
    pq.write_table(pa.table({"path": ["x"]}), tmp_path / "train" / "train.parquet")
    assert indexed(curate_cli, tmp_path / "train").metadata["layout"] == "class folders"


def test_images_to_parquet_kept_as_paths_are_read_from_their_files(curate_cli, tmp_path, subset):
    wnids, truth = subset
    write_parquet(tmp_path / "hf" / SHARD, hf_table(truth, wnids, wnids, on_disk=tmp_path / "images"))
    index = indexed(curate_cli, tmp_path / "hf", "--verify")
    assert json.loads(index.metadata["report"])["broken"] == 0
    assert_every_label(index, truth)


def test_images_kept_as_paths_whose_files_are_gone_are_refused(curate_cli, tmp_path):
    table = hf_table({jpeg(0): "n01440764", jpeg(1): "n01443537"}, ["n01440764", "n01443537"],
                     ["n01440764", "n01443537"], on_disk=tmp_path / "images")
    write_parquet(tmp_path / "hf/train.parquet", table)
    gone = tmp_path / "images/n01443537/n01443537_1.JPEG"
    gone.unlink()
    refused(curate_cli("images", "index", tmp_path / "hf", "-o", tmp_path / "index.parquet"),
            f"Row 1 of train.parquet holds no image bytes, only the path {gone.resolve()}, and no file is there: write "
            "the dataset with its images embedded (as push_to_hub does), or index the image files themselves.")
    assert not (tmp_path / "index.parquet").exists()


def test_save_to_disk_of_a_dataset(curate_cli, tmp_path, subset):
    wnids, truth = subset
    save_to_disk(tmp_path / "saved", hf_table(truth, wnids, wnids), "train")
    index = indexed(curate_cli, tmp_path / "saved")
    assert_every_label(index, truth)
    assert index.metadata["layout"] == "Hugging Face save_to_disk Arrow files"
    refused(curate_cli("images", "index", tmp_path / "saved", "--split", "val", "-o", tmp_path / "val.parquet"),
            f"{tmp_path / 'saved'} is save_to_disk's copy of the train split: index it with --split train.")


def test_save_to_disk_of_a_dataset_dict(curate_cli, tmp_path, subset):
    wnids, truth = subset
    train, val = dict(list(truth.items())[:200]), dict(list(truth.items())[200:])
    save_to_disk(tmp_path / "saved/train", hf_table(train, wnids, wnids), "train")
    save_to_disk(tmp_path / "saved/validation", hf_table(val, wnids, wnids), "validation")
    (tmp_path / "saved/dataset_dict.json").write_text(json.dumps({"splits": ["train", "validation"]}))
    assert_every_label(indexed(curate_cli, tmp_path / "saved"), train)
    assert_every_label(indexed(curate_cli, tmp_path / "saved", "--split", "val"), val)
    refused(curate_cli("images", "index", tmp_path / "saved", "--split", "test", "-o", tmp_path / "test.parquet"),
            f"{tmp_path / 'saved'} is a DatasetDict of the splits train, validation, and --split test reads the "
            "split test.")


def test_an_arrow_file_that_is_no_stream_is_refused(curate_cli, tmp_path):
    save_to_disk(tmp_path / "saved", hf_table({jpeg(0): "n01440764"}, ["n01440764"], ["n01440764"]), None)
    table = pa.ipc.open_stream(pa.memory_map(str(tmp_path / "saved/data-00000-of-00001.arrow"))).read_all()
    with pa.ipc.new_file(tmp_path / "saved/data-00000-of-00001.arrow", table.schema) as writer:  # the file format
        writer.write_table(table)
    refused(curate_cli("images", "index", tmp_path / "saved", "-o", tmp_path / "index.parquet"),
            "data-00000-of-00001.arrow is not an Arrow IPC stream, as datasets writes its Arrow files.")


# --- WebDataset: webdataset's own ImageNet shards ----------------------------------------------------------


def imagenet_folders(root: Path, truth: dict[bytes, str], wnids: tuple[str, ...]) -> Path:
    """An ImageNet split as class folders: all of `wnids`, the images of `truth` in theirs."""
    for wnid in wnids:
        (root / wnid).mkdir(parents=True, exist_ok=True)
    for number, (data, wnid) in enumerate(truth.items()):
        touch(root / wnid / f"{wnid}_{number}.JPEG", data)
    return root


def makeshards(folder: Path, pattern: str) -> None:
    """What webdataset's ImageNet example (makeshards.py) does: torchvision's ImageFolder numbers the classes,
    samples are shuffled, and ShardWriter writes KEY.jpg and KEY.cls, the key the file's name."""
    wds = pytest.importorskip("webdataset")
    datasets = pytest.importorskip("torchvision.datasets")
    images = datasets.ImageFolder(str(folder), allow_empty=True).imgs
    with wds.ShardWriter(pattern, maxcount=5, verbose=0) as sink:
        for i in random.Random(0).sample(range(len(images)), len(images)):
            name, cls = images[i]
            sink.write({"__key__": Path(name).stem, "jpg": Path(name).read_bytes(), "cls": cls})


def test_webdatasets_imagenet_shards_are_labelled_by_cls_against_classes(curate_cli, tmp_path):
    ilsvrc = builtin_list("ilsvrc2012").wnids
    chosen = [ilsvrc[i] for i in (0, 1, 500, 998, 999)]
    train, val = images_of(chosen, per_class=3), images_of(chosen, per_class=1, first=100)
    (tmp_path / "shards").mkdir()
    makeshards(imagenet_folders(tmp_path / "imagenet/train", train, ilsvrc), str(tmp_path / "shards/imagenet-train-%06d.tar"))
    makeshards(imagenet_folders(tmp_path / "imagenet/val", val, ilsvrc), str(tmp_path / "shards/imagenet-val-%06d.tar"))
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == [
        "imagenet-train-000000.tar", "imagenet-train-000001.tar", "imagenet-train-000002.tar", "imagenet-val-000000.tar"]
    assert_every_label(indexed(curate_cli, tmp_path / "shards", "--classes", "imagenet1k"), train)
    assert_every_label(indexed(curate_cli, tmp_path / "shards", "--classes", "imagenet1k", "--split", "val"), val)
    with tarfile.open(tmp_path / "shards/imagenet-train-000000.tar") as tar:
        first = tar.getnames()[0].split(".")[0]
    refused(curate_cli("images", "index", tmp_path / "shards", "-o", tmp_path / "index.parquet"),
            "imagenet-train-000000.tar is a shard of imagenet, whose class numbers curate has no list for (it numbers "
            f"imagenet1k-*, imagenet22k-* and imagenet12k-* shards), and {first}.cls in imagenet-train-000000.tar has "
            "no .json whose filename names a wnid: give --classes, a built-in numbering (`curate lists`) or a file of "
            "one wnid per line in label order.")


@pytest.mark.parametrize("numbering, timm_file, picks", [
    ("imagenet12k", "imagenet12k_synsets.txt", (0, 999, 4021, 11_820)),
    ("imagenet22k-ms", "imagenet22k_ms_synsets.txt", (0, 999, 1000, 21_841)),  # not wnid order: 999 is toilet tissue
], ids=["imagenet12k", "imagenet22k-ms"])
def test_shards_numbered_by_a_timm_list_are_labelled_by_it(curate_cli, tmp_path, numbering, timm_file, picks):
    """Hugging Face shards that declare no names and webdataset's shards (KEY.jpg, KEY.cls), both numbered by
    timm's list: `--classes NAME` labels every image as the list's line."""
    timms = timm_list(timm_file)
    truth = images_of([timms[i] for i in picks])
    write_parquet(tmp_path / "hf/data/train-00000-of-00001.parquet", hf_table(truth, None, timms))
    assert_every_label(indexed(curate_cli, tmp_path / "hf", "--classes", numbering), truth)
    wds = pytest.importorskip("webdataset")
    (tmp_path / "shards").mkdir()
    with wds.ShardWriter(str(tmp_path / "shards/imagenet-train-%06d.tar"), maxcount=5, verbose=0) as sink:
        for number, (data, wnid) in enumerate(truth.items()):
            sink.write({"__key__": f"{number:04d}", "jpg": data, "cls": timms.index(wnid)})
    assert_every_label(indexed(curate_cli, tmp_path / "shards", "--classes", numbering), truth)


def test_timms_imagenet12k_shards_are_numbered_by_its_list(curate_cli, tmp_path):
    """timm's imagenet-12k-wds: `imagenet12k-train-*.tar`, whose KEY.cls numbers timm's imagenet12k list; a sample
    without a filename in its .json is labelled by the number alone."""
    wds = pytest.importorskip("webdataset")
    timms = timm_list("imagenet12k_synsets.txt")
    truth = images_of([timms[i] for i in (3, 6000, 11_820)])
    (tmp_path / "in12k").mkdir()
    with wds.TarWriter(str(tmp_path / "in12k/imagenet12k-validation-0000.tar")) as sink:
        for number, (data, wnid) in enumerate(truth.items()):
            label = timms.index(wnid)
            sink.write({"__key__": f"{number:08d}", "jpg": data, "cls": label, "json": {"label": label}})
    assert_every_label(indexed(curate_cli, tmp_path / "in12k", "--split", "val"), truth)


def test_a_shard_named_for_one_numbering_is_not_read_by_another(curate_cli, tmp_path):
    wds = pytest.importorskip("webdataset")
    (tmp_path / "shards").mkdir()
    with wds.TarWriter(str(tmp_path / "shards/imagenet1k-train-0000.tar")) as sink:
        sink.write({"__key__": "a", "jpg": jpeg(0), "cls": 0})
    refused(curate_cli("images", "index", tmp_path / "shards", "--classes", "imagenet22k", "-o", tmp_path / "i.parquet"),
            "imagenet1k-train-0000.tar is a shard of imagenet1k, numbered by imagenet1k's classes, not by --classes "
            "imagenet22k: leave --classes out to read it as its name says.")


# --- image-net.org: the training tar of tars, the devkit's validation labels -------------------------------


def tar_of(members: dict[str, bytes]) -> bytes:
    """A tar archive as GNU tar writes one."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return data.getvalue()


def test_the_training_tar_of_class_tars_is_read_in_place(curate_cli, tmp_path):
    ilsvrc = builtin_list("ilsvrc2012").wnids
    truth = images_of([ilsvrc[0], ilsvrc[1], ilsvrc[999]], per_class=3)
    classes: dict[str, dict[str, bytes]] = {}
    for number, (data, wnid) in enumerate(truth.items()):
        classes.setdefault(wnid, {})[f"{wnid}_{number}.JPEG"] = data
    outer = {f"{wnid}.tar": tar_of(members) for wnid, members in classes.items()}
    touch(tmp_path / "download/ILSVRC2012_img_train.tar", tar_of({**outer, "README.txt": b"not a class"}))
    index = indexed(curate_cli, tmp_path / "download")
    assert_every_label(index, truth)
    assert set(index.rows["archive"].to_pylist()) == {"ILSVRC2012_img_train.tar"}
    assert index.metadata["layout"] == "ILSVRC-2012 train tar"
    assert json.loads(index.metadata["report"])["not_wnid"] == 1


def test_the_training_tar_holds_no_validation_images(curate_cli, tmp_path):
    touch(tmp_path / "download/ILSVRC2012_img_train.tar", tar_of({"n01440764.tar": tar_of({"a.JPEG": jpeg(0)})}))
    refused(curate_cli("images", "index", tmp_path / "download", "--split", "val", "-o", tmp_path / "i.parquet"),
            "ILSVRC2012_img_train.tar holds the training images: index it with --split train, and the validation "
            "images (a folder of ILSVRC2012_img_val.tar's files) with --val-labels.")


DEVKIT_ORDER = random.Random(2012).sample(builtin_list("ilsvrc2012").wnids, 1000)  # ILSVRC2012_ID i: [i - 1]


def write_devkit(root: Path, val_wnids: list[str]) -> Path:
    """ILSVRC2012_devkit_t12 as image-net.org ships it: data/meta.mat, whose `synsets` give the 1000 classes
    their ILSVRC2012_IDs 1..1000 (not in wnid order) and inner nodes theirs after, and the ground truth, line
    i the ID of the class of validation image i."""
    import numpy as np
    from scipy.io import savemat

    inner = [("n02084071", DEVKIT_ORDER[:3]), ("n01503061", DEVKIT_ORDER[3:5])]  # dog, bird: nodes with children
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height", "num_train_images"]
    synsets = np.zeros((1000 + len(inner), 1), dtype=[(field, object) for field in fields])
    for row, (wnid, children) in enumerate([(wnid, []) for wnid in DEVKIT_ORDER] + inner):
        ids = [float(DEVKIT_ORDER.index(child) + 1) for child in children]
        synsets[row, 0] = (np.array([[row + 1.0]]), np.array([wnid]), np.array([f"words of {wnid}"]),
                           np.array([f"gloss of {wnid}"]), np.array([[float(len(children))]]),
                           np.array([ids]) if ids else np.zeros((0, 0)), np.array([[0.0 if not ids else 1.0]]),
                           np.array([[1300.0 if not ids else 0.0]]))
    data = root / "ILSVRC2012_devkit_t12" / "data"
    data.mkdir(parents=True)
    savemat(data / "meta.mat", {"synsets": synsets})
    ground_truth = data / "ILSVRC2012_validation_ground_truth.txt"
    ground_truth.write_text("".join(f"{DEVKIT_ORDER.index(wnid) + 1}\n" for wnid in val_wnids))
    return ground_truth


def val_folder(root: Path, val_wnids: list[str]) -> dict[bytes, str]:
    """ILSVRC2012_img_val.tar's files: ILSVRC2012_val_00000001.JPEG..., the i-th of class val_wnids[i - 1]."""
    return {touch(root / f"ILSVRC2012_val_{number:08d}.JPEG", jpeg(number)).read_bytes(): wnid
            for number, wnid in enumerate(val_wnids, start=1)}


@pytest.fixture(scope="module")
def devkit(tmp_path_factory):
    """The devkit, and the val folder it labels with the truth of its images."""
    root = tmp_path_factory.mktemp("devkit")
    val_wnids = [DEVKIT_ORDER[(7 * i) % 1000] for i in range(12)]
    write_devkit(root, val_wnids)
    return root, val_folder(root / "val", val_wnids)


def test_validation_images_labelled_by_the_devkits_ground_truth(curate_cli, devkit):
    root, truth = devkit
    ground_truth = root / "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"
    index = indexed(curate_cli, root / "val", "--val-labels", ground_truth)
    assert_every_label(index, truth)
    assert set(index.rows["split"].to_pylist()) == {"val"}


@pytest.mark.parametrize("legacy", [False, True], ids=["torch.save", "torch.save before torch 1.6"])
def test_validation_images_labelled_by_torchvisions_meta_bin(curate_cli, tmp_path, devkit, monkeypatch, legacy):
    """meta.bin as torchvision's own parse_devkit_archive writes it (its md5 check of the download skipped)."""
    imagenet = pytest.importorskip("torchvision.datasets.imagenet")
    import torch

    root, truth = devkit
    with tarfile.open(tmp_path / "ILSVRC2012_devkit_t12.tar.gz", "w:gz") as tar:
        tar.add(root / "ILSVRC2012_devkit_t12", "ILSVRC2012_devkit_t12")
    monkeypatch.setattr(imagenet, "_verify_archive", lambda *args: None)
    imagenet.parse_devkit_archive(str(tmp_path))
    if legacy:
        torch.save(torch.load(tmp_path / "meta.bin"), tmp_path / "meta.bin", _use_new_zipfile_serialization=False)
    assert_every_label(indexed(curate_cli, root / "val", "--val-labels", tmp_path / "meta.bin"), truth)


def test_the_ground_truth_without_its_meta_mat_is_refused(curate_cli, tmp_path, devkit):
    root, _ = devkit
    ground_truth = touch(tmp_path / "ILSVRC2012_validation_ground_truth.txt", b"490\n361\n")
    refused(curate_cli("images", "index", root / "val", "--val-labels", ground_truth, "-o", tmp_path / "i.parquet"),
            f"{ground_truth} numbers classes by the ILSVRC2012_IDs of the devkit's meta.mat, and there is no "
            f"{tmp_path / 'meta.mat'}: keep the devkit's data/ folder whole, or give torchvision's meta.bin.")


def test_a_ground_truth_id_of_no_class_is_refused(curate_cli, tmp_path, devkit):
    root, _ = devkit
    ground_truth = touch(tmp_path / "ILSVRC2012_validation_ground_truth.txt", b"490\n1001\n")
    (tmp_path / "meta.mat").write_bytes((root / "ILSVRC2012_devkit_t12/data/meta.mat").read_bytes())
    refused(curate_cli("images", "index", root / "val", "--val-labels", ground_truth, "-o", tmp_path / "i.parquet"),
            f"Line 2 of {ground_truth} is not an ILSVRC2012_ID of one of the 1000 classes of meta.mat: '1001'.")


def test_reading_meta_mat_without_scipy_says_how_to_get_it(curate_cli, tmp_path, devkit, monkeypatch):
    root, _ = devkit
    monkeypatch.setitem(__import__("sys").modules, "scipy.io", None)
    ground_truth = root / "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"
    refused(curate_cli("images", "index", root / "val", "--val-labels", ground_truth, "-o", tmp_path / "i.parquet"),
            "Reading the devkit's meta.mat needs scipy, which is not installed: pip install scipy.")


def test_a_meta_bin_that_is_not_torchvisions_is_refused(curate_cli, tmp_path, devkit):
    root, _ = devkit
    meta = touch(tmp_path / "meta.bin", b"\x80\x04\x95" + b"\0" * 20)
    refused(curate_cli("images", "index", root / "val", "--val-labels", meta, "-o", tmp_path / "i.parquet"),
            f"{meta} is not torchvision's ImageNet meta.bin (a torch.save of its classes and the validation images' "
            "wnids).")


# --- torchvision's ImageNet root ---------------------------------------------------------------------------


def test_torchvisions_imagenet_root_says_which_folder_to_index(curate_cli, tmp_path):
    root = tmp_path / "imagenet"
    touch(root / "meta.bin", b"torch.save of the classes")
    touch(root / "ILSVRC2012_devkit_t12.tar.gz", b"the devkit")
    truth = images_of(["n01440764", "n01443537"])
    imagenet_folders(root / "train", truth, ("n01440764", "n01443537"))
    imagenet_folders(root / "val", images_of(["n01440764"], first=50), ("n01440764",))
    refused(curate_cli("images", "index", root, "-o", tmp_path / "index.parquet"),
            f"{root} is torchvision's ImageNet folder (meta.bin beside train/ and val/): index {root / 'train'}, or "
            f"{root / 'val'} with --split val (torchvision sorts the validation images into class folders too).")
    assert_every_label(indexed(curate_cli, root / "train"), truth)


# --- the README's table of inputs, each row run as written ------------------------------------------------

README = (Path(__file__).parents[2] / "README.md").read_text()
TABLE = re.findall(r"^\| [^|]+ \| ([^|]+) \| `(curate images index [^`]+)` \|$", README, re.M)
CHOSEN = [builtin_list("ilsvrc2012").wnids[i] for i in (3, 134, 517, 999)]


def train_folders() -> dict[bytes, str]:
    truth = images_of(CHOSEN)
    imagenet_folders(Path("train"), truth, tuple(CHOSEN))
    Path("train_cls.txt").write_text("".join(f"{w}/{w}_{n} {n + 1}\n" for n, w in enumerate(truth.values())))
    return truth


def validation() -> dict[bytes, str]:
    import torch

    val_wnids = [CHOSEN[i % 4] for i in range(6)]
    write_devkit(Path("."), val_wnids)
    torch.save(({wnid: (wnid,) for wnid in CHOSEN}, val_wnids), "meta.bin")
    Path("LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "".join(
        f"ILSVRC2012_val_{number:08d},{wnid} 1 2 3 4\n" for number, wnid in enumerate(val_wnids, start=1)))
    return val_folder(Path("val"), val_wnids)


def image_net_download() -> dict[bytes, str]:
    truth = images_of(CHOSEN)
    classes = {wnid: tar_of({f"{wnid}_{n}.JPEG": d for n, (d, w) in enumerate(truth.items()) if w == wnid}) for wnid in CHOSEN}
    touch(Path("downloads/ILSVRC2012_img_train.tar"), tar_of({f"{wnid}.tar": data for wnid, data in classes.items()}))
    return truth


def kaggle() -> dict[bytes, str]:
    root = Path("imagenet-object-localization-challenge")
    touch(root / "LOC_synset_mapping.txt", "".join(f"{wnid} {wnid}\n" for wnid in CHOSEN).encode())
    truth = val_folder(root / "ILSVRC/Data/CLS-LOC/val", CHOSEN)
    (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "".join(
        f"ILSVRC2012_val_{number:08d},{wnid} 1 2 3 4\n" for number, wnid in enumerate(CHOSEN, start=1)))
    return truth


def parquet_at(path: str, names: list[str] = CHOSEN, numbered: list[str] = CHOSEN) -> dict[bytes, str]:
    """A shard whose labels number `numbered`, by the `names` it declares."""
    truth = images_of(CHOSEN)
    write_parquet(Path(path), hf_table(truth, names, numbered))
    return truth


def imagenet_1k() -> dict[bytes, str]:
    """ILSVRC/imagenet-1k's shards: names that are the classes' descriptions."""
    wnids = list(builtin_list("ilsvrc2012").wnids)
    described = dict(line.split("\t") for line in timm_list("imagenet_synset_to_lemma.txt"))
    return parquet_at("imagenet-1k/data/train-00000-of-00294.parquet", [described[w] for w in wnids], wnids)


def saved() -> dict[bytes, str]:
    truth = images_of(CHOSEN)
    save_to_disk(Path("saved"), hf_table(truth, CHOSEN, CHOSEN), "train")
    return truth


def winter21() -> dict[bytes, str]:
    wnids = timm_list("imagenet21k_miil_w21_synsets.txt")
    truth = images_of([wnids[4], wnids[900], wnids[10_000]])
    write_parquet(Path("w21/data/train-00000-of-00001.parquet"), hf_table(truth, None, wnids))
    return truth


def timm_shards() -> dict[bytes, str]:
    wds = pytest.importorskip("webdataset")
    truth = images_of(CHOSEN)
    Path("imagenet-1k-wds").mkdir()
    with wds.TarWriter("imagenet-1k-wds/imagenet1k-validation-0000.tar") as sink:
        for number, (data, wnid) in enumerate(truth.items()):
            filename = f"ILSVRC2012_val_{number + 1:08d}.JPEG"
            label = builtin_list("ilsvrc2012").wnids.index(wnid)
            sink.write({"__key__": filename[:-5], "jpg": data, "cls": label, "json": {"label": label, "filename": filename}})
    return truth


def webdataset_shards() -> dict[bytes, str]:
    truth = images_of(CHOSEN)
    Path("shards").mkdir()
    makeshards(imagenet_folders(Path("imagenet/train"), truth, builtin_list("ilsvrc2012").wnids), "shards/imagenet-train-%06d.tar")
    return truth


INPUTS = {  # a command's ROOT -> what lays out its input in the working folder, giving the truth of its images
    "train/": train_folders, "val/": validation, "downloads/": image_net_download,
    "imagenet-object-localization-challenge/": kaggle, "saved/": saved, "w21/": winter21,
    "imagenet-1k/": imagenet_1k,
    "converted/": lambda: parquet_at("converted/default/validation/0000.parquet"),
    "my-subset/": lambda: parquet_at("my-subset/train.parquet"),
    "imagenet-1k-wds/": timm_shards, "shards/": webdataset_shards,
}


def test_the_readme_table_lists_every_layout():
    from curate.images.layouts import FOUND_BY_LOOKING, class_folders, file_list, val_folder

    layouts = (*FOUND_BY_LOOKING, class_folders, file_list, val_folder)
    assert [l.LAYOUT for l in layouts if not any(read.startswith(l.LAYOUT) for read, _ in TABLE)] == []


@pytest.mark.parametrize("layout, command", TABLE, ids=[command for _, command in TABLE])
def test_every_input_the_readme_lists_is_read_by_its_command(curate_cli, tmp_path, monkeypatch, layout, command):
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)[1:]
    truth = INPUTS[args[2]]()
    result = curate_cli(*args, "-q")
    assert result.exit_code == 0, result.stderr
    index = ImageIndex.read(tmp_path / args[args.index("-o") + 1])
    assert index.metadata["layout"] == layout
    assert_every_label(index, truth)
