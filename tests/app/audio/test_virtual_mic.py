"""The real capture path: espeak-ng speech played into the PulseAudio virtual microphone.

paplay -> null sink -> its monitor (the default input) -> ALSA pulse plugin -> PortAudio ->
Recorder. The captured samples must equal the WAV (after the device's lag), and the VAD must end
the turn after the silence that follows the speech.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from app.audio.capture import SAMPLE_RATE, Recorder
from app.audio.devices import list_input_devices
from app.audio.errors import DEVICE_LOST
from app.audio.turns import TurnAudio, TurnEnded, TurnSegmenter, TurnStarted

MIC_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "virtual_mic.sh"

pytestmark = pytest.mark.timeout(60)


def best_lag(captured: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """The shift of `reference` inside `captured` with the highest cross-correlation, and Pearson r there."""
    n = 1 << int(np.ceil(np.log2(captured.size + reference.size)))
    spectrum = np.fft.rfft(captured, n) * np.conj(np.fft.rfft(reference, n))
    corr = np.fft.irfft(spectrum, n)
    lag = int(np.argmax(corr[: captured.size]))  # the speech is played after capture starts
    window = captured[lag : lag + reference.size]
    if window.size < reference.size:
        return lag, 0.0
    return lag, float(np.corrcoef(window, reference)[0, 1])


def _wait_for_audio(recorder: Recorder, seconds: float = 0.1) -> list[np.ndarray]:
    got, deadline = [], time.monotonic() + 10
    while sum(c.size for c in got) < seconds * SAMPLE_RATE:
        got.append(recorder.drain())
        assert time.monotonic() < deadline, "the virtual microphone delivered no audio"
        time.sleep(0.01)
    return got


def test_virtual_mic_is_listed_as_an_input(virtual_mic) -> None:
    devices = list_input_devices()
    assert devices, "PortAudio sees no input device although the virtual microphone runs"
    assert sum(d.is_default for d in devices) == 1


def test_speech_reaches_the_recorder_sample_for_sample_and_vad_ends_the_turn(
    virtual_mic, speech_wav: Path, speech: np.ndarray
) -> None:
    segmenter = TurnSegmenter()
    recorder = Recorder()
    recorder.start()
    chunks = _wait_for_audio(recorder, seconds=0.5)  # longer than the pre-roll
    events = segmenter.feed(np.concatenate(chunks))
    played_at = sum(c.size for c in chunks)
    player = virtual_mic.play(speech_wav)
    deadline = time.monotonic() + speech.size / SAMPLE_RATE + 8
    while not any(isinstance(e, TurnEnded) for e in events):
        assert time.monotonic() < deadline, f"the turn never ended; events: {events}"
        assert recorder.error is None, recorder.error
        chunk = recorder.drain()
        chunks.append(chunk)
        events += segmenter.feed(chunk)
        time.sleep(0.02)
    assert player.wait(timeout=10) == 0, player.stderr.read()
    chunks.append(recorder.stop())
    captured = np.concatenate(chunks)
    assert recorder.error is None and recorder.overflows == 0

    lag, r = best_lag(captured, speech)
    assert r > 0.99, f"Pearson r {r:.4f} at lag {lag}"
    assert lag >= played_at  # the speech cannot be heard before it was played
    np.testing.assert_allclose(captured[lag : lag + speech.size], speech, atol=2e-4)

    starts = [e for e in events if isinstance(e, TurnStarted)]
    ends = [e for e in events if isinstance(e, TurnEnded)]
    assert len(starts) == 1 and len(ends) == 1, events
    turn = np.concatenate([e.samples for e in events if isinstance(e, TurnAudio)])
    np.testing.assert_array_equal(turn, captured[starts[0].start : ends[0].end])
    voiced = np.flatnonzero(np.abs(speech) > 0.01)
    first_voice, last_voice = lag + voiced[0], lag + voiced[-1]
    assert 0 < starts[0].start <= first_voice  # the pre-roll covers the first syllable
    assert first_voice - starts[0].start < 0.5 * SAMPLE_RATE
    assert abs(ends[0].speech_end - last_voice) < 0.1 * SAMPLE_RATE
    assert ends[0].end - ends[0].speech_end == pytest.approx(0.8 * SAMPLE_RATE, abs=640)
    print(
        f"\nvirtual mic: lag {1000 * (lag - played_at) / SAMPLE_RATE:.0f} ms after paplay started, "
        f"Pearson r {r:.6f}, max |diff| {np.max(np.abs(captured[lag : lag + speech.size] - speech)):.2e}, "
        f"turn {starts[0].start}..{ends[0].end}, speech ended at {ends[0].speech_end}"
    )


def test_capture_at_48k_is_resampled_to_16k(
    virtual_mic, speech_wav: Path, speech: np.ndarray
) -> None:
    recorder = Recorder(capture_rate=48_000)
    recorder.start()
    assert recorder.device_rate == 48_000
    chunks = _wait_for_audio(recorder)
    player = virtual_mic.play(speech_wav)
    assert player.wait(timeout=20) == 0, player.stderr.read()
    time.sleep(0.5)
    chunks.append(recorder.drain())
    chunks.append(recorder.stop())
    captured = np.concatenate(chunks)
    lag, r = best_lag(captured, speech)
    assert r > 0.99, f"Pearson r {r:.4f} at lag {lag} through PulseAudio's and soxr's resamplers"
    print(f"\n48 kHz capture resampled to 16 kHz: Pearson r {r:.6f}")


def test_audio_server_dying_mid_recording_keeps_the_samples(
    virtual_mic, tmp_path, monkeypatch
) -> None:
    """A second, private PulseAudio that is killed while the Recorder reads from it: a real device loss."""
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = dict(virtual_mic.env, XDG_RUNTIME_DIR=str(runtime))
    subprocess.run(
        ["bash", str(MIC_SCRIPT), "start"], env=env, check=True, timeout=30, capture_output=True
    )
    try:
        # the ALSA pulse plugin connects to the server named by the environment at open time
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        recorder = Recorder()
        recorder.start()
        monkeypatch.undo()
        kept = _wait_for_audio(recorder, seconds=0.5)
    finally:
        subprocess.run(
            ["bash", str(MIC_SCRIPT), "stop"], check=False, env=env, timeout=30, capture_output=True
        )
    deadline = time.monotonic() + 10
    while recorder.error is None:
        assert time.monotonic() < deadline, "the lost audio server was never noticed"
        kept.append(recorder.drain())
        time.sleep(0.02)
    kept.append(recorder.stop())
    assert recorder.error.reason == DEVICE_LOST
    seconds = sum(c.size for c in kept) / SAMPLE_RATE
    assert seconds >= 0.5
    assert "are kept" in str(recorder.error)
