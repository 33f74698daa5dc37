"""What a live session remembers about its cache: fed segments, turn marks and cache snapshots.

A `Segment` is a run of tokens fed to the cache in one piece, with the media it needs, so any part of the
conversation can be fed again. A `Mark` records the cache at a boundary (before a user turn, or right after
its prefill). Full-attention caches (`KVCache`) can be trimmed back to any earlier offset; sliding-window
caches (`RotatingKVCache`) cannot once they are past the window, so a mark keeps a copy of their state.
Copies cost `sliding layers x window x K/V size` each, so only the newest `max_snapshots` marks keep
one; going back further restores the nearest older snapshot and feeds the segments after it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mlx.core as mx
import numpy as np

from engine.decode import cache as kv_cache


@dataclass
class Segment:
    ids: np.ndarray  # int32 [L]
    pixel_values: np.ndarray | None = None
    image_position_ids: np.ndarray | None = None
    input_features: np.ndarray | None = None
    input_features_mask: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def media(self) -> dict:
        return {
            "pixel_values": self.pixel_values,
            "image_position_ids": self.image_position_ids,
            "input_features": self.input_features,
            "input_features_mask": self.input_features_mask,
        }


@dataclass
class Mark:
    """The session at a boundary: cache offset, segments and messages up to it, optional snapshot."""

    offset: int
    n_segments: int
    n_messages: int
    snapshot: list | None = None
    last_logits: mx.array | None = None  # only for marks right after a prefill (regenerate)
    meta: dict = field(default_factory=dict)


def snapshot_caches(cache: list) -> list:
    """What each cache needs to come back to its current offset (copies of the sliding rows)."""
    return kv_cache.snapshot(cache)


def restore_caches(cache: list, snapshot: list, offset: int) -> None:
    """Bring every cache back to `offset` from a snapshot taken there."""
    kv_cache.restore(cache, snapshot)


def empty_snapshot(cache: list) -> list:
    """The snapshot of caches that hold nothing yet."""
    return [kv_cache.CacheState(0) for _ in cache]


def image_runs_end(ids: np.ndarray, start: int, end: int, image_token_id: int) -> int:
    """Move a chunk end forward so that it does not cut a run of image tokens in two."""
    n = ids.shape[0]
    while 0 < end < n and ids[end] == image_token_id and ids[end - 1] == image_token_id:
        end += 1
    return end
