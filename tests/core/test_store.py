"""Packing an index into a store: the same images under the same identities, pixels where the rows say,
failures reported, an interrupted pack that goes on, and bad input (one sentence, nothing half-written)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from image_world import GOLDFISH, TENCH, WHITE_SHARK, error, label_set, run, touch

from curate.images.index import ImageIndex
from curate.images.pack import pack
from curate.images.store import ImageStore

Image = pytest.importorskip("PIL.Image")
REPO = Path(__file__).resolve().parents[2]
COLOURS = {TENCH: (200, 30, 30), GOLDFISH: (30, 200, 30), WHITE_SHARK: (30, 30, 200)}


def jpeg(colour, width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture
def source(tmp_path) -> Path:
    """An index of 3 classes x 6 flat-coloured JPEGs of various sizes, one broken file, as class folders."""
    root = tmp_path / "train"
    for wnid, colour in COLOURS.items():
        for n in range(6):
            touch(root / wnid / f"{wnid}_{n}.JPEG", jpeg(colour, 80 + 20 * n, 60 + 10 * n))
    touch(root / TENCH / f"{TENCH}_broken.JPEG", b"\xff\xd8 not a jpeg")
    assert run("index", root, "-o", tmp_path / "index.parquet").exit_code == 0
    return tmp_path / "index.parquet"


@pytest.mark.parametrize("fmt,size", [("jpeg", 48), ("raw", 32)])
def test_a_store_holds_the_source_images_under_their_own_paths(source, tmp_path, fmt, size):
    result = run("pack", source, "-f", fmt, "--size", size, "-o", tmp_path / "store", "--report", tmp_path / "failed.json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{tmp_path / 'store'}\n"
    assert "18 of 19 images packed" in result.stderr
    index, store = ImageIndex.read(source), ImageStore.open(tmp_path / "store")
    broken = f"{TENCH}/{TENCH}_broken.JPEG"
    kept = index.rows.filter(np.array([p != broken for p in index.rows["path"].to_pylist()]))
    assert store.index.rows.select(["path", "wnid", "split"]).equals(kept.select(["path", "wnid", "split"]))
    assert store.origin_hash == index.content_hash and store.index.metadata["source_hash"] == index.content_hash
    assert (store.format, store.size, store.index.metadata.get("store_quality")) == (fmt, size, "90" if fmt == "jpeg" else None)
    assert list(json.loads((tmp_path / "failed.json").read_text())["failed"]) == [broken]
    for row in store.index.rows.to_pylist():
        data = (tmp_path / "store" / row["archive"]).read_bytes()[row["offset"] : row["offset"] + row["size"]]
        if fmt == "raw":
            pixels = np.frombuffer(data, np.uint8).reshape(size, size, 3)
        else:
            picture = Image.open(io.BytesIO(data))
            assert min(picture.size) == size  # short side to the size, aspect kept
            pixels = np.asarray(picture)
        assert np.abs(pixels.reshape(-1, 3).mean(0) - COLOURS[row["wnid"]]).max() < 3, row["path"]


def test_subsets_and_labels_of_the_store_select_the_images_the_source_s_do(source, tmp_path):
    assert run("pack", source, "-f", "raw", "--size", 16, "-o", tmp_path / "store", "-q").exit_code == 0
    store = ImageIndex.read(tmp_path / "store" / "index.parquet")
    index = ImageIndex.read(source)
    for seed in range(5):  # tench lost its broken image to the pack: the other classes are the source's
        ours = [p for p in store.subset(per_class=3, seed=seed).rows["path"].to_pylist() if not p.startswith(TENCH)]
        theirs = [p for p in index.subset(per_class=3, seed=seed).rows["path"].to_pylist() if not p.startswith(TENCH)]
        assert ours == theirs
    table = store.label(label_set({TENCH: TENCH, GOLDFISH: GOLDFISH, WHITE_SHARK: WHITE_SHARK}))
    assert table.metadata["store_format"] == "raw" and table.metadata["origin_hash"] == index.content_hash
    assert table.root == str((tmp_path / "store").resolve())


def test_a_store_can_be_moved(source, tmp_path):
    assert run("pack", source, "-f", "jpeg", "--size", 32, "-o", tmp_path / "store", "-q").exit_code == 0
    (tmp_path / "store").rename(tmp_path / "moved")
    assert ImageIndex.read(tmp_path / "moved" / "index.parquet").root == str((tmp_path / "moved").resolve())
    assert len(ImageStore.open(tmp_path / "moved").index) == 18


def interrupted_pack(source: Path, store: Path, monkeypatch, **settings) -> list[str]:
    """Pack `source` into `store` and stop it after two parts of 4 images: the parts it leaves."""
    from curate.images import pack as packing

    monkeypatch.setattr(packing, "CHUNK", 4)
    calls = []

    def stop_after_two_parts(description, total):
        def advance(n=1, status=None):
            calls.append(n)
            if len(calls) == 3:  # the first call counts parts done before: none
                raise KeyboardInterrupt

        return advance

    with pytest.raises(KeyboardInterrupt):
        pack(ImageIndex.read(source), store, workers=1, progress=stop_after_two_parts, **settings)
    return sorted(p.name for p in (store / ".parts").iterdir())


def test_an_interrupted_pack_looks_unfinished_and_goes_on(source, tmp_path, monkeypatch):
    interrupted_pack(source, tmp_path / "store", monkeypatch, fmt="raw", size=16)
    assert not (tmp_path / "store" / "index.parquet").exists()
    assert error(run("subset", tmp_path / "store" / "index.parquet", "--per-class", 1, "-o", tmp_path / "s.parquet")).endswith("does not exist.")
    with pytest.raises(Exception, match="still being packed"):
        ImageStore.open(tmp_path / "store")
    store, report = pack(ImageIndex.read(source), tmp_path / "store", fmt="raw", size=16, workers=2)
    assert report.resumed_parts >= 2 and report.packed == 18
    pack(ImageIndex.read(source), tmp_path / "whole", fmt="raw", size=16)
    assert isinstance(store, ImageStore) and store.index.content_hash == ImageStore.open(tmp_path / "whole").index.content_hash
    assert (tmp_path / "store" / "pixels.npy").read_bytes() == (tmp_path / "whole" / "pixels.npy").read_bytes()
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["index.parquet", "pixels.npy"]


@pytest.mark.parametrize("first,then", [
    ({"fmt": "raw", "size": 32}, ["-f", "raw", "--size", "24"]),
    ({"fmt": "jpeg", "size": 32}, ["-f", "raw", "--size", "32"]),
    ({"fmt": "jpeg", "size": 32, "quality": 90}, ["-f", "jpeg", "--size", "32", "--quality", "80"]),
], ids=["size", "format", "quality"])
def test_parts_packed_with_other_settings_are_never_mixed_into_a_store(source, tmp_path, monkeypatch, first, then):
    """A pack left unfinished at one setting, packed again at another into the same folder: refused, the parts
    left as they were; with --overwrite, packed afresh, every image at the new setting."""
    store = tmp_path / "store"
    parts = interrupted_pack(source, store, monkeypatch, **first)
    assert len(parts) >= 2
    assert error(run("pack", source, *then, "-j", "1", "-o", store)) == (
        f"Error: {store} already holds a store being packed with other settings: give --overwrite to replace it, "
        "or another folder.")
    assert sorted(p.name for p in (store / ".parts").iterdir()) == parts
    again = run("pack", source, *then, "-j", "1", "--overwrite", "-o", store)
    assert again.exit_code == 0 and "going on from" not in again.stderr, again.stderr
    assert run("pack", source, *then, "-o", tmp_path / "fresh", "-q").exit_code == 0
    assert ImageStore.open(store).index.content_hash == ImageStore.open(tmp_path / "fresh").index.content_hash
    for name in ("pixels.npy", "shards/000000.tar", "shards/000004.tar"):
        assert (store / name).is_file() == (tmp_path / "fresh" / name).is_file()
        if (store / name).is_file():
            assert (store / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name


def test_a_pack_begun_with_the_filter_before_is_not_gone_on_with(source, tmp_path, monkeypatch):
    """Parts left by a pack from before stores were resampled with Hamming (its settings name no filter) are
    never mixed with parts resampled now: the folder is refused, its parts kept, until --overwrite."""
    store = tmp_path / "store"
    parts = interrupted_pack(source, store, monkeypatch, fmt="raw", size=16)
    settings = json.loads((store / ".packing.json").read_text())
    del settings["filter"]
    (store / ".packing.json").write_text(json.dumps(settings, sort_keys=True))
    assert error(run("pack", source, "-f", "raw", "--size", "16", "-o", store)) == (
        f"Error: {store} already holds a store being packed with other settings: give --overwrite to replace it, "
        "or another folder.")
    assert sorted(p.name for p in (store / ".parts").iterdir()) == parts


def textured_jpeg(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG: a smooth random colour field with noise, so that resampling filters differ on it."""
    rng = np.random.default_rng(seed)
    field = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    pixels = np.clip(np.asarray(field, dtype=np.float32) + rng.normal(0, 20, (height, width, 3)), 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def resampled(data: bytes, size: int, resample) -> Image.Image:
    """The short side of `data` scaled to `size` by Pillow's `resample`, after a decode at the smallest JPEG DCT
    scale that keeps the short side at least `size` (what the store's metadata says it holds)."""
    image = Image.open(io.BytesIO(data))
    scale = size / min(image.size)
    target = (max(size, round(image.width * scale)), max(size, round(image.height * scale)))
    image.draft("RGB", target)
    return image.resize(target, resample)


@pytest.mark.parametrize("fmt", ["jpeg", "raw"])
def test_a_store_holds_each_image_resampled_with_hamming_after_dct_scaling(tmp_path, fmt):
    """A JPEG store's images are exactly Pillow's Hamming resize of the DCT-scaled decode, encoded at the
    store's quality; a raw store's, that resize's central square (resampled alone: within one level)."""
    sources = {f"{TENCH}/{TENCH}_{n}.JPEG": textured_jpeg(width, height, n) for n, (width, height) in
               enumerate([(300, 200), (120, 160), (70, 50)])}  # decoded at 1/4, 1/2 and full scale
    for path, data in sources.items():
        touch(tmp_path / "train" / path, data)
    assert run("index", tmp_path / "train", "-o", tmp_path / "index.parquet").exit_code == 0
    assert run("pack", tmp_path / "index.parquet", "-f", fmt, "--size", 40, "-o", tmp_path / "store", "-q").exit_code == 0
    store = ImageStore.open(tmp_path / "store")
    assert "Hamming after JPEG DCT scaling" in store.index.metadata["store_resize"]
    for row in store.index.rows.to_pylist():
        packed = (tmp_path / "store" / row["archive"]).read_bytes()[row["offset"] : row["offset"] + row["size"]]
        expected = resampled(sources[row["path"]], 40, Image.Resampling.HAMMING)
        lanczos = resampled(sources[row["path"]], 40, Image.Resampling.LANCZOS)
        if fmt == "jpeg":
            encoded = io.BytesIO()
            expected.save(encoded, "JPEG", quality=90)
            assert packed == encoded.getvalue(), row["path"]
            continue
        left, top = (expected.width - 40) // 2, (expected.height - 40) // 2
        square = lambda image: np.asarray(image.crop((left, top, left + 40, top + 40)), dtype=np.int16)  # noqa: E731
        pixels = np.frombuffer(packed, np.uint8).reshape(40, 40, 3)
        assert np.abs(pixels - square(expected)).max() <= 1, row["path"]
        assert np.abs(pixels - square(lanczos)).mean() > 1, row["path"]  # the filters differ on this image


ONE_IMAGE_PARTS = ("import sys; from curate.images import pack; pack.CHUNK = 1; from curate.cli import main;"
                   "sys.argv = ['curate', *sys.argv[1:]]; main()")


def test_sigterm_during_a_pack_leaves_nothing_that_looks_complete(source, tmp_path):
    argv = [sys.executable, "-c", ONE_IMAGE_PARTS, "images", "pack", str(source), "-f", "jpeg", "--size", "32", "-j", "1",
            "-o", str(tmp_path / "store")]
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "store" / ".parts").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    if process.returncode == 143:  # stopped before the end: nothing says it is a store
        assert not (tmp_path / "store" / "index.parquet").exists()
        assert not list((tmp_path / "store").glob("**/*.tmp"))
    again = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    if process.returncode == 143:
        assert again.returncode == 0 and "going on from" in again.stderr, again.stderr
    assert len(ImageStore.open(tmp_path / "store").index) == 18


