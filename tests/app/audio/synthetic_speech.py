"""Synthetic test signals at 16 kHz: room noise at a given level, and a voice-like tone."""

from __future__ import annotations

import numpy as np

RATE = 16_000


def noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """Gaussian noise with RMS at `dbfs`."""
    rms = 10 ** (dbfs / 20)
    n = int(seconds * RATE)
    return (rms * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def voice(seconds: float, seed: int = 1) -> np.ndarray:
    """A vowel-like tone with a syllable envelope (4 syllables a second), about -20 dBFS."""
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2
    tone = np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 720 * t)
    return (0.1 * envelope * tone).astype(np.float32) + noise(seconds, -60, seed)
