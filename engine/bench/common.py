"""Helpers both sides share: random prompts, synthetic media, cache filling, and memory read-outs.

Everything here works on any cache with mlx-lm's protocol (`update_and_fetch`, `offset`, and a `state` that
starts with the keys and values), which both Tandem's caches and mlx-vlm's have, so the two sides get the
same inputs built the same way.
"""

from __future__ import annotations

import itertools
import os
import resource
import sys
import threading
from typing import Any

import mlx.core as mx
import numpy as np

from engine.inputs.audio import SAMPLE_RATE

FIRST_ORDINARY_ID = 10  # ids below are control tokens (pad, bos, eos, ...)
BOS_ID = 2


def random_ids(n: int, seed: int = 0, vocab_limit: int = 10_000) -> mx.array:
    """[1, n] token ids: bos, then ordinary tokens drawn uniformly (the same for both sides)."""
    rng = np.random.default_rng(seed)
    ids = [BOS_ID, *rng.integers(FIRST_ORDINARY_ID, vocab_limit, size=max(n - 1, 0)).tolist()]
    return mx.array([ids[:n]], dtype=mx.int32)


def test_image(size: int, seed: int = 0) -> Any:
    """A `size`x`size` RGB PIL image of smooth noise (stands in for a photo; content does not change cost)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(size // 16 + 1, size // 16 + 1, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.BILINEAR)


def test_audio(seconds: float, seed: int = 0) -> np.ndarray:
    """`seconds` of 16 kHz float32 audio: a quiet tone plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.1 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.shape)).astype(
        np.float32
    )


def fill_cache(cache: list[Any], n: int, seed: int = 0) -> None:
    """Append `n` random key/value positions to every cache that already holds at least one position.

    Decode cost depends on how many positions the cache holds, not on their values, so this stands in for
    a long prefill that would take hours on a CPU.
    """
    key = mx.random.key(seed)
    for c in cache:
        state = c.state
        if n <= 0 or not state or state[0] is None:
            continue
        held_keys, held_values = state[0], state[1]
        b, h, _, d = held_keys.shape
        vd = held_values.shape[-1]
        k1, k2, key = mx.random.split(key, 3)
        keys = mx.random.normal((b, h, n, d), key=k1).astype(held_keys.dtype)
        values = mx.random.normal((b, h, n, vd), key=k2).astype(held_values.dtype)
        c.update_and_fetch(keys, values)
        mx.eval(c.state)


def rss_peak_gb() -> float:
    """This process's peak resident set size in GB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e9 if sys.platform == "darwin" else peak * 1024 / 1e9


def rss_now_gb() -> float | None:
    """This process's resident set size now, in GB (Linux; None where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e9


class RssGrowth:
    """`with RssGrowth() as g: ...` then `g.gb`: how far the RSS rose above its level at the start.

    On Linux a thread samples the current RSS every 2 ms (it sees memory freed again before the end,
    which the process-wide peak hides behind earlier peaks); elsewhere it is the rise of ru_maxrss.
    """

    def __init__(self) -> None:
        self.gb = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> "RssGrowth":
        self._start, self._peak_start = rss_now_gb(), rss_peak_gb()
        self._highest = self._start
        if self._start is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            now = rss_now_gb()
            if now is not None and now > self._highest:
                self._highest = now

    def __exit__(self, *exc: object) -> None:
        if self._start is None:
            self.gb = rss_peak_gb() - self._peak_start
            return
        self._stop.set()
        self._thread.join()
        self._sample_once()
        self.gb = self._highest - self._start

    def _sample_once(self) -> None:
        now = rss_now_gb()
        if now is not None:
            self._highest = max(self._highest, now)


def memory() -> dict[str, float]:
    """MLX peak and active memory and the process's RSS peak, in GB."""
    return {
        "mx_peak_gb": round(mx.get_peak_memory() / 1e9, 4),
        "mx_active_gb": round(mx.get_active_memory() / 1e9, 4),
        "rss_peak_gb": round(rss_peak_gb(), 4),
    }


def gaps(times: list[float]) -> list[float]:
    """Differences between consecutive timestamps."""
    return [b - a for a, b in itertools.pairwise(times)]


def tokens_per_second(times: list[float]) -> float | None:
    """Steady-state decode speed from the timestamps of consecutive tokens (median gap)."""
    steps = sorted(gaps(times))
    if not steps:
        return None
    mid = (
        steps[len(steps) // 2]
        if len(steps) % 2
        else (steps[len(steps) // 2 - 1] + steps[len(steps) // 2]) / 2
    )
    return 1.0 / mid if mid > 0 else None
