"""Tandem's KV caches: the one module that knows how keys and values are stored.

Two classes implement mlx-lm's cache protocol as far as Tandem uses it (`update_and_fetch`, `offset`,
`state`/`meta_state`/`from_state`, `is_trimmable`, `trim`, `size`, `nbytes`, `empty`), plus what rollback
needs: `can_trim_to(offset)`, `set_rollback_point(offset)`, `snapshot()`/`restore(snapshot)` and
`last_rows(n)` (the drafter reads the target's keys and values through it).

- `FullCache`: every position, in a buffer grown in steps of 256 rows (as mlx-lm's KVCache). `trim` moves
  the offset back; the rows after it are written over by the next update.
- `SlidingCache(window, retention)`: for sliding-window layers, where a query sees `window` keys, itself
  included, so the next query needs the `window - 1` rows before `offset`. Rows stay in temporal order
  (no ring buffer). Besides those rows it keeps `retention.slack` older rows (so `trim(n)` works for any
  n <= slack, e.g. a speculative verify) and, when the session sets a rollback point, the rows a trim
  back to that point needs: while the point is at most `retention.max_retain` rows back (default: one
  window) they stay in the buffer; when it falls further back, the `window - 1` rows before it are
  copied once into a pinned block and the rows in between are evicted. So trimming back to the
  rollback point (the start of the last turn, or of the running command) always works, and the rows
  kept beyond the live window are at most `max(max_retain, window - 1) + slack`, plus the buffer's free
  room (less than `2 * step` rows): at most about one window, and typically the length of the last
  turn. Older rows are evicted when the buffer is full, every `retention.step` rows or more, never per
  token. `overhead_bytes` says what is held beyond the live rows.

`update_and_fetch(keys, values)` returns, in temporal order, the rows the L new queries may see: all of
them for a full cache, the last `window - 1 + L` for a sliding one (slices of the buffer, no copy).
`engine.model.masks` builds the masks for exactly these rows.

`live_bytes(caches)` / `overhead_bytes(caches)`: the bytes of the rows the next query needs, and the
bytes held beyond them (retained and pinned rows, free buffer room); the memory benchmark reports both.

`CacheTransaction(caches)` undoes what forwards feed: it remembers the offsets; `commit(keep)` keeps the
first `keep` tokens fed since, `abort()` drops them (both are trims). Functions over a list of caches
(`can_trim_to`, `trim_to`, `set_rollback_point`, `snapshot`, `restore`) serve the session's marks.
"""

from __future__ import annotations

import sys

from dataclasses import dataclass
from typing import Protocol, Sequence

import mlx.core as mx

STEP = 256  # rows a buffer grows by


@dataclass(frozen=True)
class Retention:
    """How many rows a sliding cache keeps beyond the `window - 1` the next query needs.

    Args:
        slack: always kept: at least the longest `CacheTransaction` (a speculative verify of up to 9
            tokens). Going back further uses the rollback point (set at each command and turn).
        max_retain: the most rows kept in the buffer for a rollback point (None: one window); past that
            the rows the point needs are pinned (`window - 1` rows, copied once).
        step: rows the buffer grows by; eviction happens at most once per `step` rows fed (a smaller
            step wastes less room and copies the held rows more often).
    """

    slack: int = 16
    max_retain: int | None = None
    step: int = 64


class Cache(Protocol):
    """What Tandem's decode and session code use of a cache (mlx-lm's protocol plus rollback)."""

    offset: int
    layout: tuple

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]: ...
    def last_rows(self, n: int | None = None) -> tuple[mx.array, mx.array]: ...
    def can_trim_to(self, offset: int) -> bool: ...
    def room_past(self, offset: int) -> int: ...
    def trim(self, n: int) -> int: ...
    def set_rollback_point(self, offset: int | None) -> None: ...
    def snapshot(self) -> "CacheState": ...
    def restore(self, state: "CacheState") -> None: ...


@dataclass(frozen=True)
class CacheState:
    """One cache at an offset: the rows a sliding cache needs there (copies), or none for a full cache."""

    offset: int
    keys: mx.array | None = None
    values: mx.array | None = None

    @property
    def nbytes(self) -> int:
        return 0 if self.keys is None else self.keys.nbytes + self.values.nbytes


