"""A stand-in for SoundPlayer: plays in real time without a device and keeps what it was given."""

from __future__ import annotations

import time

import numpy as np

SAMPLE_RATE = 16_000


class FakePlayer:
    """Plays in real time without a device: keeps what it was given and when."""

    latency_s = 0.0

    def __init__(self) -> None:
        self.played: list[tuple[float, np.ndarray]] = []
        self.stops = 0
        self._ends_at = 0.0

    @property
    def pending_s(self) -> float:
        return max(0.0, self._ends_at - time.monotonic())

    def play(self, samples: np.ndarray) -> None:
        now = time.monotonic()
        self.played.append((now, samples))
        self._ends_at = max(now, self._ends_at) + samples.size / SAMPLE_RATE

    def stop(self) -> None:
        self.stops += 1
        self._ends_at = 0.0

    def close(self) -> None:
        self.stop()

    def take_played(self) -> np.ndarray:
        return np.zeros(0, np.float32)
