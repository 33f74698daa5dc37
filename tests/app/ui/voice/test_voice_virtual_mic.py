"""The window's voice input on the real capture path: espeak-ng speech played into the virtual mic.

paplay -> PulseAudio null sink -> its monitor -> ALSA pulse plugin -> PortAudio -> Recorder ->
VoiceController (drain timer) -> AppendAudio. The samples the engine receives must be the WAV
that was played (after the device's lag), and hands-free mode must end the turn after the silence.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile
from conftest_voice import appended, best_lag

from app.ui.settings import Key
from app.ui.voice.controller import PAUSE_S, RecordingMode, VoiceState
from engine import protocol as ev


@pytest.fixture(scope="session")
def spoken(speech_wav, speech):
    return speech_wav, speech


pytestmark = pytest.mark.timeout(90)


def _wait_for_first_audio(qtbot, window) -> None:
    recorder = window.voice_input.recorder
    qtbot.waitUntil(lambda: recorder.samples_delivered > 0.3 * 16_000, timeout=10000)


def test_spoken_turn_reaches_the_engine_frame_for_frame(qtbot, open_window, virtual_mic, spoken):
    wav, speech = spoken
    window, engine = open_window(replies=["Heard."])
    window.voice_input.check_microphone(rescan=True)
    started = window.voice_input.start_recording(RecordingMode.TOGGLE)
    assert started, window.composer.error_label.text()
    _wait_for_first_audio(qtbot, window)
    player = virtual_mic.play(wav)
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=20000)
    assert player.returncode == 0, player.stderr.read()
    qtbot.wait(600)  # the device's lag: the end of the speech is still on its way
    window.voice_input.stop_recording()

    sent = appended(engine)
    lag, r = best_lag(sent, speech)
    assert r > 0.99, f"Pearson r {r:.4f} at lag {lag}"
    assert lag > 0 and lag + speech.size <= sent.size
    np.testing.assert_allclose(sent[lag : lag + speech.size], speech, atol=2e-4)
    assert window.voice_input.recorder is None
    assert len(engine.of_type(ev.EndVoiceTurn)) == 1
    [wav_att] = window.store.messages(window.controller.current_id)[0].attachments
    stored, _ = soundfile.read(wav_att.path, dtype="float32")
    np.testing.assert_allclose(stored, sent, atol=1 / 32768 + 1e-7)
    print(
        f"\nvoice through the window: lag {1000 * lag / 16_000:.0f} ms after the recording began, "
        f"Pearson r {r:.6f}, {len(engine.of_type(ev.AppendAudio))} AppendAudio commands"
    )


def test_hands_free_ends_the_turn_after_the_silence(qtbot, open_window, virtual_mic, spoken):
    wav, speech = spoken
    window, engine = open_window(replies=["Heard."])
    window.settings.set_value(Key.VOICE_HANDS_FREE, True)
    window.settings.set_value(Key.VOICE_SILENCE_S, 0.6)
    window.voice_input.check_microphone(rescan=True)
    window.voice_input.toggle()
    assert window.voice_input.mode is RecordingMode.HANDS_FREE, window.composer.error_label.text()
    _wait_for_first_audio(qtbot, window)
    player = virtual_mic.play(wav)
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=20000)
    played = time.monotonic()
    qtbot.waitUntil(lambda: bool(engine.of_type(ev.EndVoiceTurn)), timeout=10000)
    waited = time.monotonic() - played
    assert window.voice_input.recording and window.voice_input.state is VoiceState.LISTENING
    sent = appended(engine)
    lag, r = best_lag(sent, speech)
    assert r > 0.99, f"Pearson r {r:.4f}"
    assert 0 < lag <= 0.3 * 16_000 + 320  # the turn opened with its pre-roll
    voiced = np.flatnonzero(np.abs(speech) > 0.01)
    trailing = (sent.size - lag - voiced[-1]) / 16_000
    # the silence after the last sound up to the pause (PAUSE_S) was sent; from there it was held back while
    # the engine began the answer, and dropped when the silence reached 0.6 s
    assert PAUSE_S - 0.05 <= trailing <= PAUSE_S + 0.15
    assert len(engine.of_type(ev.PrepareVoiceAnswer)) >= 1
    assert waited < 0.6 + 1.5  # paplay exits when its buffer is played; then silence_s, the lag
    window.voice_input.stop_recording()
    assert len(engine.of_type(ev.EndVoiceTurn)) == 1
    print(f"\nhands-free: turn sent {waited:.2f} s after paplay exited (silence 0.6 s)")