def _grown(buffer: mx.array | None, rows: mx.array, first: int, kept: int, extra: int,
           step: int = STEP) -> mx.array:
    """A new buffer: rows [first, first + kept) of `buffer`, then room for `extra` rows like `rows`."""
    B, H, _, D = rows.shape
    capacity = -(-(kept + extra) // step) * step + step  # at least `step` free rows after the write
    room = mx.zeros((B, H, capacity - kept, D), rows.dtype)
    if buffer is None or kept == 0:
        return room
    return mx.concatenate([buffer[..., first : first + kept, :], room], axis=2)


class FullCache:
    """Every position of a full-attention layer (mlx-lm's KVCache, with rollback helpers)."""

    def __init__(self) -> None:
        self._keys: mx.array | None = None
        self._values: mx.array | None = None
        self.offset = 0

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        prev, n = self.offset, keys.shape[2]
        if self._keys is None or prev + n > self._keys.shape[2]:
            self._keys = _grown(self._keys, keys, 0, prev, n)
            self._values = _grown(self._values, values, 0, prev, n)
        self._keys[..., prev : prev + n, :] = keys
        self._values[..., prev : prev + n, :] = values
        self.offset = prev + n
        return self.last_rows()

    def last_rows(self, n: int | None = None) -> tuple[mx.array, mx.array]:
        """The newest `n` rows (all with None) in temporal order, as slices of the buffer."""
        start = 0 if n is None else max(self.offset - n, 0)
        return self._keys[..., start : self.offset, :], self._values[..., start : self.offset, :]

    @property
    def layout(self) -> tuple:
        """What a saved cache must match to be loaded into this model."""
        return ("full",)

    # -- mlx-lm's protocol
    def size(self) -> int:
        return self.offset

    def empty(self) -> bool:
        return self._keys is None

    @property
    def nbytes(self) -> int:
        """Bytes held, the buffer's free room included."""
        return 0 if self._keys is None else self._keys.nbytes + self._values.nbytes

    @property
    def live_bytes(self) -> int:
        """Bytes of the rows a query sees (every position so far)."""
        return 0 if self._keys is None else self.nbytes * self.offset // self._keys.shape[2]

    @property
    def state(self) -> tuple[mx.array, ...]:
        return () if self._keys is None else self.last_rows()

    @state.setter
    def state(self, v: tuple[mx.array, ...]) -> None:
        self._keys, self._values = (v[0], v[1]) if v else (None, None)

    @property
    def meta_state(self) -> tuple[str, ...]:
        return (str(self.offset),)

    @meta_state.setter
    def meta_state(self, v: Sequence[str]) -> None:
        self.offset = int(v[0])

    @classmethod
    def from_state(cls, state: tuple[mx.array, ...], meta_state: Sequence[str]) -> FullCache:
        cache = cls()
        cache.state, cache.meta_state = state, meta_state
        return cache

    def is_trimmable(self) -> bool:
        return True

    def trim(self, n: int) -> int:
        n = min(self.offset, n)
        self.offset -= n
        return n

    # -- rollback
    def can_trim_to(self, offset: int) -> bool:
        return 0 <= offset <= self.offset

    def room_past(self, offset: int) -> int:
        """Every row ever fed past `offset` can be trimmed away again."""
        return sys.maxsize

    def set_rollback_point(self, offset: int | None) -> None:
        """Nothing to do: a full cache keeps every row."""

    def snapshot(self) -> CacheState:
        return CacheState(self.offset)

    def restore(self, state: CacheState) -> None:
        """Back to `state.offset` (the rows before it were never written over: only trims happened)."""
        if state.offset > self.offset:
            raise ValueError(f"cannot restore a full cache forward ({self.offset} < {state.offset})")
        self.offset = state.offset


class QuantizedFullCache(FullCache):
    """A full-attention layer's rows quantized to `bits` (8 or 4) per value in groups of `group_size`
    (`mx.quantize`: a scale and a bias per group), for long contexts. `update_and_fetch` returns the rows
    dequantized (to the dtype they came in), so the attention path is unchanged; the dequantized copy lives
    only for the layer's forward. Rollback is the same as a full cache's (trims move the offset back).
    """

    def __init__(self, bits: int = 8, group_size: int = 64) -> None:
        super().__init__()
        if bits not in (4, 8):
            raise ValueError(f"a quantized KV cache holds 4 or 8 bits per value, not {bits}")
        self.bits, self.group_size = bits, group_size
        self._parts: list[mx.array] | None = None  # keys' (packed, scales, biases), then values'
        self._dtype = mx.bfloat16

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        prev, n = self.offset, keys.shape[2]
        self._dtype = keys.dtype
        if self._parts is None and keys.shape[-1] % self.group_size:
            self.group_size = 32  # narrow heads (test shapes)
        new = [*mx.quantize(keys, self.group_size, self.bits), *mx.quantize(values, self.group_size, self.bits)]
        if self._parts is None or prev + n > self._parts[0].shape[2]:
            self._parts = [_grown(None if self._parts is None else old, part, 0, prev, n)
                           for old, part in zip(self._parts or [None] * 6, new)]
        for buffer, part in zip(self._parts, new):
            buffer[..., prev : prev + n, :] = part
        self.offset = prev + n
        return self.last_rows()

    def last_rows(self, n: int | None = None) -> tuple[mx.array, mx.array]:
        start = 0 if n is None else max(self.offset - n, 0)
        p = [x[..., start : self.offset, :] for x in self._parts]
        keys = mx.dequantize(p[0], p[1], p[2], self.group_size, self.bits).astype(self._dtype)
        values = mx.dequantize(p[3], p[4], p[5], self.group_size, self.bits).astype(self._dtype)
        return keys, values

    @property
    def layout(self) -> tuple:
        # The group size is the saved rows' own (their meta state); an empty cache picks it at its first rows.
        return ("full", self.bits)

    def empty(self) -> bool:
        return self._parts is None

    @property
    def nbytes(self) -> int:
        return 0 if self._parts is None else sum(x.nbytes for x in self._parts)

    @property
    def live_bytes(self) -> int:
        return 0 if self._parts is None else self.nbytes * self.offset // self._parts[0].shape[2]

    @property
    def state(self) -> tuple[mx.array, ...]:
        return () if self._parts is None else tuple(x[..., : self.offset, :] for x in self._parts)

    @state.setter
    def state(self, v: tuple[mx.array, ...]) -> None:
        self._parts = list(v) if v else None

    @property
    def meta_state(self) -> tuple[str, ...]:
        return (str(self.offset), str(self.bits), str(self.group_size), str(self._dtype).split(".")[-1])

    @meta_state.setter
    def meta_state(self, v: Sequence[str]) -> None:
        self.offset, self.bits, self.group_size = int(v[0]), int(v[1]), int(v[2])
        self._dtype = getattr(mx, v[3])


class SlidingCache:
    """A sliding-window layer's rows in temporal order, with retained rows for cheap rollback (module docstring).

    Args:
        window: keys one query sees, itself included (the model's window, plus one in "all" mode).
        retention: rows kept beyond `window - 1` (see `Retention`).
    """

    def __init__(self, window: int, retention: Retention = Retention()) -> None:
        if window < 1 or retention.slack < 0 or retention.step < 1:
            raise ValueError(f"bad sliding cache geometry: window {window}, {retention}")
        self.window, self.slack, self.step = window, retention.slack, retention.step
        limit = retention.max_retain
        self.max_retain = max(window if limit is None else limit, self.slack)
        self.offset = 0
        self._start = 0  # absolute position of buffer row 0
        self._keys: mx.array | None = None
        self._values: mx.array | None = None
        self._rollback_point: int | None = None
        self._pinned: CacheState | None = None  # the rows a trim back to the rollback point needs

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        n = keys.shape[2]
        held = self.offset - self._start
        if self._keys is None or held + n > self._keys.shape[2]:
            if self._keys is not None:
                self._pin_if_evicted()
            cut = 0 if self._keys is None else max(self._first_kept() - self._start, 0)
            self._keys = _grown(self._keys, keys, cut, held - cut, n, self.step)
            self._values = _grown(self._values, values, cut, held - cut, n, self.step)
            self._start += cut
            held -= cut
        self._keys[..., held : held + n, :] = keys
        self._values[..., held : held + n, :] = values
        self.offset += n
        return self.last_rows(self.window - 1 + n)

    def _first_kept(self) -> int:
        """The oldest row that must survive an eviction now."""
        needed = self.offset - (self.window - 1)  # the next query's first key
        first = needed - self.slack
        if self._rollback_point is not None and self._pinned is None:
            first = min(first, self._rollback_point - (self.window - 1))
        return max(first, needed - self.max_retain, 0)

    def _pin_if_evicted(self) -> None:
        """Copy the rows the rollback point needs when the eviction about to happen would drop them."""
        point = self._rollback_point
        if point is None or self._pinned is not None or not 0 < point <= self.offset:
            return
        first = max(point - (self.window - 1), 0)
        needed = self.offset - (self.window - 1)
        if first >= needed - self.max_retain or first < self._start:
            return  # still kept in the buffer, or already gone
        keys = mx.contiguous(self._keys[..., first - self._start : point - self._start, :])
        values = mx.contiguous(self._values[..., first - self._start : point - self._start, :])
        mx.eval(keys, values)
        self._pinned = CacheState(point, keys, values)

    def last_rows(self, n: int | None = None) -> tuple[mx.array, mx.array]:
        """The newest `n` rows held (all with None) in temporal order, as slices of the buffer."""
        end = self.offset - self._start
        start = 0 if n is None else max(end - n, 0)
        return self._keys[..., start:end, :], self._values[..., start:end, :]

    @property
    def layout(self) -> tuple:
        """What a saved cache must match to be loaded into this model."""
        return ("sliding", self.window)

    # -- mlx-lm's protocol
    def size(self) -> int:
        """Rows held in the buffer (window, slack and retained rows; the pinned block aside)."""
        return self.offset - self._start

    def empty(self) -> bool:
        return self._keys is None

    @property
    def nbytes(self) -> int:
        """Bytes held: the buffer (with its free room) and the pinned block."""
        held = 0 if self._keys is None else self._keys.nbytes + self._values.nbytes
        return held + (0 if self._pinned is None else self._pinned.nbytes)

    @property
    def live_bytes(self) -> int:
        """Bytes of the rows the next query needs (`window - 1` at most)."""
        if self._keys is None:
            return 0
        keys = self._keys
        row = keys.shape[0] * keys.shape[1] * keys.shape[3] * keys.dtype.size * 2
        return min(self.offset, self.window - 1, self.size()) * row

    @property
    def state(self) -> tuple[mx.array, ...]:
        return () if self._keys is None else self.last_rows()

    @state.setter
    def state(self, v: tuple[mx.array, ...]) -> None:
        self._keys, self._values = (v[0], v[1]) if v else (None, None)

    @property
    def meta_state(self) -> tuple[str, ...]:
        fields = (self.offset, self._start, self.window, self.slack, self.max_retain, self.step)
        return tuple(str(x) for x in fields)

    @meta_state.setter
    def meta_state(self, v: Sequence[str]) -> None:
        self.offset, self._start, self.window, self.slack, self.max_retain, self.step = (int(x) for x in v)

    @classmethod
    def from_state(cls, state: tuple[mx.array, ...], meta_state: Sequence[str]) -> SlidingCache:
        cache = cls(window=1)
        cache.state, cache.meta_state = state, meta_state
        held = 0 if cache._keys is None else cache._keys.shape[2]
        if held != cache.offset - cache._start:
            raise ValueError(f"a sliding cache state holds {held} rows, its meta state says "
                             f"{cache.offset - cache._start}")
        return cache

    def is_trimmable(self) -> bool:
        """True: `trim(n)` works for n <= slack, and for any n that `can_trim_to` allows."""
        return True

    def trim(self, n: int) -> int:
        n = min(self.offset, n)
        target = self.offset - n
        if not self.can_trim_to(target):
            raise ValueError(f"cannot trim a sliding cache back to {target}: the rows before it were "
                             f"evicted (it holds positions {self._start} to {self.offset})")
        if target == 0:
            self._start = 0
        elif not self._holds(target):  # the pinned block has them
            pinned, self._pinned = self._pinned, None
            self.restore(pinned)
            return n
        self.offset = target
        pinned = self._pinned
        if pinned is not None and (pinned.offset > target or self._holds(pinned.offset)):
            self._pinned = None  # past the offset, or held by the buffer again
        return n

    # -- rollback
    def _holds(self, offset: int) -> bool:
        return self._start <= max(offset - (self.window - 1), 0)

    def can_trim_to(self, offset: int) -> bool:
        """Whether the rows a query at `offset` sees are all still held (in the buffer or pinned)."""
        if not 0 <= offset <= self.offset:
            return False
        pinned = self._pinned is not None and self._pinned.offset == offset
        return offset == 0 or self._holds(offset) or pinned

    def room_past(self, offset: int) -> int:
        """How many rows past `offset` (held now) may be fed with a trim back to it still sure to work.

        `slack` always; more while the rollback point is at or before `offset` and its rows are still kept in
        the buffer: until the rows fed reach `max_retain` past the point, when they would be pinned (and a trim
        could then only go back to the point itself, or `slack` rows).
        """
        point = self._rollback_point
        if point is None or self._pinned is not None or point > offset:
            return self.slack
        return max(self.slack, point + self.max_retain - offset)

    def set_rollback_point(self, offset: int | None) -> None:
        """Keep what a trim back to `offset` needs (module docstring); None releases it."""
        if self._pinned is not None and self._pinned.offset != offset:
            self._pinned = None
        self._rollback_point = offset

    @property
    def pinned_offset(self) -> int | None:
        """The rollback point whose rows are pinned apart from the buffer, if any."""
        return None if self._pinned is None else self._pinned.offset

    @property
    def pinned(self) -> CacheState | None:
        """The pinned rows (to save them with the cache)."""
        return self._pinned

    def pin(self, state: CacheState) -> None:
        """Take back pinned rows saved with this cache (`pinned`)."""
        self._pinned = state

    @property
    def rollback_point(self) -> int | None:
        return self._rollback_point

    def snapshot(self) -> CacheState:
        """Copies of the rows the next query needs (at most `window - 1`), detached from the buffer."""
        if self._keys is None:
            return CacheState(self.offset)
        keys, values = self.last_rows(self.window - 1)
        keys, values = mx.contiguous(keys), mx.contiguous(values)
        mx.eval(keys, values)
        return CacheState(self.offset, keys, values)

    def restore(self, state: CacheState) -> None:
        """The cache as it was at `state`: its rows, nothing retained before them."""
        self._pinned = None
        if state.keys is None:
            if state.offset:
                raise ValueError("a sliding cache snapshot past position 0 has no rows")
            self._keys = self._values = None
            self.offset = self._start = 0
            return
        rows = state.keys.shape[2]
        self._keys = _grown(state.keys, state.keys, 0, rows, 0, self.step)
        self._values = _grown(state.values, state.values, 0, rows, 0, self.step)
        self.offset, self._start = state.offset, state.offset - rows


CACHE_CLASSES = {"FullCache": FullCache, "QuantizedFullCache": QuantizedFullCache,
                 "SlidingCache": SlidingCache}


def cache_from_state(name: str, state: tuple[mx.array, ...], meta_state: Sequence[str]) -> Cache:
    """A cache of class `name` (one of `CACHE_CLASSES`) rebuilt from its saved state."""
    if name not in CACHE_CLASSES:
        raise ValueError(f"unknown cache class {name!r}")
    return CACHE_CLASSES[name].from_state(state, meta_state)


# ---------------------------------------------------------------- lists of caches


def live_bytes(caches: Sequence[Cache]) -> int:
    """Bytes of the rows the next query needs, over all caches."""
    return sum(c.live_bytes for c in caches)


def overhead_bytes(caches: Sequence[Cache]) -> int:
    """Bytes the caches hold beyond the live rows: retained and pinned rows, and free buffer room."""
    return sum(c.nbytes - c.live_bytes for c in caches)


def can_trim_to(caches: Sequence[Cache], offset: int) -> bool:
    return all(c.can_trim_to(offset) for c in caches)


def room_past(caches: Sequence[Cache], offset: int) -> int:
    """Rows that may be fed past `offset` while every cache can surely be trimmed back to it."""
    return min((c.room_past(offset) for c in caches), default=sys.maxsize)


def nearest_trim_point(caches: Sequence[Cache], offset: int) -> int:
    """The latest offset at or before `offset` that every cache can trim back to (a pinned rollback
    point, else 0); going back further than the caches hold starts there and feeds the rest again."""
    points = {offset, 0} | {p for c in caches if (p := getattr(c, "pinned_offset", None)) is not None}
    return max(p for p in points if p <= offset and can_trim_to(caches, p))


def trim_to(caches: Sequence[Cache], offset: int) -> None:
    """Trim every cache back to `offset` (check `can_trim_to` first; a cache that cannot raises)."""
    for c in caches:
        c.trim(c.offset - offset)


def set_rollback_point(caches: Sequence[Cache], offset: int | None) -> None:
    for c in caches:
        c.set_rollback_point(offset)


def snapshot(caches: Sequence[Cache]) -> list[CacheState]:
    return [c.snapshot() for c in caches]


def restore(caches: Sequence[Cache], states: Sequence[CacheState]) -> None:
    for c, s in zip(caches, states, strict=True):
        c.restore(s)


class CacheTransaction:
    """Undo for what forwards feed to a list of caches: remember the offsets, then trim.

    Open it right before the forward; then `commit(keep)` keeps the first `keep` tokens fed since, or
    `abort()` drops them all. Used as a context manager it aborts on an exception. A sliding cache can
    always be rolled back over `slack` tokens (more above its rollback point), at any offset.
    """

    def __init__(self, caches: Sequence[Cache]) -> None:
        self.caches = caches
        self.start = [c.offset for c in caches]
        self.open = True

    def commit(self, keep: int) -> None:
        self._close()
        for c, start in zip(self.caches, self.start):
            fed = c.offset - start
            if keep > fed:
                raise ValueError(f"cannot keep {keep} tokens: the forward fed {fed}")
            c.trim(fed - keep)

    def abort(self) -> None:
        self.commit(0)

    def _close(self) -> None:
        if not self.open:
            raise RuntimeError("transaction already committed or aborted")
        self.open = False

    def __enter__(self) -> CacheTransaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.open and exc_type is not None:
            self.abort()
