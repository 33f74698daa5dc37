"""QuantizedFullCache: 8-bit and 4-bit keys and values for the full-attention layers, within a stated tolerance."""

import mlx.core as mx
import numpy as np
import pytest

from engine.decode.cache import FullCache, QuantizedFullCache, cache_from_state
from engine.loading import load_everything

# Tolerances on the last logits of a tiny random model (values of order 1), from one prefill plus five
# decode steps (measured 0.013 and 0.17, logits spread 1.1): 8-bit rounds each value to 1/255 of its
# group's range, 4-bit to 1/15.
TOLERANCE = {8: 0.03, 4: 0.35}


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


def run(model, cache, ids):
    logits = model(mx.array(ids[None, :-5]), cache=cache)
    out = [logits[:, -1]]
    for t in ids[-5:]:
        out.append(model(mx.array([[int(t)]]), cache=cache)[:, -1])
    return np.array(mx.concatenate(out).astype(mx.float32))


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_full_layers_match_the_plain_cache_within_tolerance(loaded, bits):
    model = loaded.model
    ids = np.random.default_rng(0).integers(110, 400, 60).astype(np.int32)
    plain = run(model, model.make_cache(), ids)
    cache = model.make_cache(kv_bits=bits)
    quant = run(model, cache, ids)
    assert any(isinstance(c, QuantizedFullCache) for c in cache)
    err = np.abs(quant - plain).max()
    print(f"{bits}-bit: largest logit error {err:.4f}, spread {np.ptp(plain):.2f}")
    assert 0 < err < TOLERANCE[bits], err
    if bits == 8:
        assert (np.argmax(quant, -1) == np.argmax(plain, -1)).all()


def test_the_quantized_cache_saves_memory_trims_and_rebuilds_from_its_state():
    rows = mx.random.normal((1, 1, 1000, 512)).astype(mx.bfloat16)
    plain, q8, q4 = FullCache(), QuantizedFullCache(8), QuantizedFullCache(4)
    for c in (plain, q8, q4):
        c.update_and_fetch(rows, rows)
    assert q8.nbytes < 0.6 * plain.nbytes and q4.nbytes < 0.35 * plain.nbytes
    keys, _ = q8.last_rows()
    assert keys.dtype == mx.bfloat16 and float(mx.abs(keys - rows).max()) < 0.05
    q8.trim(10)
    assert q8.offset == 990 and q8.last_rows()[0].shape[2] == 990
    again = cache_from_state("QuantizedFullCache", q8.state, q8.meta_state)
    assert mx.array_equal(again.last_rows()[0], q8.last_rows()[0]).item()
    with pytest.raises(ValueError, match="4 or 8 bits"):
        QuantizedFullCache(3)
