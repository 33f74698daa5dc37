"""Marks: the session at a boundary it can come back to (before a user turn, or right after its prefill).

A mark records the cache offset and how many segments and messages there were. Coming back to it is the
session's `_rewind`: trim the caches when they still hold the rows (`engine.decode.cache`), else restore
the newest mark snapshot at or before it and feed the segments after it again. A snapshot holds copies of
the rows the sliding caches need at the mark (`sliding layers x (window - 1) x K/V size`), so only the
newest `max_snapshots` marks keep one.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx

from engine.decode.cache import CacheState


@dataclass
class Mark:
    offset: int
    n_segments: int
    n_messages: int
    answer_open: bool = False  # an answer was in the cache, not yet closed with <turn|>
    snapshot: list[CacheState] | None = None
    last_logits: mx.array | None = None  # answer marks: logits of the prompt's last position (regenerate)
    last_hidden: mx.array | None = None  # answer marks: its hidden state, which the drafter starts from

    @property
    def snapshot_bytes(self) -> int:
        return sum(s.nbytes for s in self.snapshot or ())


def newest_snapshot_before(marks: list[Mark], target: Mark) -> Mark | None:
    """The mark with a snapshot closest before (or at) `target`, among `marks` on its path."""
    usable = [m for m in marks if m.snapshot is not None and m.n_messages <= target.n_messages
              and m.offset <= target.offset and m.n_segments <= target.n_segments]
    return max(usable, key=lambda m: m.offset, default=None)


def drop_old_snapshots(marks: list[Mark], keep: int) -> None:
    """Keep the snapshots of the newest `keep` marks; the older ones are rebuilt by replay if needed."""
    with_snapshot = sorted((m for m in marks if m.snapshot is not None), key=lambda m: m.offset)
    for old in with_snapshot[: max(0, len(with_snapshot) - keep)]:
        old.snapshot = None
