"""The open voice turn of a session: samples waiting to become 640-sample frames, and clip counts."""

from __future__ import annotations

import numpy as np

from engine.inputs.audio import SAMPLES_PER_AUDIO_TOKEN


class VoiceBuffer:
    def __init__(self) -> None:
        self.buffer = np.zeros((0,), np.float32)
        self.clips = 1  # clips of this turn; a new one starts every 30 s
        self.clip_tokens = 0  # frames fed to the current clip
        self.samples = 0  # samples received in all

    def add(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 2 and 1 in samples.shape:
            samples = samples.reshape(-1)
        if samples.ndim != 1:
            raise ValueError(f"audio must be mono samples, got an array of shape {samples.shape}")
        if not np.all(np.isfinite(samples)):
            raise ValueError("audio samples contain NaN or infinity")
        self.samples += samples.shape[0]
        self.buffer = np.concatenate([self.buffer, samples])

    def pending_frames(self, final: bool) -> int:
        n, rest = divmod(self.buffer.shape[0], SAMPLES_PER_AUDIO_TOKEN)
        return n + (1 if final and rest else 0)

    def take_frames(self, max_frames: int, final: bool) -> np.ndarray | None:
        """Up to `max_frames` complete frames [n, 640]; with `final`, the zero-padded partial one too."""
        n = min(self.buffer.shape[0] // SAMPLES_PER_AUDIO_TOKEN, max_frames)
        if n > 0:
            cut = n * SAMPLES_PER_AUDIO_TOKEN
            frames, self.buffer = self.buffer[:cut].reshape(n, -1), self.buffer[cut:]
            return frames
        if final and self.buffer.shape[0] and max_frames > 0:
            frame = np.zeros((1, SAMPLES_PER_AUDIO_TOKEN), np.float32)
            frame[0, : self.buffer.shape[0]] = self.buffer
            self.buffer = np.zeros((0,), np.float32)
            return frame
        return None

    def new_clip(self) -> None:
        self.clips += 1
        self.clip_tokens = 0