def grandchildren(pid: int) -> list[int]:
    """The processes whose parent's parent is `pid` (a forkserver pool's workers), from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    return [child for child, parent in parents.items() if parents.get(parent) == pid]


def test_a_worker_killed_mid_pack_ends_it_with_one_sentence_and_the_next_run_goes_on(source, tmp_path):
    argv = [sys.executable, "-c", ONE_IMAGE_PARTS, "images", "pack", str(source), "-f", "jpeg", "--size", "32", "-j", "1",
            "-o", str(tmp_path / "store")]
    last = tmp_path / "train" / ImageIndex.read(source).rows["path"][-1].as_py()
    data = last.read_bytes()
    last.unlink()
    os.mkfifo(last)  # the last part's image: the only worker (-j 1) waits on it, never finishing every part
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(list((tmp_path / "store" / ".parts").glob("*.json"))) < 18 and time.monotonic() < deadline:
        time.sleep(0.005)  # every part but the last
    workers = grandchildren(process.pid)
    os.kill(workers[0], signal.SIGSTOP)
    os.kill(workers[0], signal.SIGKILL)  # as the kernel's out-of-memory killer does
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stderr.splitlines()[-1] == (
        "Error: A worker process was killed by SIGKILL (SIGKILL is what the system sends when memory runs out). "
        "The parts packed before are kept: the same command goes on from them.")
    assert not (tmp_path / "store" / "index.parquet").exists()
    last.unlink()
    last.write_bytes(data)
    again = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0 and "going on from" in again.stderr, again.stderr
    assert len(ImageStore.open(tmp_path / "store").index) == 18
    assert not list((tmp_path / "store").glob("**/*.tmp"))



@pytest.mark.parametrize("fmt", ["jpeg", "raw"])
def test_a_pack_gives_the_same_bytes_under_any_hash_seed_and_any_number_of_workers(source, tmp_path, fmt):
    """Parts of 4 images, packed by 1 and by 3 workers, in processes with different PYTHONHASHSEEDs: the same
    files, byte for byte (index, shards or pixel array, and timm's _info.json)."""
    stores = []
    for seed, workers in (("1", "1"), ("2", "3")):
        stores.append(tmp_path / seed / "store")  # one name: timm's _info.json names its store
        argv = [sys.executable, "-c", ONE_IMAGE_PARTS.replace("pack.CHUNK = 1", "pack.CHUNK = 4"), "images", "pack",
                str(source), "-f", fmt, "--size", "24", "-j", workers, "-o", str(stores[-1]), "-q"]
        packed = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert packed.returncode == 0, packed.stderr
    files = [{p.relative_to(store): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()} for store in stores]
    assert list(files[0]) == list(files[1]) and len(files[0]) >= (2 if fmt == "raw" else 7)
    for name in files[0]:
        assert files[0][name] == files[1][name], name


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options,sentence", [
    (["-f", "png"], "--format must be one of jpeg, raw, not 'png'."),
    (["--size", "8"], "--size is 8 px, too small to train on: give 16 or more (32 and 64 are the downsampled-ImageNet sizes)."),
    (["--quality", "0"], "--quality must be 1 to 100, not 0."),
], ids=["format", "size", "quality"])
def test_bad_pack_options(source, tmp_path, options, sentence):
    assert error(run("pack", source, *options, "-o", tmp_path / "store")) == f"Error: {sentence}"
    assert not (tmp_path / "store").exists()


