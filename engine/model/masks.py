"""Attention masks for the text decoder, in absolute positions.

A forward call prefills L queries at positions [offset, offset + L). Each layer attends to the keys its cache
returns: in temporal order, the LAST `n_keys` positions ending at offset + L (engine.decode.cache's FullCache
returns all of them; its SlidingCache returns up to `window - 1` past keys plus the new ones, `window` being
W, or W + 1 in "all" mode). The mask is therefore a function of (offset, L, n_keys) and the layer type:

- causal:  k <= q;  sliding adds  k > q - W  (W keys including the query itself).
- "vision" mode (the reference's default path, shared/reference/gemma4_unified.md §3.2): tokens in the same run
  of image/video placeholder tokens see each other in both directions, OR-ed into BOTH the full and the sliding
  mask and ignoring the window. Runs are only known within the current call: an image block split across two
  calls is not equivalent to one call (the session must never split one).
- "all" mode: full layers see every key; sliding layers see |q - k| <= W (W already halved by the config).

Single-token calls need no mask when the cache returns at most the keys that token may see (the sliding cache
returns exactly those); a cache returning more must return them in temporal order.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np


def vision_block_ids(input_ids: np.ndarray, vision_token_ids: tuple[int, ...]) -> np.ndarray | None:
    """Index of the run of consecutive vision placeholder tokens each position belongs to, -1 elsewhere.

    Args:
        input_ids: [B, L] token ids (host array).
        vision_token_ids: the placeholder ids that form bidirectional blocks (image and video soft tokens).

    Returns:
        [B, L] int32 block ids, or None when the call holds no vision token (plain causal masks suffice).
    """
    is_vision = np.isin(input_ids, vision_token_ids)
    if not is_vision.any():
        return None
    prev = np.zeros_like(is_vision)
    prev[:, 1:] = is_vision[:, :-1]
    starts = is_vision & ~prev
    groups = np.cumsum(starts, axis=1) - 1
    return np.where(is_vision, groups, -1).astype(np.int32)


class MaskBuilder:
    """Builds (and memoizes per key count) the mask of one forward call for each layer type."""

    def __init__(
        self, offset: int, length: int, window: int, mode: str | None, blocks: np.ndarray | None
    ) -> None:
        self.offset, self.length, self.window, self.mode = offset, length, window, mode
        self.blocks = mx.array(blocks) if blocks is not None and mode == "vision" else None
        self._memo: dict[tuple[bool, int], mx.array | str | None] = {}

    def __call__(self, sliding: bool, n_keys: int) -> mx.array | str | None:
        key = (sliding, n_keys)
        if key not in self._memo:
            self._memo[key] = self._build(sliding, n_keys)
        return self._memo[key]

    def _build(self, sliding: bool, n_keys: int) -> mx.array | str | None:
        L, W = self.length, self.window
        # Keys one sliding query may see, itself included.
        visible = W + 1 if self.mode == "all" else W
        if L == 1 and (not sliding or n_keys <= visible):
            return None
        if self.mode != "all" and self.blocks is None and n_keys == L and (not sliding or L <= W):
            return "causal"
        end = self.offset + L
        q = mx.arange(self.offset, end)[:, None]
        k = mx.arange(end - n_keys, end)[None, :]
        if self.mode == "all":
            mask = mx.abs(q - k) <= W if sliding else mx.ones((L, n_keys), dtype=mx.bool_)
        else:
            mask = k <= q
            if sliding:
                mask = mask & (k > q - W)
        if self.blocks is not None:
            past = mx.full((self.blocks.shape[0], n_keys - L), -1, dtype=self.blocks.dtype)
            kb = mx.concatenate([past, self.blocks], axis=1)
            qb = self.blocks
            same = (qb[:, :, None] == kb[:, None, :]) & (qb[:, :, None] >= 0)
            mask = (mask[None] | same)[:, None]
        return mask
