"""Training from packed stores: raw stores read in batches and cropped on the "device" (here the CPU), JPEG
stores one image at a time; the same crops as the per-image path, learning, exact resume, DDP shares,
tables of the source index read through --store, and bad stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from commands import FAST, REPO, error_of, run, straight_and_resumed

from curate.images.index import ImageIndex
from curate.images.pack import pack
from curate.labels.manifest import read_labels


@pytest.fixture(scope="session")
def stores(data, tmp_path_factory):
    """The synthetic train and val images packed raw at 32 px and as 32 px JPEGs, and coarse tables of each."""
    out = tmp_path_factory.mktemp("stores")
    coarse = read_labels(data["coarse"]["labels"])
    made = {}
    for fmt in ("raw", "jpeg"):
        for split in ("train", "val"):
            source = ImageIndex.read(data["out"] / "manifests" / f"images-{split}.parquet")
            store, _ = pack(source, out / f"{fmt}-{split}", fmt=fmt, size=32, workers=2)
            store.index.label(coarse).write(out / f"{fmt}-coarse-{split}.parquet")
        made[fmt] = ["--table", str(out / f"{fmt}-coarse-train.parquet"), "--val-table", str(out / f"{fmt}-coarse-val.parquet")]
    return {"out": out, **made}


TRAIN = [*FAST, "--epochs", "16", "--lr", "0.02", "--wd", "5e-4", "--lr-scheduler", "cosine"]


@pytest.mark.parametrize("fmt", ["raw", "jpeg"])
def test_training_from_a_store_learns_well_above_chance(stores, tmp_path, fmt):
    code, result = run(["pretrain", *stores[fmt], *TRAIN, "--output-dir", str(tmp_path)])
    assert code == 0
    assert result["val_top1"] >= 50  # chance 25%; the original JPEGs reach 65% with the same run


def test_a_table_of_the_source_index_reads_its_images_through_store(data, stores, tmp_path):
    code, result = run(["pretrain", "--table", str(data["coarse"]["train_table"]), "--store", str(stores["out"] / "raw-train"),
                        "--val-table", str(data["coarse"]["val_table"]), "--val-store", str(stores["out"] / "raw-val"),
                        *TRAIN, "--epochs", "2", "--output-dir", str(tmp_path / "a")])
    assert code == 0
    code, direct = run(["pretrain", *stores["raw"], *TRAIN, "--epochs", "2", "--output-dir", str(tmp_path / "b")])
    assert result["train_loss"] == pytest.approx(direct["train_loss"])  # the same images, crops and labels
    assert result["labels_hash"] == data["coarse"]["labels_hash"]


def batched_crops(table, rows, epoch):
    """The training crops of `rows` of a raw-store table as the device path draws them, in the order given."""
    from train.data.stores import RawBatches

    batches = RawBatches(table, rows, table.labels[rows], batch_size=len(rows), train=True, device=torch.device("cpu"),
                         crop_size=24, min_scale=0.35, seed=5)
    batches.sampler = iter_in_order(len(rows), epoch=epoch)
    (batched, _), = list(batches)
    return batched


def test_the_batched_device_crops_are_the_per_image_crops(stores):
    """The raw store through both paths, for the same rows and epoch: the same boxes, and pixels that differ
    by interpolation alone (roi_align against torchvision's antialiased resize). A crop is drawn by the image's
    row in the table, not by its place in the rows trained on: rows that are not 0..N-1 (a table's train split
    beside its val rows), in another order, crop alike."""
    from train.data.loaders import ImageDataset, train_transform
    from train.data.tables import load_table

    table = load_table(stores["out"] / "raw-coarse-train.parquet")
    rows = list(range(7, 87, 2))
    dataset = ImageDataset(table, rows, train_transform(24, 0.35, seed=5))
    one_by_one = torch.stack([dataset[(3, i)][0] for i in range(len(rows))]).float()
    batched = batched_crops(table, rows, epoch=3)
    difference = (batched - one_by_one).abs()
    assert difference.mean() < 1.5 and difference.max() <= 40  # 0..255 scale; edges round differently
    assert torch.equal(batched_crops(table, rows[::-1], epoch=3), batched.flip(0))


@pytest.mark.parametrize("augment", ["rrc", "caffe"])
def test_raw_batches_on_a_cpu_are_the_per_image_crops_exactly(stores, augment):
    """Listed all at once, so a batch read into a reused buffer after another was handed out would show; the
    same bits as the per-image path, as before the buffers (on CUDA the crops are interpolated as floats)."""
    from train.data.loaders import ImageDataset, train_transform
    from train.data.stores import RawBatches
    from train.data.tables import load_table

    table = load_table(stores["out"] / "raw-coarse-train.parquet")
    rows = list(range(3, 83, 2))
    batches = RawBatches(table, rows, table.labels[rows], batch_size=16, train=True, device=torch.device("cpu"),
                         crop_size=24, min_scale=0.35, resize_size=40, augment=augment, seed=5)
    batches.sampler.set_epoch(3)
    listed = list(batches)
    assert [len(images) for images, _ in listed] == [16, 16]  # 40 rows: the last, partial batch is dropped
    dataset = ImageDataset(table, rows, train_transform(24, 0.35, seed=5, augment=augment, resize_size=40))
    positions = list(batches.sampler)[:32]
    one_by_one = [dataset[(3, position)] for position in positions]
    assert torch.equal(torch.cat([images for images, _ in listed]), torch.stack([image for image, _ in one_by_one]))
    assert torch.cat([targets for _, targets in listed]).tolist() == [target for _, target in one_by_one]


def test_a_batch_normalised_into_the_reused_buffer_is_the_batch_normalised_afresh():
    from train.data.loaders import normalisation, to_device

    cpu = torch.device("cpu")
    first, second = (torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
                     for seed in (1, 2))
    for input_norm in ("torchvision", "caffe"):
        mean, std = normalisation(cpu, input_norm)
        order = [0, 1, 2] if input_norm == "torchvision" else [2, 1, 0]
        fed_first = to_device(first, cpu, input_norm=input_norm)
        assert torch.equal(fed_first, first[:, order].float().sub_(mean).div_(std))
        fed_second = to_device(second, cpu, input_norm=input_norm)
        assert torch.equal(fed_second, second[:, order].float().sub_(mean).div_(std))  # nothing of the first left
        assert torch.equal(to_device(second[:3], cpu, input_norm=input_norm), fed_second[:3])  # another shape


def test_a_table_pointing_past_its_raw_store_s_pixels_is_refused(data, stores, tmp_path, capsys):
    from curate.images.table import ImageTable

    part = ImageIndex.read(data["out"] / "manifests" / "images-train.parquet").subset(per_class=4)
    pack(part, tmp_path / "store", fmt="raw", size=32)  # packed again, smaller, where the table's store was
    table = ImageTable.read(stores["out"] / "raw-coarse-train.parquet")
    ImageTable(table.rows, {**table.metadata, "root": str(tmp_path / "store")}).write(tmp_path / "table.parquet")
    line = error_of(["pretrain", "--table", str(tmp_path / "table.parquet"), *FAST, "--output-dir", str(tmp_path / "run")], capsys)
    assert line == (f"Error: {tmp_path / 'table.parquet'} points past the end of the pixel array {tmp_path / 'store' / 'pixels.npy'}: "
                    "it was not made from this store's index; make it again from the store's index.")


class iter_in_order:
    """A sampler that gives the rows in order, at a chosen epoch (as a trained loader's would be shuffled)."""

    def __init__(self, length, epoch):
        self.length, self.epoch = length, epoch

    def __iter__(self):
        return iter(range(self.length))

    def __len__(self):
        return self.length


def test_resume_from_a_raw_store_is_exact(stores, tmp_path, monkeypatch):
    args = ["pretrain", *stores["raw"], *FAST, "--epochs", "3", "--lr", "0.05", "--seed", "3"]
    straight, resumed = straight_and_resumed(args, tmp_path, 2, monkeypatch)
    assert resumed["epoch"] == straight["epoch"] == 2
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name


def test_ddp_ranks_read_their_share_of_a_raw_store(stores, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2", "--master-addr",
               "127.0.0.1", "--master-port", str(port), "-m", "train", "pretrain", *stores["raw"], *FAST, "-b", "35",
               "--epochs", "1", "--output-dir", str(tmp_path / "run")]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert result["val_images"] == 72  # every val image scored once across the two ranks


# --- bad stores ---------------------------------------------------------------------------------------------


def test_a_store_packed_from_another_index_is_refused(data, stores, capsys):
    val_store = stores["out"] / "raw-val"  # packed from the val index: another origin than the train table's
    line = error_of(["pretrain", "--table", str(data["coarse"]["train_table"]), "--store", str(val_store), *FAST], capsys)
    train = ImageIndex.read(data["out"] / "manifests" / "images-train.parquet").content_hash
    val = ImageIndex.read(data["out"] / "manifests" / "images-val.parquet").content_hash
    assert line == (f"Error: {data['coarse']['train_table']} was made from another image index ({train[:19]}…) than the "
                    f"store {val_store} was packed from ({val[:19]}…): pack the table's index, or make the table from the "
                    "store's source index.")


def test_a_store_of_part_of_the_table_s_images_is_refused(data, tmp_path, capsys):
    part = ImageIndex.read(data["out"] / "manifests" / "images-train.parquet").subset(per_class=4)  # same origin
    pack(part, tmp_path / "store", fmt="raw", size=32)
    line = error_of(["pretrain", "--table", str(data["coarse"]["train_table"]), "--store", str(tmp_path / "store"), *FAST], capsys)
    assert line.startswith(f"Error: 144 images of the table are not in the store {tmp_path / 'store'} (")
    assert line.endswith("): pack the index the table was made from.")


def test_a_store_with_a_missing_shard_is_refused(data, stores, tmp_path, capsys):
    import shutil

    shutil.copytree(stores["out"] / "jpeg-train", tmp_path / "store")
    (tmp_path / "store" / "shards" / "000000.tar").unlink()
    line = error_of(["pretrain", "--table", str(data["coarse"]["train_table"]), "--store", str(tmp_path / "store"), *FAST], capsys)
    assert line == f"Error: --store: The store {tmp_path / 'store'} is damaged: shards/000000.tar is missing."


@pytest.mark.parametrize("damage", ["header", "truncated"])
def test_a_table_of_a_damaged_raw_store_is_refused_before_training(stores, tmp_path, capsys, damage):
    import shutil

    from curate.images.table import ImageTable

    store = shutil.copytree(stores["out"] / "raw-train", tmp_path / "store")
    table = ImageTable.read(stores["out"] / "raw-coarse-train.parquet")
    ImageTable(table.rows, {**table.metadata, "root": str(store)}).write(tmp_path / "table.parquet")
    pixels = store / "pixels.npy"
    data = bytearray(pixels.read_bytes())
    if damage == "header":
        data[data.index(b"'shape': (") + 11] ^= 0x01  # the row count numpy reads: 192 -> 182
    pixels.write_bytes(data if damage == "header" else data[:-1000])
    line = error_of(["pretrain", "--table", str(tmp_path / "table.parquet"), *FAST, "--output-dir", str(tmp_path / "run")], capsys)
    assert line == f"Error: {tmp_path / 'table.parquet'}: The store {store} is damaged: " + {
        "header": "the header of pixels.npy is not the one it was packed with.",
        "truncated": f"pixels.npy has {len(data) - 1000:,} bytes, not the {len(data):,} it was packed with (truncated?).",
    }[damage]
    assert not (tmp_path / "run").exists()
