"""Recorder driven by MockSoundDevice: the real callback, fed from another thread like PortAudio's."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soxr
from mock_sounddevice import MockSoundDevice

from app.audio.capture import FLOOR_DBFS, SAMPLE_RATE, Recorder
from app.audio.errors import DEVICE_LOST, PERMISSION_DENIED, MicrophoneError


def _ramp(n: int) -> np.ndarray:
    """Distinct values in order, so a dropped, repeated or swapped block shows."""
    return (np.arange(n, dtype=np.float32) / n - 0.5).astype(np.float32)


def _record(mock: MockSoundDevice, **kwargs: object) -> tuple[Recorder, np.ndarray]:
    """Start a Recorder, drain it until the mock has played all its audio, then stop."""
    recorder = Recorder(sounddevice=mock, **kwargs)
    recorder.start()
    stream = mock.streams[-1]
    chunks = []
    deadline = time.monotonic() + 10
    while not stream.audio_done.is_set():
        chunks.append(recorder.drain())
        assert time.monotonic() < deadline, "the mock stream never finished its audio"
        time.sleep(0.005)
    chunks.append(recorder.stop())
    return recorder, np.concatenate(chunks)


def test_samples_arrive_intact_and_in_order() -> None:
    audio = _ramp(SAMPLE_RATE)  # 1 s
    mock = MockSoundDevice(audio)
    recorder, out = _record(mock)
    assert out.dtype == np.float32 and out.ndim == 1
    assert recorder.device_rate == SAMPLE_RATE and recorder.device_channels == 1
    np.testing.assert_array_equal(out[: audio.size], audio)
    stream = mock.streams[-1]
    assert out.size == stream.frames_delivered  # the silence after the file is kept too
    assert not np.any(out[audio.size :])
    assert recorder.elapsed() == out.size / SAMPLE_RATE
    assert recorder.overflows == 0 and recorder.error is None
    assert stream.closed


def test_device_at_48k_is_resampled_like_soxr_one_shot() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(48_000) / 48_000
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(
        np.float32
    )
    mock = MockSoundDevice(audio, samplerate=48_000)
    recorder, out = _record(mock)
    assert recorder.device_rate == 48_000
    delivered = np.zeros(mock.streams[-1].frames_delivered, np.float32)
    delivered[: audio.size] = audio
    expected = soxr.resample(delivered, 48_000, SAMPLE_RATE, quality="HQ")
    assert out.size == expected.size == delivered.size // 3
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_device_that_takes_16k_is_not_resampled_even_if_its_default_is_48k() -> None:
    audio = _ramp(8_000)
    mock = MockSoundDevice(audio, samplerate=48_000, rates=(16_000, 48_000))
    recorder, out = _record(mock)
    assert recorder.device_rate == SAMPLE_RATE
    np.testing.assert_array_equal(out[: audio.size], audio)


def test_stereo_only_device_is_downmixed() -> None:
    left, right = _ramp(8_000), np.full(8_000, 0.25, np.float32)
    mock = MockSoundDevice(np.stack([left, right], axis=1), channels=2, mono_ok=False)
    recorder, out = _record(mock)
    assert recorder.device_channels == 2
    np.testing.assert_allclose(out[:8_000], (left + right) / 2, atol=1e-7)


def test_overflow_flags_are_counted_and_no_block_is_dropped() -> None:
    audio = _ramp(SAMPLE_RATE // 2)
    mock = MockSoundDevice(audio, overflow_blocks={1, 3, 4})
    recorder, out = _record(mock)
    assert recorder.overflows == 3
    np.testing.assert_array_equal(out[: audio.size], audio)


def test_callback_only_copies() -> None:
    """The mock overwrites its one indata buffer after each call: samples intact prove the copy."""
    audio = _ramp(SAMPLE_RATE)
    mock = MockSoundDevice(audio)
    _, out = _record(mock)
    assert not np.isnan(out).any()
    assert max(mock.streams[-1].callback_seconds) < 0.01  # CPU time of a copy, not a computation


def _drain_until_error(recorder: Recorder, timeout: float = 10) -> list[np.ndarray]:
    chunks = []
    deadline = time.monotonic() + timeout
    while recorder.error is None:
        chunks.append(recorder.drain())
        assert time.monotonic() < deadline, "the lost device was never noticed"
        time.sleep(0.005)
    return chunks


def test_device_lost_mid_recording_keeps_what_was_recorded() -> None:
    audio = _ramp(SAMPLE_RATE)
    mock = MockSoundDevice(audio, lose_after=8_000)
    recorder = Recorder(sounddevice=mock)
    recorder.start()
    chunks = _drain_until_error(recorder)
    chunks.append(recorder.stop())  # the dead stream's stop() raises inside; the recorder does not
    out = np.concatenate(chunks)
    np.testing.assert_array_equal(out, audio[:8_000])
    assert recorder.error.reason == DEVICE_LOST
    assert "Mock Microphone" in str(recorder.error) and "0.5 s" in str(recorder.error)
    assert recorder.drain().size == 0  # still safe to call


def test_device_that_stalls_counts_as_lost() -> None:
    audio = _ramp(SAMPLE_RATE)
    mock = MockSoundDevice(audio, stall_after=3_200)
    recorder = Recorder(sounddevice=mock, stall_timeout_s=0.2)
    recorder.start()
    chunks = _drain_until_error(recorder)
    chunks.append(recorder.stop())
    np.testing.assert_array_equal(np.concatenate(chunks), audio[:3_200])
    assert recorder.error.reason == DEVICE_LOST
    assert mock.streams[-1].closed


def test_level_reads_loudness_of_the_last_100_ms() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)  # -6.02 dBFS
    recorder = Recorder(sounddevice=MockSoundDevice(tone))
    assert recorder.level().peak_dbfs == FLOOR_DBFS
    recorder.start()
    out = recorder.drain()
    while out.size < 4_000:
        out = np.concatenate([out, recorder.drain()])
        time.sleep(0.005)
    level = recorder.level()
    assert level.peak_dbfs == pytest.approx(-6.02, abs=0.05)
    assert level.rms_dbfs == pytest.approx(-6.02, abs=0.1)
    recorder.stop()


def test_digital_silence_is_flagged_and_noise_is_not() -> None:
    recorder, _ = _record(MockSoundDevice(np.zeros(int(1.2 * SAMPLE_RATE), np.float32)))
    assert recorder.digital_silence()
    assert recorder.level().rms_dbfs == FLOOR_DBFS
    noise = (1e-4 * np.random.default_rng(2).standard_normal(int(1.2 * SAMPLE_RATE))).astype(
        np.float32
    )
    recorder, _ = _record(MockSoundDevice(noise))
    assert not recorder.digital_silence()


def test_macos_permission_denied_is_explained() -> None:
    mock = MockSoundDevice(
        _ramp(100),
        open_error="Internal PortAudio error [PaErrorCode -9986]: ||PaMacCore (AUHAL)|| err='-66748'",
    )
    with pytest.raises(MicrophoneError) as caught:
        Recorder(sounddevice=mock).start()
    assert caught.value.reason == PERMISSION_DENIED
    assert "System Settings > Privacy & Security > Microphone" in str(caught.value)


def test_device_that_supports_no_usable_rate_is_explained() -> None:
    mock = MockSoundDevice(_ramp(100), samplerate=44_100, rates=(8_000,))
    with pytest.raises(MicrophoneError, match="does not support"):
        Recorder(sounddevice=mock).start()


def test_misuse_gets_clear_errors() -> None:
    recorder = Recorder(sounddevice=MockSoundDevice(_ramp(100)))
    with pytest.raises(RuntimeError, match="before start"):
        recorder.drain()
    with pytest.raises(RuntimeError, match="before start"):
        recorder.stop()
    recorder.start()
    with pytest.raises(RuntimeError, match="already started"):
        recorder.start()
    recorder.stop()
    assert recorder.stop().size == 0
    with pytest.raises(ValueError, match="capture_rate"):
        Recorder(capture_rate=0)
    with pytest.raises(ValueError, match="stall_timeout_s"):
        Recorder(stall_timeout_s=0)


def test_context_manager_stops_the_stream() -> None:
    mock = MockSoundDevice(_ramp(1_000))
    with Recorder(sounddevice=mock) as recorder:
        assert mock.streams[-1].active
        assert recorder.device is not None and recorder.device.name == "Mock Microphone"
    assert mock.streams[-1].closed and not mock.streams[-1].active
