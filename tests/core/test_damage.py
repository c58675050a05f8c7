"""Damaged files give one sentence, never a silently wrong answer: real byte flips in a Parquet footer, and in
a store's shards and pixel array; edited metadata; a truncated store."""

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from image_world import GOLDFISH, TENCH, error, index_of, run, tiny_jpeg, touch

from curate.errors import CurateError
from curate.fileformat import metadata_hash
from curate.images.index import ImageIndex
from curate.images.store import ImageStore


def flipped(path: Path, position: int, bit: int, out: Path) -> Path:
    """A copy of `path` at `out` with one bit of one byte flipped."""
    data = bytearray(path.read_bytes())
    data[position] ^= 1 << bit
    out.write_bytes(data)
    return out


def footer_positions(path: Path) -> range:
    """Where a Parquet file's footer is: its encoded metadata, its length and the closing magic."""
    data = path.read_bytes()
    return range(len(data) - 8 - int.from_bytes(data[-8:-4], "little"), len(data))


def test_every_footer_flip_is_refused_or_reads_back_the_same(tmp_path):
    index = index_of(tmp_path, {TENCH: 70, GOLDFISH: 50})
    original = ImageIndex.read(index)
    outcomes = {"refused": 0, "same": 0}
    for position in footer_positions(index):
        damaged = flipped(index, position, position % 8, tmp_path / "damaged.parquet")
        try:
            read = ImageIndex.read(damaged)
        except CurateError as error:
            assert str(error).startswith(f"{damaged} ") and str(error).count(". ") == 0, error
            outcomes["refused"] += 1
            continue
        # a flip in the metadata hash's own key name leaves a file that reads as an older curate's, unchecked
        unhashed = {k: v for k, v in original.metadata.items() if k != "metadata_hash"}
        assert read.rows.equals(original.rows) and {k: read.metadata.get(k) for k in unhashed} == unhashed, position
        outcomes["same"] += 1
    assert outcomes["refused"] > 100 and outcomes["same"] > 0  # the loop reached both outcomes


def row_count_flip(index: Path, out: Path) -> Path:
    """A copy of the 120-row `index` whose footer says it has fewer rows, its pages unchanged: one bit of the
    file's num_rows (Thrift compact: field 3, an i64, 0x16, then zigzag varint 240 = f0 01) flipped."""
    position = index.read_bytes().rindex(b"\x16\xf0\x01") + 1
    damaged = flipped(index, position, 6, out)  # 240 -> 176: 88 rows
    assert pq.read_table(damaged).num_rows == 88  # what a reader that trusts the footer gets
    return damaged


def test_show_refuses_an_index_whose_footer_lost_rows(curate_cli, tmp_path):
    damaged = row_count_flip(index_of(tmp_path, {TENCH: 70, GOLDFISH: 50}), tmp_path / "damaged.parquet")
    result = curate_cli("show", damaged)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.strip() == (f"Error: {damaged} was changed after curate wrote it: its metadata or row count do "
                                     "not match its metadata hash.")


def with_recipe(manifest, recipe: bytes, tmp_path):
    """A copy of `manifest` whose curate.recipe metadata was rewritten to `recipe`, by a tool other than curate."""
    table = pq.read_table(manifest)
    edited = tmp_path / "edited.parquet"
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"curate.recipe": recipe}), edited)
    return edited


def test_show_refuses_a_manifest_whose_metadata_was_edited(curate_cli, depth3, tmp_path):
    edited = with_recipe(depth3, b"totally-different", tmp_path)
    result = curate_cli("show", edited)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.strip() == (f"Error: {edited} was changed after curate wrote it: its metadata or row count do "
                                     "not match its metadata hash.")


def test_metadata_that_is_not_text_is_refused(curate_cli, depth3, tmp_path):
    edited = with_recipe(depth3, b"\xff\xfe", tmp_path)
    result = curate_cli("show", edited)
    assert (result.exit_code, result.stdout, result.stderr.strip()) == (
        1, "", f"Error: {edited} is damaged: its metadata is not text.")


def test_a_file_an_older_curate_wrote_is_still_read(curate_cli, depth3, tmp_path):
    """Without a metadata hash (before files carried one) a file reads as it always did: a user's manifests,
    and the ones in git's history that `git diff` shows through `curate show`, stay readable."""
    table = pq.read_table(depth3)
    metadata = {k: v for k, v in table.schema.metadata.items() if k != b"curate.metadata_hash"}
    old = tmp_path / "old.parquet"
    pq.write_table(table.replace_schema_metadata(metadata), old)
    assert curate_cli("show", old).stdout == curate_cli("show", depth3).stdout.replace(str(depth3), str(old))


