"""Mask geometry in absolute positions, checked against a direct definition of the reference's default path."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from engine.model.masks import MaskBuilder, vision_block_ids

IMG = 9


def reference_mask(offset, L, n_keys, W, mode, blocks):
    """The reference's rule written out per (query, key): causal/window, OR same vision block (§3.2)."""
    out = np.zeros((L, n_keys), bool)
    for qi in range(L):
        q = offset + qi
        for ki in range(n_keys):
            k = offset + L - n_keys + ki
            if mode == "all":
                out[qi, ki] = abs(q - k) <= W
                continue
            out[qi, ki] = k <= q and k > q - W
            kc = ki - (n_keys - L)  # the key's index within this call, negative for cached keys
            if blocks is not None and kc >= 0 and blocks[qi] >= 0 and blocks[qi] == blocks[kc]:
                out[qi, ki] = True
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
    assert got[1, 6 + n_past]  # the first image token sees the last one, 5 positions ahead (> W)
    full = np.array(builder(False, offset + L))[0, 0]
    assert (full == reference_mask(offset, L, offset + L, 10**9, "vision", blocks[0])).all()


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
