"""The images commands at their limits: sizes and memory a pack cannot have, two packs into one folder, an
image past Pillow's pixel limit, a damaged shard among good ones. Each ends in one sentence or goes on, and
nothing a user had is lost or left half-written."""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
import sys
import tarfile
import time
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from image_world import (
    FISH,
    GOLDFISH,
    SHARK,
    TENCH,
    WHITE_SHARK,
    error,
    index_of,
    labels_file,
    make_tar,
    run,
    tiny_jpeg,
    touch,
)

from curate.images.index import ImageIndex
from curate.images.store import ImageStore

Image = pytest.importorskip("PIL.Image")
REPO = Path(__file__).resolve().parents[2]
ONE_IMAGE_PARTS = ("import sys; from curate.images import pack; pack.CHUNK = 1; from curate.cli import main;"
                   "sys.argv = ['curate', *sys.argv[1:]]; main()")


def jpeg(colour, width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def source(tmp_path) -> Path:
    """An index of 2 classes x 6 JPEGs, as class folders."""
    for wnid, colour in ((TENCH, (200, 30, 30)), (GOLDFISH, (30, 200, 30))):
        for n in range(6):
            touch(tmp_path / "train" / wnid / f"{wnid}_{n}.JPEG", jpeg(colour, 60 + 10 * n, 50))
    assert run("index", tmp_path / "train", "-o", tmp_path / "index.parquet").exit_code == 0
    return tmp_path / "index.parquet"


# --- bad options: one sentence, nothing made --------------------------------------------------------------


@pytest.mark.parametrize("options,sentence", [
    (["-f", "raw", "--size", "100000"], "--size is 100,000 px, larger than a store holds: give 4,096 or less."),
    (["-j", "-3"], "--workers must be 1 or more, not -3."),
    (["-j", "0"], "--workers must be 1 or more, not 0."),
    (["-f", "raw", "--size", "32", "--quality", "80"],
     "--quality applies to jpeg stores; a raw store keeps pixels, not JPEGs: leave it out."),
], ids=["size past the largest", "negative workers", "no workers", "quality of a raw store"])
def test_pack_options_it_cannot_follow_are_refused(source, tmp_path, options, sentence):
    assert error(run("pack", source, *options, "-o", tmp_path / "store")) == f"Error: {sentence}"
    assert not (tmp_path / "store").exists()


def test_a_pack_whose_workers_would_not_fit_in_memory_is_refused_before_any_work(tmp_path, monkeypatch):
    from curate.images import pack

    index = index_of(tmp_path, {TENCH: 3000})  # three parts of 1,024 rows: three workers at most
    monkeypatch.setattr(pack, "available_memory", lambda: 4 * 10**9)
    assert error(run("pack", index, "-f", "raw", "--size", "1024", "-j", "8", "-o", tmp_path / "store")) == (
        "Error: Packing at 1,024 px takes 9.7 GB of memory (3 workers, 3.2 GB each), more than the 4.0 GB "
        "available: give fewer --workers or a smaller --size.")
    assert error(run("pack", index, "--size", "2048", "-j", "1", "-o", tmp_path / "store")) == (
        "Error: Packing at 2,048 px takes 12.9 GB of memory (1 worker, 12.9 GB each), more than the 4.0 GB "
        "available: give a smaller --size.")
    assert not (tmp_path / "store").exists()


def test_restrict_refuses_a_negative_minimum(tmp_path):
    index = index_of(tmp_path, {TENCH: 2})
    labels = labels_file(tmp_path, {TENCH: FISH})
    assert error(run("restrict", "--labels", labels, "--images", index, "--min-images", "-1", "-o", tmp_path / "r.parquet")) == (
        "Error: --min-images must be 1 or more, not -1.")
    assert not (tmp_path / "r.parquet").exists()


def test_apply_points_to_restrict_when_allow_missing_would_leave_a_label_empty(tmp_path):
    index = index_of(tmp_path, {TENCH: 4, GOLDFISH: 2})
    labels = labels_file(tmp_path, {TENCH: FISH, GOLDFISH: FISH, WHITE_SHARK: SHARK})
    out = tmp_path / "table.parquet"
    for allow in ([], ["--allow-missing"]):
        message = error(run("apply", "--labels", labels, "--images", index, "-o", out, *allow))
        assert "--allow-missing" not in message and "`curate images restrict` makes a label set" in message, message
    assert not out.exists()


def test_coarsen_refuses_json_with_an_output_file(curate_cli, tmp_path):
    result = curate_cli("coarsen", "--lift", "1", "--json", "-o", tmp_path / "c.parquet")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", (
        "Error: --json prints the summary without writing the manifest, and --output writes the manifest instead "
        "of the summary: give one or the other.\n"))
    assert not (tmp_path / "c.parquet").exists()


