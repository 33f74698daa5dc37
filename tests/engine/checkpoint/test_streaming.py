"""The streaming safetensors writer and the chunked draws that keep the 12b shape's memory bounded."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file

from engine.checkpoint import safetensors_stream
from engine.checkpoint.tensors import TensorSpec
from engine.checkpoint.weights import _row_blocks, float_entry, quantized_entries


def test_written_file_reads_back_with_safetensors(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.arange(5, dtype=np.uint32)
    entries = [
        safetensors_stream.Entry("a", "F32", (3, 4), lambda: iter([a[:1], a[1:]])),
        safetensors_stream.Entry("b.odd_name", "U32", (5,), lambda: iter([b])),
    ]
    n = safetensors_stream.write(tmp_path / "x.safetensors", entries, {"format": "pt"})
    assert n == a.nbytes + b.nbytes
    got = load_file(tmp_path / "x.safetensors")
    assert np.array_equal(got["a"], a) and np.array_equal(got["b.odd_name"], b)


def test_short_tensor_is_an_error(tmp_path):
    e = safetensors_stream.Entry("a", "F32", (4,), lambda: iter([np.zeros(3, np.float32)]))
    with pytest.raises(ValueError, match="expected 16"):
        safetensors_stream.write(tmp_path / "x.safetensors", [e])


def test_row_blocks_cover_the_tensor_within_budget():
    shape = (262144, 480)  # the 12b embedding, packed 4-bit
    blocks = list(_row_blocks(shape, budget=1 << 20))
    assert sum(b[0] for b in blocks) == shape[0]
    assert all(b[0] * b[1] <= 1 << 20 for b in blocks) and len(blocks) > 100
    assert (
        list(_row_blocks((3, 10_000_000), budget=10)) == [(1, 10_000_000)] * 3
    )  # at least one row


def test_chunks_are_independent_of_the_chunk_size(monkeypatch):
    """A tensor's values do not depend on how it is chunked (so bounded memory costs no reproducibility)."""
    import engine.checkpoint.weights as w

    spec = TensorSpec("model.language_model.layers.0.mlp.up_proj.weight", (256, 64), "dense")
    whole = np.concatenate([c.ravel() for c in float_entry(spec, spec.name, 1, "float32").chunks()])
    monkeypatch.setattr(w, "CHUNK_ELEMENTS", 64 * 7)
    pieces = list(float_entry(spec, spec.name, 1, "float32").chunks())
    assert len(pieces) > 1
    assert np.array_equal(np.concatenate([c.ravel() for c in pieces]), whole)
    q = [
        np.concatenate([c.ravel() for c in e.chunks()])
        for e in quantized_entries(spec, "p", 1, 4, 64, "float32")
    ]
    monkeypatch.setattr(w, "CHUNK_ELEMENTS", 1 << 24)
    q2 = [
        np.concatenate([c.ravel() for c in e.chunks()])
        for e in quantized_entries(spec, "p", 1, 4, 64, "float32")
    ]
    assert all(np.array_equal(x, y) for x, y in zip(q, q2))
