"""Plays 16 kHz mono audio on the default output, and keeps what it played as the echo reference.

`SoundPlayer.play(samples)` queues samples and opens a sounddevice OutputStream if none is open; the
PortAudio callback (its own thread) copies the next block out of the queue (silence when it is
empty) and puts a copy of every block it wrote into a second queue. `take_played()` hands those
blocks to the consumer (the microphone's drain): they are the far-end signal the echo canceller
subtracts from the microphone, in the order and at the pace they went to the speakers.

The stream stays open between sentences and answers (writing silence) and closes itself after
`IDLE_CLOSE_S` of silence (and before PortAudio is re-initialised to find new devices,
`close_all_players()`): a stream opened anew has a new latency, and the echo canceller would
have to find the new delay between the voice and its echo while the next answer plays. `stop()`
forgets the queue: the voice stops after what the device already holds (`LATENCY_S`, about
0.1 s), which is what barge-in and Stop need. `close()` ends the stream at once. No Qt here.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import weakref
from typing import Any

import numpy as np

from app.audio.backend import load_sounddevice
from engine.inputs.audio import SAMPLE_RATE  # the model's 16 kHz mono

BLOCK = 320  # 20 ms: the callback's block, as for the microphone
PLAYED_BLOCKS = 50  # 1 s of played blocks kept for the echo canceller, at most
LATENCY_S = 0.1  # the device's buffer: deep enough for a busy machine, short enough to stop at once
IDLE_CLOSE_S = 30.0  # silence after which the stream closes itself


_players: weakref.WeakSet[SoundPlayer] = weakref.WeakSet()  # every player, to close before a rescan


def close_all_players() -> None:
    """Close every open output stream: PortAudio's re-initialisation would pull it from under them."""
    for player in list(_players):
        player.close()


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
        _players.add(self)
        self._stream: Any | None = None
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._head = 0  # samples of _queue[0] already played (callback thread only)
        self._queued = 0  # samples queued and not yet played (approximate across threads)
        # what went to the device, newest last; the oldest are dropped when nobody takes them
        self._played: collections.deque[np.ndarray] = collections.deque(maxlen=PLAYED_BLOCKS)
        self._lock = threading.Lock()  # open/close from different threads (speaker worker, GUI)
        self._queue_lock = threading.Lock()  # the queue, shared with the callback (held briefly)
        self._idle_blocks = 0  # silent blocks in a row (callback thread only)

    @property
    def pending_s(self) -> float:
        """Seconds of audio queued and not yet handed to the device."""
        return max(0, self._queued) / SAMPLE_RATE

    @property
    def open(self) -> bool:
        stream = self._stream
        return stream is not None and bool(stream.active)

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
        with self._queue_lock:
            self._queue.append(samples)
            self._queued += samples.size
        with self._lock:
            if not self.open:
                self._close_stream()
                self._open()

    def stop(self) -> None:
        """Stop the voice: forget everything queued (the device plays what it holds, ~0.1 s)."""
        with self._queue_lock:
            self._queue.clear()
            self._head = 0
            self._queued = 0

    def close(self) -> None:
        """Silence at once and let the device go: abort the stream, forget the queue."""
        with self._lock:
            self._close_stream()
        self.stop()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            sd = self._sd
            with contextlib.suppress(sd.PortAudioError):
                stream.abort()  # drops the device's buffers: no tail of the sentence
            with contextlib.suppress(sd.PortAudioError):
                stream.close()

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
                latency=LATENCY_S,
                device=self._device,
                callback=self._on_block,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self.stop()
            raise PlaybackError(
                f"Tandem could not play its voice on the speakers ({exc}). Check the output "
                "device in your system's sound settings, or turn off spoken answers."
            ) from exc
        self._stream = stream
        self._idle_blocks = 0

    def _on_block(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        out = outdata[:, 0]
        filled = 0
        with self._queue_lock:  # only against stop() and play(), which hold it for a moment
            while filled < frames and self._queue:
                head = self._queue[0]
                take = min(frames - filled, head.size - self._head)
                out[filled : filled + take] = head[self._head : self._head + take]
                filled += take
                self._head += take
                if self._head >= head.size:
                    self._queue.popleft()
                    self._head = 0
            self._queued -= filled
        out[filled:] = 0.0
        self._played.append(out.copy())
        self._idle_blocks = 0 if filled else self._idle_blocks + 1
        if self._idle_blocks * BLOCK >= IDLE_CLOSE_S * SAMPLE_RATE:
            raise self._sd.CallbackStop  # nothing said for a while: let the device go