# --- two packs into one folder ------------------------------------------------------------------------------


def pack_process(source: Path, store: Path) -> list[str]:
    return [sys.executable, "-c", ONE_IMAGE_PARTS, "images", "pack", str(source), "--size", "32", "-j", "1",
            "-o", str(store)]


def test_a_second_pack_into_a_folder_being_packed_is_refused_and_damages_nothing(source, tmp_path):
    store = tmp_path / "store"
    first = subprocess.Popen(pack_process(source, store), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list((store / ".parts").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGSTOP)  # held mid-pack, its claim with it, while the second one starts
    try:
        assert (store / ".packing.claim").read_text() == str(first.pid)
        second = subprocess.run(pack_process(source, store), cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert (second.returncode, second.stdout) == (1, "")
    assert second.stderr.splitlines()[-1] == f"Error: {store} is being packed by another process (pid {first.pid})."
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert len(ImageStore.open(store).index) == 12
    assert sorted(p.name for p in store.iterdir()) == ["_info.json", "index.parquet", "shards"]


def test_a_claim_left_by_a_pack_that_died_is_taken_over(source, tmp_path):
    store = tmp_path / "store"
    first = subprocess.Popen(pack_process(source, store), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list((store / ".parts").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.005)
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)
    assert first.returncode == 143 and not (store / "index.parquet").exists()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=False)
    (store / ".packing.claim").write_text(gone.stdout.strip())  # what a pack killed by SIGKILL leaves
    again = subprocess.run(pack_process(source, store), cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and "going on from" in again.stderr, again.stderr
    assert len(ImageStore.open(store).index) == 12
    assert sorted(p.name for p in store.iterdir()) == ["_info.json", "index.parquet", "shards"]


# --- images past Pillow's pixel limit ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge_jpeg() -> bytes:
    """A valid 20000 x 20000 JPEG (400 million px, past Pillow's limit of 178,956,970): one grey, so small."""
    return jpeg(128, 20000, 20000, mode="L")


def huge_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of `width` x `height` white pixels, written by hand: PNG has no reduced decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\0" + b"\xff" * ((width + 7) // 8)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def test_a_jpeg_past_pillow_s_limit_is_verified_and_packed_at_a_reduced_scale(tmp_path, huge_jpeg):
    touch(tmp_path / "train" / TENCH / "huge.JPEG", huge_jpeg)
    touch(tmp_path / "train" / TENCH / "small.JPEG", jpeg((10, 20, 30), 60, 40))
    result = run("index", tmp_path / "train", "--verify", "--strict", "-o", tmp_path / "index.parquet")
    assert result.exit_code == 0, result.stderr
    assert len(ImageIndex.read(tmp_path / "index.parquet")) == 2
    packed = run("pack", tmp_path / "index.parquet", "--size", "32", "-o", tmp_path / "store", "--report", tmp_path / "failed.json")
    assert packed.exit_code == 0, packed.stderr
    assert "2 of 2 images packed" in packed.stderr
    assert json.loads((tmp_path / "failed.json").read_text())["failed"] == {}
    row = next(r for r in ImageStore.open(tmp_path / "store").index.rows.to_pylist() if r["path"].endswith("huge.JPEG"))
    with tarfile.open(tmp_path / "store" / row["archive"]) as tar:
        image = Image.open(tar.extractfile(f"{0:09d}.jpg"))
        assert image.size == (32, 32) and image.convert("L").getpixel((16, 16)) in range(126, 131)


def test_an_image_past_pillow_s_limit_that_no_scale_brings_under_is_called_too_large(tmp_path):
    png = tmp_path / "train" / TENCH / "huge.png"
    touch(png, huge_png(14000, 14000))  # 196 million px
    touch(tmp_path / "train" / TENCH / "small.JPEG", jpeg((10, 20, 30), 60, 40))
    result = run("index", tmp_path / "train", "--verify", "-o", tmp_path / "index.parquet", "--report", tmp_path / "r.json")
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "r.json").read_text())["too_large"] == [f"{TENCH}/huge.png"]
    assert "too large for Pillow" in result.stderr and "broken" not in result.stderr
    strict = run("index", tmp_path / "train", "--verify", "--strict", "-o", tmp_path / "strict.parquet")
    assert error(strict) == (
        f"Error: {tmp_path / 'train'} holds what cannot be indexed (too large for Pillow: 1), for example "
        f"{TENCH}/huge.png (too large for Pillow); without --strict it is reported and left out.")
    assert not (tmp_path / "strict.parquet").exists()
    assert run("index", tmp_path / "train", "-o", tmp_path / "unverified.parquet").exit_code == 0
    packed = run("pack", tmp_path / "unverified.parquet", "--size", "32", "-o", tmp_path / "store", "--report", tmp_path / "failed.json")
    assert packed.exit_code == 0, packed.stderr
    assert json.loads((tmp_path / "failed.json").read_text())["failed"] == {
        f"{TENCH}/huge.png": "14,000 x 14,000 px, more than Pillow's limit of 178,956,970 px"}
    assert len(ImageStore.open(tmp_path / "store").index) == 1


