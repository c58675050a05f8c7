"""k-NN over a memory bank sharded across ranks gives exactly the single-process answer."""

from __future__ import annotations

import json
import os
import socket

import pytest

torch = pytest.importorskip("torch")

from train.knn import knn_predict, knn_top1  # noqa: E402


def clustered(seed: int, count: int, classes: int = 7, dim: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Features near one random centre per class, and their labels."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(99))
    labels = torch.randint(0, classes, (count,), generator=generator)
    return centres[labels] + 2.0 * torch.randn(count, dim, generator=generator), labels


BANK, QUERIES = clustered(0, 203), clustered(1, 57)
SPLIT_BANK, SPLIT_QUERIES = 120, 30  # rank 0 holds bank rows [:120] and queries [:30]; rank 1 the rest


def test_the_nearest_neighbours_vote_with_their_similarity():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 2])
    queries = torch.tensor([[1.0, 0.05], [0.05, 1.0], [0.02, 1.0]])
    assert knn_predict(bank, labels, queries, k=1).tolist() == [0, 1, 1]
    # k=2: (0.05, 1) has neighbours 2 (label 1, similarity 0.9997) and 3 (label 2, 0.9950): label 1 wins.
    assert knn_predict(bank, labels, queries, k=2).tolist() == [0, 1, 1]
    # One neighbour at similarity 1 against two at 0.6: exp(1/T) beats 2 exp(0.6/T) at T=0.07, not at T=1.
    bank, labels = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.6, -0.8]]), torch.tensor([1, 0, 0])
    assert knn_predict(bank, labels, torch.tensor([[1.0, 0.0]]), k=3, temperature=0.07).tolist() == [1]
    assert knn_predict(bank, labels, torch.tensor([[1.0, 0.0]]), k=3, temperature=1.0).tolist() == [0]


def test_knn_top1_is_the_share_of_queries_predicted_right():
    assert knn_top1(*BANK, *QUERIES, k=5) == float((knn_predict(BANK[0], BANK[1], QUERIES[0], k=5) == QUERIES[1]).double().mean())
    assert 0.45 <= knn_top1(*BANK, *QUERIES, k=5) <= 0.8  # 7 overlapping clusters (chance 14%): neighbours matter


def ranks_worker(rank: int, port: int, k: int, temperature: float, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    torch.set_num_threads(1)
    bank = slice(0, SPLIT_BANK) if rank == 0 else slice(SPLIT_BANK, None)
    queries = slice(0, SPLIT_QUERIES) if rank == 0 else slice(SPLIT_QUERIES, None)
    predicted = knn_predict(BANK[0][bank], BANK[1][bank], QUERIES[0][queries], k, temperature, chunk_elements=2000)
    top1 = knn_top1(BANK[0][bank], BANK[1][bank], QUERIES[0][queries], QUERIES[1][queries], k, temperature, 2000)
    with open(f"{out}.{rank}", "w") as f:
        json.dump({"predicted": predicted.tolist(), "top1": top1, "bank_rows": len(BANK[0][bank])}, f)
    dist.destroy_process_group()


# k=150: more than rank 1's 83 images, so its candidates pad; at T=1 far neighbours' votes count too.
@pytest.mark.parametrize("k, temperature", [(5, 0.07), (150, 1.0)])
def test_two_ranks_with_half_a_bank_each_give_the_single_process_answer(k, temperature, tmp_path):
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    mp.spawn(ranks_worker, args=(port, k, temperature, str(tmp_path / "rank")), nprocs=2)
    alone = knn_predict(*BANK, QUERIES[0], k, temperature)
    for rank in (0, 1):
        result = json.loads((tmp_path / f"rank.{rank}").read_text())
        assert result["bank_rows"] < len(BANK[0])  # no rank held the whole bank
        assert result["predicted"] == alone.tolist()
        assert result["top1"] == knn_top1(*BANK, *QUERIES, k, temperature)


def test_a_bank_read_in_many_tiles_finds_the_same_neighbours_as_one_product():
    from train.knn import nearest

    bank, queries = torch.nn.functional.normalize(BANK[0], dim=1), torch.nn.functional.normalize(QUERIES[0], dim=1)
    expected = (queries @ bank.T).topk(5, dim=1)
    values, labels = nearest(queries, bank, BANK[1], 5, chunk_elements=64)  # tiles of 8 bank rows, 8 queries a chunk
    assert torch.equal(labels, BANK[1][expected.indices])
    assert torch.allclose(values, expected.values)
    assert torch.equal(knn_predict(*BANK, QUERIES[0], k=5, chunk_elements=64), knn_predict(*BANK, QUERIES[0], k=5))
