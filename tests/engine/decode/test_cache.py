"""engine.decode.cache: rows returned in temporal order, bounded eviction, trims, snapshots, transactions.

Each key row here holds its absolute position (and its value row that plus 1000), so a test reads back
which positions a cache returns. Model-level behaviour (masks, parity, rollback of whole conversations) is tested in
tests/engine/model/test_cached_forward.py and tests/engine/session/.
"""

from __future__ import annotations

import gc

import mlx.core as mx
import numpy as np
import pytest

from engine.decode.cache import (
    CacheState,
    CacheTransaction,
    FullCache,
    Retention,
    SlidingCache,
    cache_from_state,
    can_trim_to,
    restore,
    room_past,
    snapshot,
    trim_to,
)


def rows(start: int, n: int, heads: int = 2, dim: int = 3) -> mx.array:
    """[1, heads, n, dim] rows whose values are their positions start..start+n-1."""
    pos = mx.arange(start, start + n, dtype=mx.float32)[None, None, :, None]
    return mx.broadcast_to(pos, (1, heads, n, dim))


def positions(kv: tuple[mx.array, mx.array]) -> list[int]:
    """The positions of the rows returned; a value row is its key row + 1000."""
    keys, values = kv
    assert np.array_equal(np.array(keys) + 1000, np.array(values))
    return [int(x) for x in np.array(keys)[0, 0, :, 0]]


def feed(cache, start: int, n: int) -> list[int]:
    return positions(cache.update_and_fetch(rows(start, n), rows(start, n) + 1000))


def feed_one_by_one(cache, start: int, n: int) -> None:
    for p in range(start, start + n):
        feed(cache, p, 1)


# ---------------------------------------------------------------- FullCache


def test_full_cache_returns_every_row_and_trims_back():
    c = FullCache()
    assert c.empty() and c.nbytes == 0 and c.state == ()
    assert feed(c, 0, 5) == [0, 1, 2, 3, 4]
    feed_one_by_one(c, 5, 300)  # grows past one step
    assert c.offset == c.size() == 305 and positions(c.last_rows(3)) == [302, 303, 304]
    assert c.can_trim_to(0) and c.can_trim_to(305) and not c.can_trim_to(306)
    assert c.trim(5) == 5 and c.offset == 300
    assert feed(c, 300, 2)[-3:] == [299, 300, 301]
    assert c.trim(10_000) == 302 and c.offset == 0


# ---------------------------------------------------------------- SlidingCache


def test_sliding_cache_returns_the_rows_the_new_queries_see_in_temporal_order():
    c = SlidingCache(4, Retention(slack=3, step=2))
    assert feed(c, 0, 2) == [0, 1]
    assert feed(c, 2, 6) == [0, 1, 2, 3, 4, 5, 6, 7]  # window - 1 = 3 past rows: only 2 exist
    for p in range(8, 40):
        assert feed(c, p, 1) == [p - 3, p - 2, p - 1, p]
    assert feed(c, 40, 5) == list(range(37, 45))


def test_eviction_keeps_the_window_and_the_slack_and_stays_bounded():
    window, slack, step = 8, 5, 4
    c = SlidingCache(window, Retention(slack=slack, max_retain=20, step=step))
    held = []
    for p in range(300):
        feed(c, p, 1)
        held.append(c.size())
        # The floor: a trim of up to `slack` tokens always works.
        assert c.can_trim_to(max(c.offset - slack, 0))
    # Bound: window - 1 + slack rows, plus at most two steps of growth.
    assert max(held) <= window - 1 + slack + 2 * step
    assert min(held[50:]) >= window - 1 + slack
    assert len(set(held[50:])) > 1  # evicted in steps, not one row per token
    assert not c.can_trim_to(c.offset - slack - window)


def test_a_rollback_point_keeps_its_rows_up_to_max_retain_then_pins_them():
    window, step = 8, 4
    c = SlidingCache(window, Retention(slack=2, max_retain=30, step=step))
    feed_one_by_one(c, 0, 100)
    c.set_rollback_point(100)
    feed_one_by_one(c, 100, 25)
    assert c.can_trim_to(100) and c.pinned_offset is None  # 25 tokens back: in the buffer
    c.trim(25)
    assert c.offset == 100 and feed(c, 100, 1) == [93, 94, 95, 96, 97, 98, 99, 100]
    feed_one_by_one(c, 101, 100)  # now the point is 100 tokens back: beyond max_retain
    assert c.pinned_offset == 100  # the window - 1 rows before it were copied once
    assert c.size() <= window - 1 + 2 + 2 * step  # and the buffer let the rows in between go
    assert c.can_trim_to(100) and not c.can_trim_to(101) and not c.can_trim_to(99)
    c.trim(101)
    assert c.offset == 100 and c.pinned_offset is None
    assert feed(c, 100, 2) == [93, 94, 95, 96, 97, 98, 99, 100, 101]
    feed_one_by_one(c, 102, 100)
    assert c.pinned_offset == 100
    c.set_rollback_point(None)  # released: the pinned rows go
    assert c.pinned_offset is None and not c.can_trim_to(100)
    feed_one_by_one(c, 202, 50)
    assert c.size() <= window - 1 + 2 + 2 * step


def test_a_new_rollback_point_drops_the_old_pinned_rows():
    c = SlidingCache(8, Retention(slack=2, max_retain=4, step=4))
    feed_one_by_one(c, 0, 50)
    c.set_rollback_point(50)
    feed_one_by_one(c, 50, 30)
    assert c.pinned_offset == 50
    c.set_rollback_point(80)
    assert c.pinned_offset is None and c.can_trim_to(80) and not c.can_trim_to(50)
    c.set_rollback_point(50)  # a point whose rows are gone stays out of reach
    feed_one_by_one(c, 80, 30)
    assert c.pinned_offset is None and not c.can_trim_to(50)