def test_a_finished_store_is_replaced_only_with_overwrite(source, tmp_path):
    assert run("pack", source, "--size", 32, "-o", tmp_path / "store", "-q").exit_code == 0
    before = (tmp_path / "store" / "index.parquet").read_bytes()
    assert error(run("pack", source, "--size", 24, "-o", tmp_path / "store")) == (
        f"Error: {tmp_path / 'store'} already holds a store: give --overwrite to replace it, or another folder."
    )
    assert (tmp_path / "store" / "index.parquet").read_bytes() == before
    assert run("pack", source, "-f", "raw", "--size", 16, "-o", tmp_path / "store", "--overwrite", "-q").exit_code == 0
    assert ImageStore.open(tmp_path / "store").format == "raw"
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["index.parquet", "pixels.npy"]


def test_a_folder_that_is_not_a_store_is_never_touched(source, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    assert error(run("pack", source, "-o", tmp_path / "mine", "--overwrite")) == (
        f"Error: {tmp_path / 'mine'} holds files that are not a store's (thesis.tex): give a new or empty folder."
    )
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["thesis.tex"]


@pytest.mark.parametrize("damage,sentence", [
    ("missing", "The store {store} is damaged: shards/000000.tar is missing."),
    ("truncated", "The store {store} is damaged: shards/000000.tar has 1,000 bytes, not the {need:,} it was packed with (truncated?)."),
])
def test_a_damaged_store_is_refused(source, tmp_path, damage, sentence):
    store = tmp_path / "store"
    assert run("pack", source, "--size", 32, "-o", store, "-q").exit_code == 0
    shard = store / "shards" / "000000.tar"
    need = shard.stat().st_size
    shard.unlink() if damage == "missing" else shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(Exception) as raised:
        ImageStore.open(store)
    assert str(raised.value) == sentence.format(store=store, need=need)


def test_a_store_still_being_packed_or_not_a_store_is_refused(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(Exception, match="is not a store: it has no index.parquet"):
        ImageStore.open(tmp_path / "plain")


def test_a_raw_store_larger_than_the_free_disk_is_refused_before_any_work(source, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12 - 10**7, 10**7))
    assert error(run("pack", source, "-f", "raw", "--size", 512, "-o", tmp_path / "store")) == (
        f"Error: A raw store of 19 images at 512 px takes 14.9 MB, more than the 10.0 MB free on the disk of {tmp_path}: "
        "give a smaller --size, or a folder on a larger disk.")
    assert not (tmp_path / "store").exists()
