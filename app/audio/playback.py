"""Plays 16 kHz mono audio on the default output, and keeps what it played as the echo reference.

`SoundPlayer.play(samples)` queues samples and opens a sounddevice OutputStream if none is open; the
PortAudio callback (its own thread) copies the next block out of the queue (silence when it is
empty) and puts a copy of every block it wrote into a second queue. `take_played()` hands those
blocks to the consumer (the microphone's drain): they are the far-end signal the echo canceller
subtracts from the microphone, in the order and at the pace they went to the speakers.
`stop()` aborts the stream at once (PortAudio drops its buffers) and forgets the queue: what
barge-in and Stop need. Nothing here imports Qt.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import Any

import numpy as np

from app.audio.backend import load_sounddevice

SAMPLE_RATE = 16_000
BLOCK = 320  # 20 ms: the callback's block, as for the microphone
PLAYED_BLOCKS = 50  # 1 s of played blocks kept for the echo canceller, at most


class PlaybackError(Exception):
    """The speakers could not be opened; the message says why, for a person."""


class SoundPlayer:
    """Plays queued 16 kHz mono float32 samples on the default output device.

    Args:
        sounddevice: a stand-in for the sounddevice module (tests); the real one when None.
        device: the output device (None: the system default).
    """

    def __init__(self, sounddevice: Any | None = None, device: int | str | None = None) -> None:
        self._sd_override = sounddevice
        self._device = device
        self._stream: Any | None = None
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._head = 0  # samples of _queue[0] already played (callback thread only)
        self._queued = 0  # samples queued and not yet played (approximate across threads)
        # what went to the device, newest last; the oldest are dropped when nobody takes them
        self._played: collections.deque[np.ndarray] = collections.deque(maxlen=PLAYED_BLOCKS)
        self._lock = threading.Lock()  # open/stop from different threads (speaker worker, GUI)

    @property
    def pending_s(self) -> float:
        """Seconds of audio queued and not yet handed to the device."""
        return max(0, self._queued) / SAMPLE_RATE

    @property
    def open(self) -> bool:
        return self._stream is not None

    @property
    def latency_s(self) -> float:
        """The device's output latency: how long after the callback a sample is heard."""
        stream = self._stream
        return float(stream.latency) if stream is not None else 0.0

    def play(self, samples: np.ndarray) -> None:
        """Queue `samples` behind what is playing; open the device when needed.

        Raises:
            PlaybackError: the output device cannot be opened.
        """
        samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            return
        with self._lock:
            self._queue.append(samples)
            self._queued += samples.size
            if self._stream is None:
                self._open()

    def stop(self) -> None:
        """Silence at once: abort the stream and forget everything queued."""
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is not None:
                sd = self._sd
                with contextlib.suppress(sd.PortAudioError):
                    stream.abort()  # drops the device's buffers: no tail of the sentence
                with contextlib.suppress(sd.PortAudioError):
                    stream.close()
            self._queue.clear()
            self._head = 0
            self._queued = 0

    def take_played(self) -> np.ndarray:
        """Every sample written to the device since the last call (silence included)."""
        blocks = []
        while self._played:
            blocks.append(self._played.popleft())  # deque ends are thread-safe
        return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)

    def _open(self) -> None:
        self._sd = sd = load_sounddevice(self._sd_override)
        try:
            stream = sd.OutputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="float32",
                blocksize=BLOCK,
                latency="high",  # a deeper buffer: a busy machine must not starve the speakers
                device=self._device,
                callback=self._on_block,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._queue.clear()
            self._queued = 0
            raise PlaybackError(
                f"Tandem could not play its voice on the speakers ({exc}). Check the output "
                "device in your system's sound settings, or turn off spoken answers."
            ) from exc
        self._stream = stream

    def _on_block(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        out = outdata[:, 0]
        filled = 0
        while filled < frames and self._queue:
            head = self._queue[0]
            take = min(frames - filled, head.size - self._head)
            out[filled : filled + take] = head[self._head : self._head + take]
            filled += take
            self._head += take
            if self._head >= head.size:
                self._queue.popleft()
                self._head = 0
        out[filled:] = 0.0
        self._queued -= filled
        self._played.append(out.copy())
