"""Seeded hashes: every pseudo-random choice curate (and train/) makes is a fixed function of a seed and what
is chosen, the same on every machine, Python and library version and PYTHONHASHSEED; none comes from an RNG's
state, so adding items never reshuffles the choice made among the others.

Two hashes, because they serve two sizes of work and each already fixes published choices:
- `text_key(seed, text)`: sha256 of "seed:text" as hex. It orders classes by wnid where a recipe draws classes
  (extend, sample, split random): thousands of keys a call, where a cryptographic hash in Python costs
  nothing. Every committed manifest drawn that way holds an order it made: changing it changes them.
- splitmix64's finalizer (`mix`), on numpy uint64 arrays with wrapping arithmetic: millions of numbers a
  call, where sha256 in Python would take seconds. `path_scores` ranks an index's images for subsets (their
  score is pinned by a test, since every published subset follows it), `uniforms` draws training's crops and
  held-out splits.

score(path) = mix(poly(path) ^ mix(seed)): poly is the polynomial hash sum(byte[i] * P**i) mod 2**64 of the
path's UTF-8 bytes. For a column it is computed chunk by chunk over the string data in place: with
W[j] = P**j, a running sum of byte * W over a chunk's bytes gives each path's sum times P**start, undone by
P**-start (P is odd, so it has an inverse mod 2**64).

numpy is imported by the functions that use it, so that the recipes (which need only `text_key`) start fast.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

MASK = (1 << 64) - 1
P = 0x100000001B3  # the FNV-64 prime
P_INVERSE = pow(P, -1, 1 << 64)
GOLDEN = 0x9E3779B97F4A7C15  # splitmix64's increment: 2**64 / the golden ratio
CHUNK = 1 << 14  # paths hashed at a time


def text_key(seed: int, text: str) -> str:
    """A stable pseudo-random sort key of `text`: the same order on every machine, and adding items does not
    reorder the others."""
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer, on uint64 arrays (wrapping arithmetic)."""
    import numpy as np

    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def seed_word(seed: int) -> np.ndarray:
    """A seed (any Python int) as the uint64 word the hashes take: its low 64 bits."""
    import numpy as np

    return np.array(seed & MASK, dtype=np.uint64)


def powers(base: int, count: int) -> np.ndarray:
    """base**0 .. base**(count-1) mod 2**64."""
    import numpy as np

    running = np.full(count, base, dtype=np.uint64)
    running[0] = 1
    return np.cumprod(running, dtype=np.uint64)


def path_scores(paths: pa.Array | pa.ChunkedArray, seed: int) -> np.ndarray:
    """The seeded score of every path (a string column), as a uint64 array: each class's images are taken in
    the order of their scores. The column's bytes are read in place, not copied."""
    import numpy as np
    import pyarrow as pa

    paths = paths.combine_chunks() if isinstance(paths, pa.ChunkedArray) else paths
    paths = paths.cast(pa.large_string())
    n = len(paths)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    _, offset_buffer, data = paths.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64, count=n + 1, offset=paths.offset * 8)
    data_bytes = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, dtype=np.uint8)
    bounds = offsets[list(range(0, n, CHUNK)) + [n]]
    widest = int((bounds[1:] - bounds[:-1]).max()) + 1
    forward, backward = powers(P, widest), powers(P_INVERSE, widest)
    seed_mix = mix(seed_word(seed))
    scores = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for number, start in enumerate(range(0, n, CHUNK)):
            lo, hi = int(bounds[number]), int(bounds[number + 1])
            running = np.zeros(hi - lo + 1, dtype=np.uint64)
            np.cumsum(data_bytes[lo:hi].astype(np.uint64) * forward[: hi - lo], out=running[1:])
            local = offsets[start : start + min(CHUNK, n - start) + 1] - lo
            starts = local[:-1]
            sums = running[local[1:]] - running[starts]
            scores[start : start + len(starts)] = mix((sums * backward[starts]) ^ seed_mix)
    return scores


def path_score(path: str, seed: int) -> int:
    """The seeded score of one path."""
    import pyarrow as pa

    return int(path_scores(pa.array([path], pa.string()), seed)[0])


def uniforms(seed: int, epoch: int, samples: np.ndarray, draws: int) -> np.ndarray:
    """(len(samples), draws) numbers in [0, 1), a fixed function of (seed, epoch, sample, draw)."""
    import numpy as np

    golden = np.uint64(GOLDEN)
    with np.errstate(over="ignore"):
        key = mix(seed_word(seed) * golden + mix(seed_word(epoch) + golden))
        counters = np.asarray(samples, dtype=np.uint64)[:, None] * np.uint64(draws) + np.arange(draws, dtype=np.uint64)
        bits = mix(counters * golden + key) >> np.uint64(11)
    return bits.astype(np.float64) * 2.0**-53