def test_overhead_beyond_the_live_rows_stays_within_one_window():
    """Whatever the rollback point, what a sliding cache holds beyond the live rows stays about one window."""
    window, step, slack = 64, 8, 4
    c = SlidingCache(window, Retention(slack=slack, step=step))
    row = 2 * 3 * 4 * 2  # heads x dim x float32 x (K and V)
    worst = 0
    feed_one_by_one(c, 0, 100)
    c.set_rollback_point(100)
    for p in range(100, 400):
        feed(c, p, 1)
        worst = max(worst, c.nbytes - c.live_bytes)
        assert c.can_trim_to(100)
    assert c.live_bytes == (window - 1) * row
    assert worst <= (window - 1 + slack + 2 * step) * row
    c.set_rollback_point(None)
    feed_one_by_one(c, 400, 2 * step)
    assert c.nbytes - c.live_bytes <= (slack + 2 * step) * row


def test_trim_to_zero_always_works_and_the_cache_starts_over():
    c = SlidingCache(4, Retention(slack=1, step=2))
    feed_one_by_one(c, 0, 50)
    assert not c.can_trim_to(10) and c.can_trim_to(0)
    c.trim(50)
    assert c.offset == 0 and c.size() == 0
    assert feed(c, 0, 3) == [0, 1, 2]


def test_snapshot_restores_the_rows_and_owns_its_memory():
    c = SlidingCache(6, Retention(slack=2, step=4))
    feed_one_by_one(c, 0, 40)
    state = c.snapshot()
    assert state.offset == 40 and state.keys.shape[2] == 5
    feed_one_by_one(c, 40, 30)
    c.restore(state)
    assert c.offset == 40 and c.size() == 5 and c.can_trim_to(40) and not c.can_trim_to(39)
    assert feed(c, 40, 1) == [35, 36, 37, 38, 39, 40]
    fresh = SlidingCache(6)
    fresh.restore(CacheState(0))
    assert fresh.empty() and fresh.offset == 0

    # The copy does not keep the big buffer alive.
    big = SlidingCache(4, Retention(slack=0, max_retain=0, step=1 << 16))
    big.update_and_fetch(rows(0, 1 << 16, dim=64), rows(0, 1 << 16, dim=64) + 1000)
    mx.eval(big.state)
    kept = big.snapshot()
    before = mx.get_active_memory()
    del big
    gc.collect()
    assert before - mx.get_active_memory() > 100 * kept.nbytes


def test_state_and_meta_state_rebuild_an_equal_cache():
    for cache in (FullCache(), SlidingCache(5, Retention(slack=3, max_retain=7, step=2))):
        feed_one_by_one(cache, 0, 23)
        copy = cache_from_state(type(cache).__name__, tuple(mx.array(x) for x in cache.state),
                                cache.meta_state)
        assert copy.offset == cache.offset and copy.layout == cache.layout
        assert positions(copy.last_rows()) == positions(cache.last_rows())
        assert feed(copy, 23, 2) == feed(cache, 23, 2)
    with pytest.raises(ValueError, match="unknown cache class"):
        cache_from_state("RotatingKVCache", (), ())


# ---------------------------------------------------------------- lists of caches, transactions


def caches() -> list:
    return [SlidingCache(4, Retention(slack=9, max_retain=9, step=2)), FullCache()]


def test_transaction_of_k_plus_one_tokens_past_the_window_commits_and_aborts_exactly():
    for keep in (0, 3, 9):
        cs = caches()
        for c in cs:
            feed_one_by_one(c, 0, 60)  # far past the window: old rows evicted
        assert not can_trim_to(cs, 20)
        with CacheTransaction(cs) as tx:
            for c in cs:
                feed(c, 60, 9)  # a verify of K + 1 = 9 tokens
            tx.commit(keep)
        assert [c.offset for c in cs] == [60 + keep] * 2
        assert feed(cs[0], 60 + keep, 1) == list(range(57 + keep, 61 + keep))
        assert feed(cs[1], 60 + keep, 1) == list(range(61 + keep))
    cs = caches()
    with pytest.raises(RuntimeError, match="boom"):
        with CacheTransaction(cs):
            for c in cs:
                feed(c, 0, 5)
            raise RuntimeError("boom")
    assert [c.offset for c in cs] == [0, 0]
    tx = CacheTransaction(cs)
    with pytest.raises(ValueError, match="cannot keep 2"):
        tx.commit(2)


def test_list_helpers_trim_and_restore_together():
    cs = caches()
    for c in cs:
        feed_one_by_one(c, 0, 12)
    states = snapshot(cs)
    for c in cs:
        feed_one_by_one(c, 12, 40)
    assert not can_trim_to(cs, 12)
    restore(cs, states)
    assert [c.offset for c in cs] == [12, 12]
    for c in cs:
        feed_one_by_one(c, 12, 3)
    assert can_trim_to(cs, 13)
    trim_to(cs, 13)
    assert [c.offset for c in cs] == [13, 13]


def test_room_past_an_offset_follows_the_rollback_point_then_the_slack():
    c = SlidingCache(8, Retention(slack=4, max_retain=20, step=4))
    rows = mx.zeros((1, 1, 1, 2))
    for _ in range(10):
        c.update_and_fetch(rows, rows)
    c.set_rollback_point(6)
    assert room_past([c], 10) == 6 + 20 - 10  # the point's rows kept up to 20 rows past it
    for fed in range(16):  # feeding all of that room keeps the trim back to 10 possible
        assert c.can_trim_to(10), fed
        c.update_and_fetch(rows, rows)
    assert c.can_trim_to(10)
    c.set_rollback_point(None)
    assert room_past([c], 26) == 4
