"""The seeded order of images: a 64-bit hash of each path and a seed, the same on every machine, Python and
library version. Subsets take each class's images in this order, so they nest (the 50-image subset lies in
the 125-image one for a seed) and adding images never reorders the images already there.

score(path) = mix(poly(path) ^ mix(seed)): poly is the polynomial hash sum(byte[i] * P**i) mod 2**64 of the
path's UTF-8 bytes, mix the splitmix64 finalizer. Computed with pyarrow kernels: with W[j] = P**j, a
running sum of byte * W over a chunk's bytes gives each path's sum times P**start, undone by P**-start
(P is odd, so it has an inverse mod 2**64). `score` below is the same function in plain Python.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

MASK = (1 << 64) - 1
P = 0x100000001B3  # the FNV-64 prime
P_INVERSE = pow(P, -1, 1 << 64)
CHUNK = 1 << 14
U64 = pa.uint64()


def mix(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def score(path: str, seed: int) -> int:
    """The rank key of one path (plain Python; `path_scores` computes the same for a column)."""
    h = 0
    for byte in reversed(path.encode()):  # Horner's rule for sum(byte[i] * P**i)
        h = (h * P + byte) & MASK
    return mix(h ^ mix(seed & MASK))


def mix_column(x: pa.Array) -> pa.Array:
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, pa.scalar(shift, U64))), pa.scalar(factor, U64))
    return pc.bit_wise_xor(x, pc.shift_right(x, pa.scalar(31, U64)))


def powers(base: int, count: int) -> pa.Array:
    """base**0 .. base**(count-1) mod 2**64."""
    return pc.cumulative_prod(pa.repeat(pa.scalar(base, U64), count), start=pa.scalar(pow(base, -1, 1 << 64), U64))


def path_scores(paths: pa.Array | pa.ChunkedArray, seed: int) -> pa.ChunkedArray:
    """`score(path, seed)` of every path, as uint64."""
    paths = paths.combine_chunks() if isinstance(paths, pa.ChunkedArray) else paths
    paths = paths.cast(pa.large_string())
    n = len(paths)
    if n == 0:
        return pa.chunked_array([], U64)
    _, offset_buffer, data = paths.buffers()
    offsets = pa.Array.from_buffers(pa.int64(), n + 1, [None, offset_buffer], offset=paths.offset)
    bounds = [offsets[i].as_py() for i in range(0, n, CHUNK)] + [offsets[n].as_py()]
    widest = max(b - a for a, b in zip(bounds, bounds[1:])) + 1
    forward, backward = powers(P, widest), powers(P_INVERSE, widest)
    data_bytes = pa.Array.from_buffers(pa.uint8(), bounds[-1], [None, data])
    seed_mix = pa.scalar(mix(seed & MASK), U64)
    chunks = []
    for number, start in enumerate(range(0, n, CHUNK)):
        lo, hi = bounds[number], bounds[number + 1]
        values = data_bytes.slice(lo, hi - lo).cast(U64)
        running = pa.concat_arrays([pa.array([0], U64), pc.cumulative_sum(pc.multiply(values, forward.slice(0, hi - lo)))])
        local = pc.subtract(offsets.slice(start, min(CHUNK, n - start) + 1), lo)
        starts = local.slice(0, len(local) - 1)
        sums = pc.subtract(pc.take(running, local.slice(1)), pc.take(running, starts))
        chunks.append(mix_column(pc.bit_wise_xor(pc.multiply(sums, pc.take(backward, starts)), seed_mix)))
    return pa.chunked_array(chunks, U64)
