"""Mask geometry in absolute positions, checked against a direct definition of the rule docs/mask-rules.md chooses.

"vision" mode: full layers causal; sliding layers (causal OR same image block) AND |q - k| < W. The definition
here is tied to transformers 5.23.0's `create_masks_for_vision_model` where the two agree (every block within
the window) and differs from it only where docs/mask-rules.md says it does.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from engine.model.masks import MaskBuilder, vision_block_ids

IMG = 9


def reference_mask(offset, L, n_keys, W, mode, blocks, sliding=True):
    """The chosen rule written out per (query, key); `blocks` are the block ids of this call's tokens."""
    out = np.zeros((L, n_keys), bool)
    for qi in range(L):
        q = offset + qi
        for ki in range(n_keys):
            k = offset + L - n_keys + ki
            if mode == "all":
                out[qi, ki] = abs(q - k) <= W if sliding else True
                continue
            kc = ki - (n_keys - L)  # the key's index within this call, negative for cached keys
            same = blocks is not None and kc >= 0 and blocks[qi] >= 0 and blocks[qi] == blocks[kc]
            if not sliding:
                out[qi, ki] = k <= q  # full layers: causal, images included
            else:
                out[qi, ki] = (k <= q or same) and q - W < k < q + W
    return out


def test_block_ids_are_runs_of_vision_tokens():
    ids = np.array([[1, IMG, IMG, 2, IMG, 3, IMG, IMG, IMG]])
    assert vision_block_ids(ids, (IMG,)).tolist() == [[-1, 0, 0, -1, 1, -1, 2, 2, 2]]
    assert vision_block_ids(np.array([[1, 2]]), (IMG,)) is None


@pytest.mark.parametrize("offset,n_past", [(0, 0), (5, 3), (20, 3)])
def test_sliding_mask_with_image_longer_than_window(offset, n_past):
    ids = np.array([[1, IMG, IMG, IMG, IMG, IMG, IMG, 2, 3]])
    blocks = vision_block_ids(ids, (IMG,))
    L, W = ids.shape[1], 4
    builder = MaskBuilder(offset, L, W, "vision", blocks)
    got = np.array(builder(True, n_past + L))[0, 0]
    assert (got == reference_mask(offset, L, n_past + L, W, "vision", blocks[0])).all()
    assert got[1, 4 + n_past]  # the first image token sees one 3 positions ahead (within the window)
    assert not got[1, 5 + n_past]  # but not one 4 ahead: the window bounds the block on both sides
    full = builder(False, offset + L)
    full = np.array(full if not isinstance(full, str) else mx.tril(mx.ones((L, L), mx.bool_)))
    full = full.reshape(L, offset + L)
    assert (full == reference_mask(offset, L, offset + L, W, "vision", blocks[0], sliding=False)).all()
    assert not full[1, offset + 2]  # full layers never look ahead, not even inside an image


def test_plain_masks_and_single_token_steps():
    b = MaskBuilder(0, 6, 4, "vision", None)
    assert b(False, 6) == "causal" and b(True, 4 + 2) is not None
    assert (np.array(b(True, 6)) == reference_mask(0, 6, 6, 4, None, None)).all()
    step = MaskBuilder(30, 1, 4, "vision", None)
    assert step(True, 4) is None and step(False, 31) is None
    # A cache that returns more than the window (temporal order) gets an explicit mask.
    assert np.array(step(True, 6)).tolist() == [[False, False, True, True, True, True]]


def test_all_mode_is_bidirectional_within_window():
    b = MaskBuilder(2, 5, 3, "all", None)
    assert (np.array(b(True, 7)) == reference_mask(2, 5, 7, 3, "all", None)).all()
    assert bool(mx.all(b(False, 7)))


def _transformers_static_masks(ids: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """transformers 5.23.0's `create_masks_for_vision_model` (what `generate()` builds with a static cache)."""
    torch = pytest.importorskip("torch")
    from transformers import Gemma4UnifiedConfig
    from transformers.models.gemma4_unified.modeling_gemma4_unified import (
        Gemma4UnifiedForConditionalGeneration,
    )

    config = Gemma4UnifiedConfig(text_config={
        "vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 1, "head_dim": 8, "global_head_dim": 8, "sliding_window": window,
        "layer_types": ["sliding_attention", "full_attention"]})
    config._attn_implementation = "eager"
    types = torch.tensor(np.where(ids == IMG, 1, 0))
    masks = Gemma4UnifiedForConditionalGeneration.create_masks_for_generate(
        config, torch.zeros((1, ids.shape[1], 0)), None, None, torch.arange(ids.shape[1])[None],
        mm_token_type_ids=types)
    return {name: (m[0, 0] == 0).numpy() for name, m in masks.items()}


@pytest.mark.parametrize("window", [4, 6])
def test_the_rule_is_transformers_vision_masks_while_images_fit_the_window(window):
    """Equal to transformers' `create_masks_for_vision_model` for blocks within the window; beyond it,
    transformers lets an image token see its block's later tokens without bound, the rule stops at W."""
    ids = np.array([[1, 2, IMG, IMG, IMG, 3, IMG, IMG, IMG, IMG, IMG, IMG, 4, 5]])
    blocks = vision_block_ids(ids, (IMG,))
    L = ids.shape[1]
    ref = _transformers_static_masks(ids, window)
    full = reference_mask(0, L, L, window, "vision", blocks[0], sliding=False)
    sliding = reference_mask(0, L, L, window, "vision", blocks[0])
    assert (full == ref["full_attention"]).all()
    differ = sliding != ref["sliding_attention"]
    q, k = np.nonzero(differ)
    # Only the six-token image is longer than a window of 4: only its pairs at least W apart differ.
    assert (window == 6) == (not differ.any())
    assert all(blocks[0][a] == blocks[0][b] >= 0 and b - a >= window for a, b in zip(q, k))
    ours = np.array(MaskBuilder(0, L, window, "vision", blocks)(True, L))[0, 0]
    assert (ours == sliding).all()
