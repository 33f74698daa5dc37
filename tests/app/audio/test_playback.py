"""SoundPlayer: plays what is queued, keeps exactly what it played, stops at once, lets go when idle."""

from __future__ import annotations

import numpy as np
import pytest

from app.audio import playback
from app.audio.playback import BLOCK, PlaybackError, SoundPlayer


class FakeOutputStream:
    """A device that asks for blocks only when the test pumps it."""

    def __init__(self, module, callback, blocksize, **kwargs) -> None:
        self.module, self.callback, self.blocksize = module, callback, blocksize
        self.active = False
        self.kwargs = kwargs
        module.streams.append(self)

    def start(self) -> None:
        self.active = True

    def abort(self) -> None:
        self.active = False

    def close(self) -> None:
        self.active = False

    @property
    def latency(self) -> float:
        return 0.1

    def pump(self, blocks: int) -> np.ndarray:
        out = []
        for _ in range(blocks):
            data = np.full((self.blocksize, 1), np.nan, np.float32)
            try:
                self.callback(data, self.blocksize, None, None)
            except self.module.CallbackStop:
                self.active = False
            out.append(data[:, 0].copy())
        return np.concatenate(out)


class FakeSoundDevice:
    class PortAudioError(Exception):
        pass

    class CallbackStop(Exception):
        pass

    def __init__(self, fail: bool = False) -> None:
        self.streams: list[FakeOutputStream] = []
        self.fail = fail

    def OutputStream(self, callback, blocksize, **kwargs):  # noqa: N802 - sounddevice's name
        if self.fail:
            raise self.PortAudioError("Error querying device -1")
        return FakeOutputStream(self, callback, blocksize, **kwargs)


def test_queued_samples_are_played_in_order_then_silence_and_all_of_it_is_kept() -> None:
    sd = FakeSoundDevice()
    player = SoundPlayer(sounddevice=sd)
    first, second = np.linspace(-0.5, 0.5, 500, dtype=np.float32), np.full(300, 0.25, np.float32)
    player.play(first)
    player.play(second)
    assert player.open and player.pending_s == pytest.approx(800 / 16_000)
    out = sd.streams[0].pump(4)
    np.testing.assert_array_equal(out[:800], np.concatenate([first, second]))
    assert not np.any(out[800:]) and player.pending_s == 0
    np.testing.assert_array_equal(player.take_played(), out)  # the echo canceller's far end
    assert player.take_played().size == 0


def test_stop_forgets_the_queue_and_the_stream_stays_open() -> None:
    sd = FakeSoundDevice()
    player = SoundPlayer(sounddevice=sd)
    player.play(np.full(10 * BLOCK, 0.3, np.float32))
    sd.streams[0].pump(1)
    player.stop()
    assert player.pending_s == 0 and not np.any(sd.streams[0].pump(3))
    assert player.open and len(sd.streams) == 1  # the same stream: the same echo delay
    player.close()
    assert not player.open


def test_an_idle_stream_lets_the_device_go_and_the_next_sentence_opens_it_again(monkeypatch) -> None:
    monkeypatch.setattr(playback, "IDLE_CLOSE_S", 3 * BLOCK / 16_000)
    sd = FakeSoundDevice()
    player = SoundPlayer(sounddevice=sd)
    player.play(np.full(BLOCK, 0.3, np.float32))
    sd.streams[0].pump(5)
    assert not player.open
    player.play(np.full(BLOCK, 0.3, np.float32))
    assert len(sd.streams) == 2 and player.open


def test_speakers_that_cannot_open_are_said_in_a_sentence() -> None:
    player = SoundPlayer(sounddevice=FakeSoundDevice(fail=True))
    with pytest.raises(PlaybackError, match="could not play its voice on the speakers"):
        player.play(np.ones(10, np.float32))
    assert player.pending_s == 0


def test_a_device_rescan_closes_the_speakers_first() -> None:
    """PortAudio's re-initialisation frees every stream: one left open would crash its thread."""
    from app.audio.devices import refresh_devices
    from app.audio.errors import MicrophoneError

    sd = FakeSoundDevice()
    player = SoundPlayer(sounddevice=sd)
    player.play(np.ones(BLOCK, np.float32))
    assert player.open
    try:
        refresh_devices()
    except MicrophoneError as exc:
        pytest.skip(f"no PortAudio here: {exc}")
    assert not player.open
