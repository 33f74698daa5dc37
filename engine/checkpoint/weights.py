"""Random tensor contents, drawn in bounded chunks, in float (F32/BF16) or MLX affine-quantized form.

Every tensor gets its own generator seeded from (seed, name), so shards are independent and a
checkpoint is the same whatever order it is written in. Quantized weights are drawn directly as
packed uint32 words plus scales/biases chosen so the dequantized values have mean 0 and std 0.02:
no full-precision copy of a quantized tensor ever exists.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np

from .safetensors_stream import Entry
from .tensors import TensorSpec

STD = 0.02
CHUNK_ELEMENTS = 1 << 24  # ~64 MB of float32 scratch at most per chunk


def rng_for(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounding to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))
    return (rounded >> np.uint32(16)).astype(np.uint16)


def _row_blocks(shape: tuple[int, ...], budget: int | None = None) -> Iterator[tuple[int, ...]]:
    """Shapes of consecutive leading-axis blocks of at most `budget` elements (at least one row each)."""
    budget = budget or CHUNK_ELEMENTS
    rows = shape[0]
    row = 1
    for s in shape[1:]:
        row *= s
    step = max(1, budget // max(row, 1))
    for start in range(0, rows, step):
        yield (min(step, rows - start),) + tuple(shape[1:])


def _draw(rng: np.random.Generator, init: str, shape: tuple[int, ...]) -> np.ndarray:
    if init == "norm":
        return (1.0 + 0.3 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    if init == "scalar":
        return rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(STD)


def float_entry(spec: TensorSpec, name: str, seed: int, dtype: str) -> Entry:
    """A float tensor (dtype "float32" or "bfloat16") drawn according to its init."""
    tag = {"float32": "F32", "bfloat16": "BF16"}[dtype]

    def chunks() -> Iterator[np.ndarray]:
        rng = rng_for(seed, spec.name)
        for block in _row_blocks(spec.shape):
            x = _draw(rng, spec.init, block)
            yield x if tag == "F32" else to_bf16_bits(x)

    return Entry(name, tag, spec.shape, chunks)


def quantized_entries(
    spec: TensorSpec, prefix: str, seed: int, bits: int, group_size: int, dtype: str
) -> list[Entry]:
    """`prefix.weight` (uint32, `bits` per value packed low bits first), `prefix.scales`, `prefix.biases`.

    Codes are uniform on [0, 2^bits); scale = 0.02/std(code) * U[0.8, 1.2] per group and bias =
    -scale * mean(code), so w = scale*q + bias has mean 0 and std ~0.02, as in a real affine quantization.
    """
    out_dim, in_dim = spec.shape
    if in_dim % group_size or (in_dim * bits) % 32:
        raise ValueError(
            f"{spec.name}: input size {in_dim} does not split into groups of {group_size}"
        )
    levels = 1 << bits
    mid = (levels - 1) / 2.0
    code_std = np.sqrt((levels * levels - 1) / 12.0)
    words = in_dim * bits // 32
    groups = in_dim // group_size
    tag = {"float32": "F32", "bfloat16": "BF16"}[dtype]

    def packed() -> Iterator[np.ndarray]:
        rng = rng_for(seed, spec.name + ".weight")
        for block in _row_blocks((out_dim, words)):
            # Uniform random bytes are uniform codes for any bit width that divides 32.
            yield np.frombuffer(rng.bytes(block[0] * words * 4), dtype=np.uint32)

    def scales_and_biases(which: str) -> Iterator[np.ndarray]:
        rng = rng_for(seed, spec.name + ".scales")
        for block in _row_blocks((out_dim, groups)):
            s = (STD / code_std * rng.uniform(0.8, 1.2, size=block)).astype(np.float32)
            x = s if which == "scales" else (-mid * s).astype(np.float32)
            yield x if tag == "F32" else to_bf16_bits(x)

    return [
        Entry(f"{prefix}.weight", "U32", (out_dim, words), packed),
        Entry(f"{prefix}.scales", tag, (out_dim, groups), lambda: scales_and_biases("scales")),
        Entry(f"{prefix}.biases", tag, (out_dim, groups), lambda: scales_and_biases("biases")),
    ]
