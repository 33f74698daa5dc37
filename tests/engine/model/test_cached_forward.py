"""Cached decoding and chunked prefill (engine.decode.cache FullCache / SlidingCache) against the reference and one-shot runs.

Relative error = max |a - b| / max |b| over the compared logits; the bound is 1e-4.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from hf_reference import WINDOW, audio_inputs, image_inputs, prompt, rel_err, text_ids


def chunked_prefill(
    model, ids: mx.array, sizes: list[int], embeds: mx.array | None = None
) -> tuple[mx.array, list]:
    """Prefill `ids` in chunks of the given sizes (cycled) into one cache; return all logits and the cache.

    Catches offsets, masks or RoPE positions taken from the chunk instead of the running length.
    """
    cache = model.make_cache()
    outs, start, i = [], 0, 0
    while start < ids.shape[1]:
        end = min(start + sizes[i % len(sizes)], ids.shape[1])
        chunk_embeds = embeds[:, start:end] if embeds is not None else None
        outs.append(model(ids[:, start:end], cache=cache, input_embeddings=chunk_embeds))
        mx.eval(outs[-1])
        start, i = end, i + 1
    return mx.concatenate(outs, axis=1), cache


@pytest.mark.parametrize("name", ["T1", "T4"])
def test_cached_greedy_decode_past_window_matches_reference(loaded, name):
    ref, model, _ = loaded(name)
    ids = text_ids(3 * WINDOW + 1, seed=7)
    cache = model.make_cache()
    logits = model(mx.array(ids), cache=cache, logits_to_keep=1)
    tokens = list(ids[0])
    for _ in range(10):
        with torch.no_grad():
            expected = ref(input_ids=torch.tensor([tokens])).logits[:, -1:]
        assert rel_err(logits, expected) < 1e-4
        nxt = int(mx.argmax(logits[0, -1]))
        assert nxt == int(expected[0, -1].argmax())
        tokens.append(nxt)
        logits = model(mx.array([[nxt]]), cache=cache)
    assert cache[0].offset == len(tokens)


@pytest.mark.parametrize("name", ["T1", "T4"])
@pytest.mark.parametrize(
    "sizes", [[1], [WINDOW - 1], [WINDOW + 1], [2 * WINDOW], [1, 2 * WINDOW, 2]]
)
def test_chunked_text_prefill_equals_one_shot(loaded, name, sizes):
    _, model, _ = loaded(name)
    ids = mx.array(text_ids(3 * WINDOW + 1, seed=8))
    one_shot = model(ids)
    chunked, cache = chunked_prefill(model, ids, sizes)
    assert rel_err(chunked, one_shot) < 1e-4
    # Decoding continues identically after either prefill.
    cache2 = model.make_cache()
    model(ids, cache=cache2)
    nxt = mx.array([[17]])
    assert rel_err(model(nxt, cache=cache), model(nxt, cache=cache2)) < 1e-4


@pytest.mark.parametrize("sizes", [[1], [3], [5, 2]])
def test_chunked_audio_prefill_equals_one_shot(loaded, sizes):
    _, model, _ = loaded("T1")
    frames, mask = audio_inputs()
    ids = mx.array(
        prompt(("text", 2, 1), ("audio", 3), ("text", 2, 2), ("audio", 2), ("text", 2, 3))
    )
    embeds = model.embed_inputs(
        ids, input_features=mx.array(frames), input_features_mask=mx.array(mask)
    )
    one_shot = model(ids, input_embeddings=embeds)
    chunked, _ = chunked_prefill(model, ids, sizes, embeds)
    assert rel_err(chunked, one_shot) < 1e-4


def test_image_block_kept_in_one_call_equals_one_shot(loaded):
    _, model, _ = loaded("T1")
    pixels, positions = image_inputs()
    ids = mx.array(
        prompt(("text", 3, 1), ("image", 6), ("text", 3, 2), ("image", 4), ("text", 2, 3))
    )
    embeds = model.embed_inputs(
        ids, pixel_values=mx.array(pixels), image_position_ids=mx.array(positions)
    )
    one_shot = model(ids, input_embeddings=embeds)
    # Chunks cut only between images: [bos t t t boi], [img*6 eoi t t t boi img*4 eoi], [t t]
    chunked, _ = chunked_prefill(model, ids, [5, 17, 2], embeds)
    assert rel_err(chunked, one_shot) < 1e-4


def test_image_block_split_across_calls_differs(loaded):
    """An image block cut in two loses its bidirectional attention: the session must never split one."""
    _, model, _ = loaded("T1")
    pixels, positions = image_inputs()
    ids = mx.array(prompt(("text", 3, 1), ("image", 6), ("text", 3, 2)))
    embeds = model.embed_inputs(
        ids, pixel_values=mx.array(pixels[:1]), image_position_ids=mx.array(positions[:1])
    )
    one_shot = model(ids, input_embeddings=embeds)
    # The first chunk cuts the 6-token image after 2 tokens; the text before the image is unaffected.
    split, _ = chunked_prefill(model, ids, [7, 100], embeds)
    assert np.allclose(np.array(split[:, :5]), np.array(one_shot[:, :5]), atol=1e-5)
    assert rel_err(split, one_shot) > 1e-2


def test_decode_after_image_prefill_matches_reference(loaded):
    from hf_reference import reference_logits

    ref, model, _ = loaded("T1")
    pixels, positions = image_inputs()
    ids = prompt(("text", 2, 1), ("image", 6), ("text", 1, 2), ("image", 4), ("text", 1, 3))
    cache = model.make_cache()
    logits = model(
        mx.array(ids),
        cache=cache,
        pixel_values=mx.array(pixels),
        image_position_ids=mx.array(positions),
    )[:, -1:]
    tokens = ids
    for _ in range(4):
        expected = reference_logits(ref, tokens, pixels, positions)[:, -1:]
        assert rel_err(logits, expected) < 1e-4
        nxt = int(expected[0, -1].argmax())
        tokens = np.concatenate([tokens, [[nxt]]], axis=1)
        logits = model(mx.array([[nxt]]), cache=cache)