# --- stores: every shard and part has its digest; opening checks lengths and the pixel array's header ----


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> dict[str, Path]:
    """A jpeg store and a raw store of 2 classes x 5 small real JPEGs, packed once; tests damage copies."""
    pytest.importorskip("PIL")
    folder = tmp_path_factory.mktemp("packed")
    for n in range(10):
        wnid = (TENCH, GOLDFISH)[n % 2]
        touch(folder / "train" / wnid / f"{wnid}_{n}.JPEG", tiny_jpeg(25 * n))
    assert run("index", folder / "train", "-o", folder / "index.parquet").exit_code == 0
    for fmt in ("jpeg", "raw"):
        assert run("pack", folder / "index.parquet", "-f", fmt, "--size", 16, "-j", 1, "-o", folder / fmt, "-q").exit_code == 0
    return {fmt: folder / fmt for fmt in ("jpeg", "raw")}


@pytest.fixture
def store(packed, tmp_path, request) -> Path:
    """A fresh copy of the packed store of the test's format."""
    return Path(shutil.copytree(packed[request.param], tmp_path / "store"))


def flip_in_place(path: Path, position: int, bit: int = 0) -> None:
    flipped(path, position, bit, path)


def header_length(pixels: Path) -> int:
    import numpy as np

    return np.load(pixels, mmap_mode="r").offset


@pytest.mark.parametrize("store", ["jpeg", "raw"], indirect=True)
def test_verify_passes_a_store_as_packed(store):
    result = run("verify", store)
    assert (result.exit_code, result.stdout) == (0, f"{store}\n"), result.stderr


@pytest.mark.parametrize("store,damaged,where", [
    ("jpeg", "shards/000000.tar", lambda path: path.stat().st_size // 2),
    ("raw", "pixels.npy", lambda path: path.stat().st_size - 100),
], indirect=["store"])
def test_verify_finds_a_flipped_byte(store, damaged, where):
    path = store / damaged
    flip_in_place(path, where(path))
    named = damaged if damaged != "pixels.npy" else f"pixels.npy (bytes {header_length(path):,} to {path.stat().st_size:,})"
    assert error(run("verify", store)) == (f"Error: The store {store} is damaged: {named} does not match the digests "
                                           "recorded when it was packed; pack it again.")


@pytest.mark.parametrize("store", ["raw"], indirect=True)
def test_every_flip_of_the_pixel_header_is_refused_on_opening(store, tmp_path):
    from curate.images.store import ImageStore

    pixels = store / "pixels.npy"
    original = pixels.read_bytes()
    for position in range(header_length(pixels)):
        flip_in_place(pixels, position, position % 8)
        with pytest.raises(CurateError) as refused:
            ImageStore.open(store)
        assert str(refused.value) == f"The store {store} is damaged: the header of pixels.npy is not the one it was packed with."
        pixels.write_bytes(original)


@pytest.mark.parametrize("store,damaged", [("jpeg", "shards/000000.tar"), ("raw", "pixels.npy")], indirect=["store"])
def test_a_truncated_store_is_refused_when_opened(store, damaged):
    path = store / damaged
    length = path.stat().st_size
    path.write_bytes(path.read_bytes()[:length - 10])
    assert error(run("verify", store)) == (f"Error: The store {store} is damaged: {damaged} has {length - 10:,} bytes, not "
                                           f"the {length:,} it was packed with (truncated?).")


@pytest.mark.parametrize("store", ["jpeg"], indirect=True)
def test_a_store_that_records_no_digests_opens_but_cannot_be_verified(store):
    index = store / "index.parquet"
    table = pq.read_table(index)
    metadata = {k.decode()[len("curate."):]: v.decode() for k, v in table.schema.metadata.items()
                if k.startswith(b"curate.") and k != b"curate.store_spans"}
    metadata["metadata_hash"] = metadata_hash(metadata, table.num_rows)  # as an older curate would have written it
    pq.write_table(table.replace_schema_metadata({f"curate.{k}": v for k, v in metadata.items()}), index)
    assert len(ImageStore.open(store).index) == 10  # opens unchecked, as it always did
    assert error(run("verify", store)) == (f"Error: The store {store} records no digests of its files (it was packed "
                                           "before stores did): pack it again to be able to verify it.")