# --- a damaged shard among good ones ---------------------------------------------------------------------


def wds_shard(path: Path, first: int) -> Path:
    """A WebDataset shard as timm writes ImageNet's: KEY.jpg, KEY.cls and KEY.json per sample."""
    path.parent.mkdir(parents=True, exist_ok=True)
    members = {}
    for n in range(first, first + 3):
        members[f"{n:06d}.jpg"] = tiny_jpeg(n)
        members[f"{n:06d}.cls"] = b"0"
        members[f"{n:06d}.json"] = json.dumps({"label": 0, "filename": f"{TENCH}_{n}.JPEG"}).encode()
    return make_tar(path, members)


def hf_shard(path: Path, first: int) -> Path:
    """A Parquet shard as datasets' push_to_hub writes imagenet-1k: an `image` struct and a `label`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [{"bytes": tiny_jpeg(n), "path": f"{TENCH}_{n}.JPEG"} for n in range(first, first + 3)]
    pq.write_table(pa.table({"image": images, "label": pa.array([0, 0, 0], pa.int64())}), path)
    return path


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path: Path) -> None:
    """The first byte of a Parquet shard's footer flipped (Parquet keeps no checksum of its image pages: a flip
    there is a broken image, found by --verify)."""
    data = bytearray(path.read_bytes())
    data[len(data) - 8 - struct.unpack("<I", data[-8:-4])[0]] ^= 0xFF  # the footer's length, then PAR1, end the file
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("layout,make,names,damage", [
    ("wds", wds_shard, ["imagenet1k-train-0000.tar", "imagenet1k-train-0001.tar"], truncate),
    ("hf", hf_shard, ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"], truncate),
    ("hf", hf_shard, ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"], flip_a_byte),
], ids=["webdataset truncated", "parquet truncated", "parquet byte flipped"])
def test_a_damaged_shard_is_reported_and_the_others_indexed(curate_cli, tmp_path, layout, make, names, damage):
    root = tmp_path / layout
    make(root / names[0], 0)
    damage(make(root / names[1], 3))
    out = tmp_path / "index.parquet"
    result = curate_cli("images", "index", root, "-o", out, "--report", tmp_path / "report.json")
    assert result.exit_code == 0, result.stderr
    index = ImageIndex.read(out)
    assert len(index) == 3 and {row["archive"] for row in index.rows.to_pylist()} == {names[0]}
    assert json.loads((tmp_path / "report.json").read_text())["damaged"] == [names[1]]
    strict = curate_cli("images", "index", root, "--strict", "-o", tmp_path / "strict.parquet")
    assert (strict.exit_code, strict.stdout, strict.stderr) == (1, "", (
        f"Error: {root} holds what cannot be indexed (damaged archive: 1), for example {names[1]} (damaged archive); "
        "without --strict it is reported and left out.\n"))
    assert not (tmp_path / "strict.parquet").exists()
