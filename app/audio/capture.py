"""Microphone capture: PortAudio's callback fills a queue; the engine thread drains 16 kHz mono float32.

Contract:
- The PortAudio callback (its own thread) copies each block into a `queue.SimpleQueue` and counts
  input-overflow flags. It takes no lock, never drops a block, and does no other work.
- One consumer thread (the engine thread) calls `start()`, `drain()` as often as it likes, and
  `stop()`. `drain()` returns every sample captured since the previous drain, as 16 kHz mono
  float32; when the device cannot record at 16 kHz mono, the consumer downmixes and resamples
  with soxr's streaming resampler, so the callback stays a copy.
- `level()`, `elapsed()`, `overflows` and `error` are plain attribute reads, safe from any thread
  (for a meter on the GUI thread); they follow what `drain()` has delivered.
- Problems at start are raised as `MicrophoneError`. A device that disappears mid-recording is
  not raised: `error` is set (reason `device_lost`) and everything recorded before stays
  available through `drain()`/`stop()`.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.audio.backend import load_sounddevice
from app.audio.devices import InputDevice, audio_server_reachable, pick_input_device
from app.audio.errors import MicrophoneError, device_lost, from_portaudio
from engine.inputs.audio import SAMPLE_RATE  # the model's audio frames are 16 kHz mono

BLOCK_SECONDS = 0.02  # PortAudio block: 320 frames at 16 kHz, short enough for a live meter
LEVEL_WINDOW = 1_600  # 100 ms at 16 kHz: the span a meter reading covers
FLOOR_DBFS = -100.0  # what the meter reads for digital silence (log of 0 is -inf)
FIRST_BLOCK_TIMEOUT_S = 5.0  # a fresh PulseAudio stream's first block can come 1-2 s late
STALL_TIMEOUT_S = 2.0  # 100 missing 20 ms blocks: the device is gone, not slow
SILENCE_HINT_S = 1.0  # this much exact-zero input suggests macOS gave silence instead of audio


@dataclass(frozen=True)
class Level:
    """Recent loudness in dB relative to full scale.

    `peak_dbfs` is 0 for a sample at +-1.0; `rms_dbfs` follows AES17 (a full-scale sine reads 0).
    """

    rms_dbfs: float
    peak_dbfs: float


class Recorder:
    """Records one input device as 16 kHz mono float32 for streaming into the model.

    Args:
        device: None for the system default input, a PortAudio index, or a device name.
        sounddevice: a stand-in for the sounddevice module (tests); the real one when None.
        capture_rate: ask the device for this rate instead of 16 kHz (then resample); None lets
            the recorder choose 16 kHz when the device accepts it, else the device's own rate.
        stall_timeout_s: how long a started stream may deliver nothing before the device counts
            as lost.
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        sounddevice: Any | None = None,
        capture_rate: int | None = None,
        stall_timeout_s: float = STALL_TIMEOUT_S,
    ) -> None:
        if capture_rate is not None and (not isinstance(capture_rate, int) or capture_rate <= 0):
            raise ValueError(f"capture_rate must be a positive number of Hz, not {capture_rate!r}")
        if stall_timeout_s <= 0:
            raise ValueError(f"stall_timeout_s must be positive, not {stall_timeout_s!r}")
        self._choice = device
        self._sd_override = sounddevice
        self._capture_rate = capture_rate
        self._stall_timeout_s = stall_timeout_s
        self._blocks: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
        self._sd: Any | None = None
        self._stream: Any | None = None
        self._resampler: Any | None = None
        self._finished = threading.Event()
        self._state = "new"  # new -> recording -> stopped
        self.device: InputDevice | None = None
        self.device_rate = 0
        self.device_channels = 0
        self.overflows = 0
        self.error: MicrophoneError | None = None
        self._delivered = 0
        self._peak_abs = 0.0
        self._tail = np.zeros(0, np.float32)
        self._level = Level(FLOOR_DBFS, FLOOR_DBFS)
        self._started_at = 0.0
        self._last_data_at: float | None = None

    # ---- lifecycle (consumer thread) ----

    def start(self) -> None:
        """Open the device and start capturing.

        Raises:
            MicrophoneError: no PortAudio, no audio server, no input device, permission denied,
                or a device that cannot be opened; the message says what to do.
            RuntimeError: the recorder was already started.
        """
        if self._state != "new":
            raise RuntimeError(
                "this Recorder was already started; make a new one for a new recording"
            )
        sd = self._sd = load_sounddevice(self._sd_override)
        self.device = pick_input_device(self._choice, sd)
        try:
            rate, channels = self._choose_settings(sd, self.device)
            stream = sd.InputStream(
                device=self.device.index,
                samplerate=rate,
                channels=channels,
                dtype="float32",
                blocksize=max(1, round(rate * BLOCK_SECONDS)),
                callback=self._on_block,
                finished_callback=self._finished.set,
            )
        except sd.PortAudioError as exc:
            raise from_portaudio(exc, self.device.name, audio_server_reachable()) from exc
        self.device_rate, self.device_channels = rate, channels
        if rate != SAMPLE_RATE:
            import soxr  # only needed when the device cannot record at 16 kHz

            self._resampler = soxr.ResampleStream(
                rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ"
            )
        self._stream = stream
        self._started_at = time.monotonic()
        try:
            stream.start()
        except sd.PortAudioError as exc:
            self._close_stream()
            raise from_portaudio(exc, self.device.name, audio_server_reachable()) from exc
        self._state = "recording"

    def drain(self) -> np.ndarray:
        """All samples captured since the last drain: 16 kHz mono float32, possibly empty.

        Also notices a device that stopped delivering (sets `error`, reason `device_lost`).
        """
        if self._state == "new":
            raise RuntimeError("Recorder.drain() before start()")
        out = self._convert(self._take_blocks(), last=False)
        if self._state == "recording":
            self._check_alive()
        return out

    def stop(self) -> np.ndarray:
        """Stop capturing and return the samples not drained yet (16 kHz mono float32).

        Safe to call after the device was lost, and more than once (later calls return nothing).
        """
        if self._state == "new":
            raise RuntimeError("Recorder.stop() before start()")
        if self._state == "stopped":
            return np.zeros(0, np.float32)
        self._state = "stopped"
        self._close_stream()  # PortAudio's stop waits for a running callback to return
        return self._convert(self._take_blocks(), last=True)

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._state == "recording":
            self.stop()

    # ---- readings (any thread) ----

    def level(self) -> Level:
        """Loudness of the last 100 ms delivered by `drain()`."""
        return self._level

    def elapsed(self) -> float:
        """Seconds of audio delivered by `drain()`/`stop()` so far."""
        return self._delivered / SAMPLE_RATE

    @property
    def samples_delivered(self) -> int:
        return self._delivered

    def digital_silence(self) -> bool:
        """True after a second or more of input that is exactly zero.

        A real microphone always has some noise. On macOS, exact zeros mean the app has no
        microphone permission (macOS then gives silence, not an error); see
        `errors.PERMISSION_HINT`.
        """
        return self._delivered >= SILENCE_HINT_S * SAMPLE_RATE and self._peak_abs == 0.0

    # ---- PortAudio's thread ----

    def _on_block(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Only a copy and a counter: PortAudio reuses `indata` after we return.
        if status and status.input_overflow:
            self.overflows += 1
        self._blocks.put(indata.copy())

    # ---- internals (consumer thread) ----

    def _choose_settings(self, sd: Any, device: InputDevice) -> tuple[int, int]:
        """16 kHz mono when the device takes it, else its own rate, mono if possible."""
        rates = [self._capture_rate] if self._capture_rate else [SAMPLE_RATE]
        own = round(device.default_samplerate)
        if own not in rates:
            rates.append(own)
        channel_options = (
            [1] if device.max_input_channels == 1 else [1, min(2, device.max_input_channels)]
        )
        last_error: Exception | None = None
        for rate in rates:
            for channels in channel_options:
                try:
                    sd.check_input_settings(
                        device=device.index, channels=channels, dtype="float32", samplerate=rate
                    )
                    return rate, channels
                except sd.PortAudioError as exc:
                    last_error = exc
        assert last_error is not None
        raise last_error

    def _take_blocks(self) -> list[np.ndarray]:
        blocks = []
        while True:
            try:
                blocks.append(self._blocks.get_nowait())
            except queue.Empty:
                return blocks

    def _convert(self, blocks: list[np.ndarray], last: bool) -> np.ndarray:
        if blocks:
            raw = np.concatenate(blocks)
            mono = raw[:, 0] if raw.shape[1] == 1 else raw.mean(axis=1, dtype=np.float32)
            mono = np.ascontiguousarray(mono, dtype=np.float32)
            self._last_data_at = time.monotonic()
        else:
            mono = np.zeros(0, np.float32)
        if self._resampler is not None and (mono.size or last):
            mono = self._resampler.resample_chunk(mono, last=last).astype(np.float32, copy=False)
        if mono.size:
            self._delivered += mono.size
            self._peak_abs = max(self._peak_abs, float(np.max(np.abs(mono))))
            self._update_level(mono)
        return mono

    def _update_level(self, samples: np.ndarray) -> None:
        self._tail = np.concatenate([self._tail, samples])[-LEVEL_WINDOW:]
        rms = float(np.sqrt(np.mean(np.square(self._tail, dtype=np.float64))))
        peak = float(np.max(np.abs(self._tail)))
        self._level = Level(_dbfs(rms * math.sqrt(2.0)), _dbfs(peak))

    def _check_alive(self) -> None:
        if self.error is not None:
            return
        now = time.monotonic()
        ended = self._finished.is_set() or not self._stream_active()
        if self._last_data_at is None:
            stalled = now - self._started_at > max(FIRST_BLOCK_TIMEOUT_S, self._stall_timeout_s)
        else:
            stalled = now - self._last_data_at > self._stall_timeout_s
        if ended or stalled:
            name = self.device.name if self.device else "?"
            # Everything queued was converted just before this check, so elapsed() is complete.
            self.error = device_lost(name, self.elapsed())
            self._close_stream()

    def _stream_active(self) -> bool:
        try:
            return self._stream is not None and bool(self._stream.active)
        except self._sd.PortAudioError:  # no report at all on a stream whose device vanished
            return False

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        for step in (stream.stop, stream.close):
            # A vanished device can make stop/close fail; the samples are already queued.
            with contextlib.suppress(self._sd.PortAudioError):
                step()


def _dbfs(amplitude: float) -> float:
    if amplitude <= 0.0:
        return FLOOR_DBFS
    return max(FLOOR_DBFS, 20.0 * math.log10(amplitude))
