"""A checkpoint carries its digest, checked on every load: real bit flips anywhere in the file are refused with
one sentence naming it (or change nothing), by `--resume`, `--checkpoint` and `evaluate` alike."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch
from commands import FAST, SIZES, error_of, run, tables

from train import checkpoint
from train.errors import TrainError


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory) -> Path:
    """The checkpoint of a one-epoch run of the tiny network."""
    out = tmp_path_factory.mktemp("one-epoch")
    code, _ = run(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "1", "--output-dir", str(out)])
    assert code == 0
    return out / "checkpoint.pt"


def flipped(path: Path, position: int, bit: int, out: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[position] ^= 1 << bit
    out.write_bytes(data)
    return out


def same(a, b) -> bool:
    """Whether two loaded checkpoints hold the same values (tensors bit for bit)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and bool(
            (a.view(-1).view(torch.uint8) == b.view(-1).view(torch.uint8)).all())
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def test_every_bit_flip_is_refused_or_changes_nothing(saved, tmp_path):
    original = torch.load(saved, weights_only=True)
    size = saved.stat().st_size
    damaged = tmp_path / "damaged.pt"
    refused = 0
    for n, position in enumerate(range(0, size, max(1, size // 200))):
        flipped(saved, position, n % 8, damaged)
        try:
            loaded = checkpoint.load(damaged)
        except TrainError as error:
            assert str(error).startswith(f"{damaged} "), error
            refused += 1
            continue
        assert same(loaded, original), position
    assert refused > 50


def weights_flip(path: Path, out: Path) -> Path:
    """A copy of the checkpoint `path` with one bit flipped in the middle of its largest tensor."""
    with zipfile.ZipFile(path) as archive:
        largest = max((info for info in archive.infolist() if "/data/" in info.filename), key=lambda info: info.file_size)
    with path.open("rb") as file:
        file.seek(largest.header_offset + 26)
        name, extra = (int.from_bytes(file.read(2), "little") for _ in range(2))
    return flipped(path, largest.header_offset + 30 + name + extra + largest.file_size // 2, 6, out)


def test_a_flip_in_the_weights_does_change_them(saved, tmp_path):
    damaged = weights_flip(saved, tmp_path / "damaged.pt")
    assert not same(torch.load(damaged, weights_only=True)["model"], torch.load(saved, weights_only=True)["model"])


@pytest.mark.parametrize("command", ["resume", "evaluate", "finetune"])
def test_a_flipped_checkpoint_is_refused_naming_it(command, saved, data, shapes_task, tmp_path, capsys):
    damaged = weights_flip(saved, tmp_path / "damaged.pt")
    argv = {
        "resume": ["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "2", "--resume", str(damaged),
                   "--output-dir", str(tmp_path / "again")],
        "evaluate": ["evaluate", "--checkpoint", str(damaged), *tables(data["coarse"]), "--device", "cpu", "-j", "0", *SIZES],
        "finetune": ["finetune", "--checkpoint", str(damaged), "--task", "imagefolder", "--data", str(shapes_task), *FAST,
                     "--epochs", "1", "--output-dir", str(tmp_path / "tuned")],
    }[command]
    assert error_of(argv, capsys) == f"Error: {damaged} is damaged: what it holds does not match its digest."
    assert not (tmp_path / "again").exists() and not (tmp_path / "tuned").exists()


def test_a_checkpoint_saved_before_digests_still_loads(saved, data, tmp_path):
    """Weights a user trained before checkpoints carried a digest stay usable (unchecked, as they always were)."""
    state = torch.load(saved, weights_only=True)
    del state["digest"]
    torch.save(state, tmp_path / "old.pt")
    evaluate = ["evaluate", *tables(data["coarse"]), "--device", "cpu", "-j", "0", *SIZES]
    (code, old), (_, new) = (run([*evaluate, "--checkpoint", str(path)]) for path in (tmp_path / "old.pt", saved))
    assert code == 0 and {**old, "checkpoint": None} == {**new, "checkpoint": None}