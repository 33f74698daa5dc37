"""Write a .safetensors file tensor by tensor, chunk by chunk, so memory stays bounded.

The `safetensors` library needs every tensor in memory at once and numpy has no bfloat16, so the
12B shape cannot go through it; the format itself is simple (8-byte little-endian header length,
JSON header with dtype/shape/data_offsets, then the raw little-endian bytes in header order), and
the tests read every file back with `safetensors` to prove the layout.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ITEMSIZE = {"F32": 4, "BF16": 2, "F16": 2, "U32": 4, "I64": 8}


@dataclass(frozen=True)
class Entry:
    name: str
    dtype: str  # safetensors dtype tag: F32, BF16, U32, ...
    shape: tuple[int, ...]
    chunks: Callable[
        [], Iterable[np.ndarray]
    ]  # yields contiguous pieces whose bytes concatenate to the tensor

    @property
    def nbytes(self) -> int:
        n = ITEMSIZE[self.dtype]
        for s in self.shape:
            n *= s
        return n


def write(path: Path, entries: list[Entry], metadata: dict[str, str] | None = None) -> int:
    """Write `entries` to `path`; returns the number of tensor bytes. Raises ValueError if a tensor's bytes are short."""
    header: dict[str, object] = {}
    offset = 0
    for e in entries:
        header[e.name] = {
            "dtype": e.dtype,
            "shape": list(e.shape),
            "data_offsets": [offset, offset + e.nbytes],
        }
        offset += e.nbytes
    if metadata:
        header["__metadata__"] = dict(metadata)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # keep tensor data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for e in entries:
            written = 0
            for chunk in e.chunks():
                buf = np.ascontiguousarray(chunk)
                f.write(buf.data)
                written += buf.nbytes
            if written != e.nbytes:
                raise ValueError(f"{e.name}: wrote {written} bytes, expected {e.nbytes}")
    return offset
