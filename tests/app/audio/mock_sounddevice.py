"""A stand-in for the sounddevice module that plays an array into the real InputStream callback.

`MockSoundDevice(audio, samplerate=...)` has the parts of sounddevice's API that app/audio uses
(`InputStream`, `query_devices`, `query_hostapis`, `default`, `check_input_settings`,
`PortAudioError`). Its InputStream calls the given callback from its own thread with blocks of
`blocksize` frames taken from `audio`, then silence, like a microphone that keeps running. Like
PortAudio, it reuses ONE `indata` buffer for every block, so a callback that keeps a reference
instead of copying gets corrupted data and the tests see it.

Faults it can play: input-overflow status flags on chosen blocks, the device vanishing after a
number of frames (`lose_after`: the callback stops, `active` turns False, the finished callback
runs, and `stop()` raises as PortAudio does for a dead device), or a stall where the stream still
looks active but delivers nothing (`stall_after`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np


class MockPortAudioError(Exception):
    """Plays sounddevice.PortAudioError."""


@dataclass
class MockFlags:
    """Plays sounddevice.CallbackFlags: falsy unless a flag is set."""

    input_overflow: bool = False

    def __bool__(self) -> bool:
        return self.input_overflow


class _Default:
    def __init__(self, input_index: int) -> None:
        self.device = [input_index, -1]


class MockSoundDevice:
    """A fake sounddevice module with one input device that "hears" `audio`.

    Args:
        audio: float32 samples, shape (frames,) or (frames, channels), at `samplerate`.
        samplerate: the device's default rate.
        rates: rates the device accepts; defaults to only `samplerate`.
        channels: the device's input channels; mono requests are refused when `mono_ok` is False.
        mono_ok: whether the device accepts a 1-channel stream.
        name: the device's name.
        speed: how many times faster than real time blocks are delivered.
        overflow_blocks: block numbers (0-based) whose status has input_overflow set.
        lose_after: frames after which the device vanishes; None for never.
        stall_after: frames after which the stream delivers nothing but stays "active".
        open_error: if set, opening a stream raises PortAudioError with this text.
        no_devices: list no input device at all.
    """

    PortAudioError = MockPortAudioError

    def __init__(
        self,
        audio: np.ndarray,
        samplerate: int = 16_000,
        *,
        rates: Iterable[int] | None = None,
        channels: int = 1,
        mono_ok: bool = True,
        name: str = "Mock Microphone",
        speed: float = 20.0,
        overflow_blocks: Iterable[int] = (),
        lose_after: int | None = None,
        stall_after: int | None = None,
        open_error: str | None = None,
        no_devices: bool = False,
    ) -> None:
        audio = np.asarray(audio, dtype=np.float32)
        self.audio = audio.reshape(len(audio), -1)
        self.samplerate = samplerate
        self.rates = set(rates) if rates is not None else {samplerate}
        self.channels = channels
        self.mono_ok = mono_ok
        self.name = name
        self.speed = speed
        self.overflow_blocks = set(overflow_blocks)
        self.lose_after = lose_after
        self.stall_after = stall_after
        self.open_error = open_error
        self.no_devices = no_devices
        self.default = _Default(-1 if no_devices else 1)
        self.streams: list[MockInputStream] = []
        self.reinitialised = 0
        self.rescan_finds_mic = True  # a re-scan finds the microphone (plugged in meanwhile)

    def _terminate(self) -> None:
        self.reinitialised += 1
        self.no_devices = not self.rescan_finds_mic

    def _initialize(self) -> None:
        self.default = _Default(-1 if self.no_devices else 1)

    def query_hostapis(self, index: int | None = None) -> Any:
        apis = ({"name": "MockAPI", "devices": [0, 1]},)
        return apis if index is None else apis[index]

    def query_devices(self, device: int | str | None = None, kind: str | None = None) -> Any:
        speaker = {
            "name": "Mock Speaker",
            "index": 0,
            "hostapi": 0,
            "max_input_channels": 0,
            "max_output_channels": 2,
            "default_samplerate": 48000.0,
        }
        mic = {
            "name": self.name,
            "index": 1,
            "hostapi": 0,
            "max_input_channels": self.channels,
            "max_output_channels": 0,
            "default_samplerate": float(self.samplerate),
        }
        devices = (speaker,) if self.no_devices else (speaker, mic)
        if device is None:
            return devices
        if isinstance(device, str):
            return next(d for d in devices if d["name"] == device)
        return devices[device]

    def check_input_settings(
        self,
        device: int | None = None,
        channels: int | None = None,
        dtype: str | None = None,
        samplerate: float | None = None,
        **_: Any,
    ) -> None:
        if samplerate not in self.rates:
            raise MockPortAudioError("Invalid sample rate [PaErrorCode -9997]")
        if channels is None or channels > self.channels or (channels == 1 and not self.mono_ok):
            raise MockPortAudioError("Invalid number of channels [PaErrorCode -9998]")

    def InputStream(self, **kwargs: Any) -> MockInputStream:
        if self.open_error is not None:
            raise MockPortAudioError(self.open_error)
        if self.no_devices:
            raise MockPortAudioError("Error querying device -1")
        self.check_input_settings(channels=kwargs["channels"], samplerate=kwargs["samplerate"])
        stream = MockInputStream(self, **kwargs)
        self.streams.append(stream)
        return stream


class MockInputStream:
    """Plays sounddevice.InputStream: a thread that calls `callback` block by block."""

    def __init__(
        self,
        owner: MockSoundDevice,
        *,
        samplerate: float,
        channels: int,
        dtype: str,
        blocksize: int,
        callback: Callable[..., None],
        finished_callback: Callable[[], None] | None = None,
        **_: Any,
    ) -> None:
        assert dtype == "float32"
        self._dev = owner
        self.samplerate = samplerate
        self.channels = channels
        self.blocksize = blocksize
        self._callback = callback
        self._finished_callback = finished_callback
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.active = False
        self.closed = False
        self.lost = False
        self.frames_delivered = 0
        self.audio_done = threading.Event()  # every frame of `audio` has gone to the callback
        self.callback_seconds: list[float] = []

    def _block_source(self, start: int) -> np.ndarray:
        audio = self._dev.audio
        block = np.zeros((self.blocksize, audio.shape[1]), np.float32)
        piece = audio[start : start + self.blocksize]
        block[: len(piece)] = piece
        if self.channels == audio.shape[1]:
            return block
        if audio.shape[1] == 1:
            return np.repeat(block, self.channels, axis=1)
        return block[:, : self.channels]

    def _run(self) -> None:
        indata = np.zeros((self.blocksize, self.channels), np.float32)  # reused, like PortAudio's
        period = self.blocksize / self.samplerate / self._dev.speed
        number = 0
        while not self._halt.is_set():
            if self._dev.lose_after is not None and self.frames_delivered >= self._dev.lose_after:
                self.lost = True
                self.active = False
                if self._finished_callback:
                    self._finished_callback()
                return
            if self._dev.stall_after is not None and self.frames_delivered >= self._dev.stall_after:
                self._halt.wait(period)
                continue
            indata[:] = self._block_source(self.frames_delivered)
            status = MockFlags(input_overflow=number in self._dev.overflow_blocks)
            began = time.thread_time()  # CPU time: a busy machine's preemption does not count
            self._callback(indata, self.blocksize, None, status)
            self.callback_seconds.append(time.thread_time() - began)
            indata.fill(np.nan)  # what a callback that did not copy will see later
            self.frames_delivered += self.blocksize
            number += 1
            if self.frames_delivered >= len(self._dev.audio):
                self.audio_done.set()
            self._halt.wait(period)

    def start(self) -> None:
        assert not self.closed, "start() on a closed stream"
        self.active = True
        self._thread = threading.Thread(target=self._run, name="mock-portaudio", daemon=True)
        self._thread.start()

    def stop(self, ignore_errors: bool = True) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        was_active, self.active = self.active, False
        if self.lost:
            raise MockPortAudioError(
                "Unanticipated host error [PaErrorCode -9999]: device vanished"
            )
        if was_active and self._finished_callback:
            self._finished_callback()

    abort = stop

    def close(self, ignore_errors: bool = True) -> None:
        self._halt.set()
        self.closed = True
