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
from mlx_lm.models.cache import KVCache, RotatingKVCache


@dataclass
class Segment:
    ids: np.ndarray  # int32 [L]
    pixel_values: np.ndarray | None = None
    image_position_ids: np.ndarray | None = None
    input_features: np.ndarray | None = None
    input_features_mask: np.ndarray | None = None
    pixel_values_videos: np.ndarray | None = None
    video_position_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def media(self) -> dict:
        return {
            "pixel_values": self.pixel_values,
            "image_position_ids": self.image_position_ids,
            "input_features": self.input_features,
            "input_features_mask": self.input_features_mask,
            "pixel_values_videos": self.pixel_values_videos,
            "video_position_ids": self.video_position_ids,
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
    """Copies of the states that cannot be trimmed back (rotating caches); None for the others."""
    out = []
    for c in cache:
        if isinstance(c, RotatingKVCache):
            keys, values, offset, keep, max_size, idx = c.state
            copy = (
                None if keys is None else mx.array(keys),
                None if values is None else mx.array(values),
                offset, keep, max_size, idx,
            )
            out.append(copy)
        else:
            out.append(None)
    arrays = [a for s in out if s is not None for a in s[:2] if a is not None]
    if arrays:
        mx.eval(arrays)
    return out


def restore_caches(cache: list, snapshot: list, offset: int) -> None:
    """Bring every cache back to `offset`: trim full caches, copy rotating states back in."""
    for c, snap in zip(cache, snapshot):
        if isinstance(c, RotatingKVCache):
            keys, values, off, keep, max_size, idx = snap
            c.keys = None if keys is None else mx.array(keys)
            c.values = None if values is None else mx.array(values)
            c.offset, c.keep, c.max_size, c._idx = off, keep, max_size, idx
        elif isinstance(c, KVCache):
            if c.offset > offset:
                c.trim(c.offset - offset)
            elif c.offset < offset:
                raise RuntimeError(f"cannot restore a cache forward ({c.offset} < {offset})")
        else:
            raise TypeError(f"unsupported cache type {type(c).__name__}")


def empty_snapshot(cache: list) -> list:
    """The snapshot of caches that hold nothing yet."""
    return [
        (None, None, 0, c.keep, c.max_size, 0) if isinstance(c, RotatingKVCache) else None
        for c in cache
    ]


def cache_bytes(cache: list) -> int:
    return sum(c.nbytes for c in cache)


def vision_runs_end(ids: np.ndarray, start: int, end: int, vision_token_ids: tuple[int, ...]) -> int:
    """Move a chunk end forward so that it does not cut a run of image (or video-frame) tokens in two."""
    n = ids.shape[0]
    while 0 < end < n and ids[end] in vision_token_ids and ids[end - 1] == ids[end]:
        end += 1
    return end
