"""The window's voice input driven by a mock sounddevice (no hardware) and the fake engine.

The mock plays an array into the Recorder's real callback, so what reaches the engine can be
compared sample for sample with what the "microphone" heard.
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
import soundfile
from conftest_voice import FakePlayer, MockSoundDevice, appended, noise, use_mock_mic, voice
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from app.audio.bench import scenes
from app.audio.tts import SystemVoice
from app.ui.settings import Key
from app.ui.voice.clip import VoiceClip
from app.ui.voice.controller import (
    APPEND_SAMPLES,
    HOLD_S,
    PAUSE_S,
    REPEAT_WINDOW_MS,
    RecordingMode,
    VoiceState,
)
from engine import protocol as ev

pytestmark = pytest.mark.timeout(60)


def _speech_scene() -> np.ndarray:
    return np.concatenate([noise(0.6, -60), voice(1.0), noise(2.0, -60, 3)])


def _delivered(mock: MockSoundDevice) -> int:
    return mock.streams[-1].frames_delivered if mock.streams else 0


def test_click_records_streams_every_sample_and_stores_a_playable_clip(qtbot, open_window):
    window, engine = open_window(replies=["I heard you."])
    audio = voice(1.5)
    mock = MockSoundDevice(audio, speed=10.0)
    use_mock_mic(window, mock)
    mic = window.voice_input
    shown = []
    window.chat_view.message_shown.connect(
        lambda w: shown.append(
            (
                w.role,
                [m.role for m in window.store.messages(window.controller.current_id)],
                [a.path.exists() for a in getattr(w, "attachments", ())],
            )
        )
    )

    qtbot.mouseClick(window.composer.mic_button, Qt.MouseButton.LeftButton)  # a click starts
    assert mic.recording and mic.mode is RecordingMode.TOGGLE
    assert window.composer.mic_button.isChecked()
    qtbot.waitUntil(lambda: mic.meter.rms_dbfs > -40, timeout=5000)  # the voice shows on the meter
    qtbot.waitUntil(lambda: mock.streams[-1].audio_done.is_set(), timeout=10000)
    qtbot.waitUntil(lambda: appended(engine).size >= audio.size, timeout=5000)
    assert mic.meter.isVisible() and mic.meter.elapsed >= audio.size / 16_000
    assert "Recording" in mic.meter.text
    assert engine.of_type(ev.StartVoiceTurn) and not engine.of_type(ev.EndVoiceTurn)
    qtbot.mouseClick(window.composer.mic_button, Qt.MouseButton.LeftButton)  # a second click sends
    assert not mic.recording and not window.composer.mic_button.isChecked()
    assert not mic.meter.isVisible()

    sent = appended(engine)
    np.testing.assert_array_equal(sent[: audio.size], audio)  # frame for frame, nothing dropped
    assert not sent[audio.size :].any()  # then the mock's silence
    sizes = [c.samples.size for c in engine.of_type(ev.AppendAudio)]
    assert min(sizes[:-1]) >= APPEND_SAMPLES  # batched: one engine forward pass per 200 ms
    assert len(engine.of_type(ev.EndVoiceTurn)) == 1
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "I heard you.", timeout=5000)
    conv = window.controller.current_id
    user = window.store.messages(conv)[0]
    [wav] = user.attachments
    stored, rate = soundfile.read(wav.path, dtype="float32")
    assert rate == 16_000 and stored.size == sent.size
    np.testing.assert_allclose(stored, sent, atol=1 / 32768 + 1e-7)  # 16-bit WAV
    # the message and its WAV were on disk before the view showed it
    assert shown[0] == ("user", ["user"], [True])
    [clip] = window.chat_view.messages[0].findChildren(VoiceClip)
    assert clip.duration == pytest.approx(sent.size / 16_000)


def test_holding_the_button_is_push_to_talk_and_a_short_press_keeps_recording(qtbot, open_window):
    window, engine = open_window()
    mock = MockSoundDevice(voice(3.0), speed=1.0)
    use_mock_mic(window, mock)
    button, mic = window.composer.mic_button, window.voice_input
    qtbot.mousePress(button, Qt.MouseButton.LeftButton)
    assert mic.recording
    qtbot.wait(int(HOLD_S * 1000) + 150)
    qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)
    assert not mic.recording and len(engine.of_type(ev.EndVoiceTurn)) == 1
    assert appended(engine).size >= 0.3 * 16_000

    qtbot.waitUntil(
        lambda: window.controller.current_id not in window.controller.pending, timeout=5000
    )
    qtbot.mousePress(button, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)  # a click: recording goes on
    assert mic.recording and button.isChecked()
    mic.stop_recording(send=False)
    assert len(engine.of_type(ev.EndVoiceTurn)) == 1 and engine.of_type(ev.Rollback)


def test_holding_space_in_an_empty_message_talks(qtbot, open_window):
    window, engine = open_window()
    mock = MockSoundDevice(voice(3.0), speed=2.0)
    use_mock_mic(window, mock)
    edit, mic = window.composer.edit, window.voice_input
    edit.setFocus()
    qtbot.keyPress(edit, Qt.Key.Key_Space)
    assert mic.recording and mic.mode is RecordingMode.PUSH
    qtbot.waitUntil(lambda: appended(engine).size > 8000, timeout=5000)
    qtbot.keyRelease(edit, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not mic.recording, timeout=1000)  # unless the key is repeating
    assert len(engine.of_type(ev.EndVoiceTurn)) == 1
    assert window.composer.text == ""

    edit.setPlainText("hi")
    qtbot.keyPress(edit, Qt.Key.Key_Space)  # with text, Space is a space
    qtbot.keyRelease(edit, Qt.Key.Key_Space)
    assert not mic.recording and sorted(window.composer.text) == [" ", "h", "i"]


def _space(edit, kind: QEvent.Type, repeat: bool, modifiers=Qt.KeyboardModifier.NoModifier):
    QApplication.sendEvent(edit, QKeyEvent(kind, Qt.Key.Key_Space, modifiers, " ", repeat))


@pytest.mark.parametrize("system", ["x11", "x11-unflagged", "macos"])
def test_holding_space_with_key_repeat_makes_one_turn(qtbot, open_window, system):
    """X11 repeats a held key as release/press pairs (flagged by Qt, or not where it cannot
    tell); macOS repeats the press only, flagged. Either way: one held key, one voice turn."""
    window, engine = open_window()
    use_mock_mic(window, MockSoundDevice(voice(3.0), speed=2.0))
    edit, mic = window.composer.edit, window.voice_input
    edit.setFocus()
    press, release = QEvent.Type.KeyPress, QEvent.Type.KeyRelease
    _space(edit, press, repeat=False)
    assert mic.recording and mic.mode is RecordingMode.PUSH
    for _ in range(5):
        qtbot.wait(30)
        if system != "macos":
            _space(edit, release, repeat=system == "x11")
        _space(edit, press, repeat=system != "x11-unflagged")
    qtbot.wait(2 * REPEAT_WINDOW_MS)
    assert mic.recording  # still held
    qtbot.waitUntil(lambda: appended(engine).size > 8000, timeout=5000)
    _space(edit, release, repeat=False)
    qtbot.waitUntil(lambda: not mic.recording, timeout=1000)
    assert len(engine.of_type(ev.StartVoiceTurn)) == 1 and len(engine.of_type(ev.EndVoiceTurn)) == 1
    assert window.composer.text == ""  # no space was typed either


def test_holding_the_shortcut_toggles_once(qtbot, open_window):
    window, engine = open_window()
    use_mock_mic(window, MockSoundDevice(voice(3.0), speed=2.0))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    edit, mic = window.composer.edit, window.voice_input
    combo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyPress(edit, Qt.Key.Key_Space, combo)
    assert mic.recording and mic.mode is RecordingMode.TOGGLE
    for _ in range(5):  # X11 repeats Qt could not flag: each press fires the shortcut again
        qtbot.wait(30)
        qtbot.keyRelease(edit, Qt.Key.Key_Space, combo)
        qtbot.keyPress(edit, Qt.Key.Key_Space, combo)
    qtbot.keyRelease(edit, Qt.Key.Key_Space, combo)
    qtbot.wait(2 * REPEAT_WINDOW_MS)
    assert mic.recording and len(engine.of_type(ev.StartVoiceTurn)) == 1
    qtbot.waitUntil(lambda: appended(engine).size > 8000, timeout=5000)
    qtbot.keyClick(edit, Qt.Key.Key_Space, combo)  # pressed again after letting go: stop
    assert not mic.recording and len(engine.of_type(ev.EndVoiceTurn)) == 1


def test_the_microphone_button_is_red_with_the_time_while_recording(qtbot, open_window):
    window, _ = open_window()
    use_mock_mic(window, MockSoundDevice(voice(3.0), speed=1.0))
    button, mic = window.composer.mic_button, window.voice_input
    idle = button.grab().toImage()
    assert button.text() == "" and button.styleSheet() == ""
    mic.start_recording()
    qtbot.waitUntil(lambda: button.text() == "0:01", timeout=5000)
    image = button.grab().toImage()
    center = image.pixelColor(4, image.height() // 2)
    assert center.red() > 180 and center.green() < 90 and center.blue() < 90  # red
    assert button.width() > idle.width()  # the time is written beside the microphone
    mic.stop_recording(send=False)
    assert button.text() == "" and button.styleSheet() == ""


def test_device_lost_mid_recording_keeps_and_sends_what_was_recorded(qtbot, open_window):
    window, engine = open_window(replies=["Got it."])
    audio = voice(2.0)
    mock = MockSoundDevice(audio, speed=10.0, lose_after=16_000)
    use_mock_mic(window, mock)
    mic = window.voice_input
    assert mic.start_recording()
    qtbot.waitUntil(lambda: not mic.recording, timeout=10000)
    assert "are kept" in window.composer.error_label.text()
    assert len(engine.of_type(ev.EndVoiceTurn)) == 1
    sent = appended(engine)
    assert sent.size >= 16_000 - 320
    np.testing.assert_array_equal(sent, audio[: sent.size])
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "Got it.", timeout=5000)
    [wav] = window.store.messages(window.controller.current_id)[0].attachments
    assert soundfile.info(wav.path).frames == sent.size


@pytest.mark.parametrize(
    "fault, words",
    [
        ({"no_devices": True}, "No "),  # "No microphone was found" or "No audio server is running"
        (
            {"open_error": "||PaMacCore (AUHAL)|| Error on line 1: err='-66748'"},
            "Privacy & Security",
        ),
    ],
)
def test_microphone_problems_are_said_and_nothing_is_sent(qtbot, open_window, fault, words):
    window, engine = open_window()
    mock = MockSoundDevice(voice(1.0), **fault)
    mock.rescan_finds_mic = False
    use_mock_mic(window, mock)
    qtbot.mouseClick(window.composer.mic_button, Qt.MouseButton.LeftButton)
    assert not window.voice_input.recording and not window.composer.mic_button.isChecked()
    assert words in window.composer.error_label.text()
    assert window.composer.error_label.isVisibleTo(window)
    assert not engine.of_type(ev.StartVoiceTurn)
    if "no_devices" in fault:
        assert window.composer.mic_button.toolTip().startswith("Cannot record: No ")


def test_a_microphone_plugged_in_later_is_found_when_the_button_is_pressed(qtbot, open_window):
    window, _ = open_window()
    mock = MockSoundDevice(voice(1.0), no_devices=True)
    use_mock_mic(window, mock)
    assert window.voice_input.unavailable
    assert window.voice_input.start_recording()  # the press re-scans and finds it
    assert mock.reinitialised == 1 and "Mock Microphone" in window.composer.mic_button.toolTip()
    window.voice_input.stop_recording(send=False)


def test_hands_free_sends_the_turn_after_the_silence_and_keeps_listening(qtbot, open_window):
    window, engine = open_window(replies=["Hands-free answer."])
    window.settings.set_value(Key.VOICE_HANDS_FREE, True)
    window.settings.set_value(Key.VOICE_SILENCE_S, 0.5)
    scene = _speech_scene()
    mock = MockSoundDevice(scene, speed=4.0)
    use_mock_mic(window, mock)
    mic = window.voice_input
    states: list = []
    mic.state_changed.connect(states.append)
    qtbot.mouseClick(window.composer.mic_button, Qt.MouseButton.LeftButton)
    assert mic.recording and mic.mode is RecordingMode.HANDS_FREE
    assert mic.state is VoiceState.LISTENING
    assert not engine.of_type(ev.StartVoiceTurn)  # nothing is sent until someone speaks
    qtbot.waitUntil(lambda: bool(engine.of_type(ev.EndVoiceTurn)), timeout=10000)
    heard = _delivered(mock)
    # the turn ended 0.5 s after the voice stopped (1.6 s), not at the end of the recording
    assert 16_000 * (1.6 + 0.5) <= heard < 16_000 * (1.6 + 0.5 + 0.6)
    assert mic.recording and mic.state is VoiceState.LISTENING
    sent = appended(engine)
    start = int(
        np.flatnonzero(
            np.all(
                np.lib.stride_tricks.sliding_window_view(scene, sent.size)[:, :32] == sent[:32],
                axis=1,
            )
        )[0]
    )
    np.testing.assert_array_equal(sent, scene[start : start + sent.size])
    assert 0.6 - 0.3 - 0.05 <= start / 16_000 <= 0.6  # the pre-roll is kept
    # the silence after a PAUSE_S pause is held back, not sent: the engine's close is ready at the end
    assert 1.6 + PAUSE_S - 0.1 <= (start + sent.size) / 16_000 <= 1.6 + PAUSE_S + 0.2
    # at the pause, after the audio before it, the engine was asked to begin the answer with the end's settings
    voice_commands = [c for c in engine.commands
                      if isinstance(c, (ev.AppendAudio, ev.PrepareVoiceAnswer, ev.EndVoiceTurn))]
    kinds = [type(c) for c in voice_commands]
    assert kinds.count(ev.PrepareVoiceAnswer) == 1
    assert kinds[-2:] == [ev.PrepareVoiceAnswer, ev.EndVoiceTurn]
    assert voice_commands[-2].settings == voice_commands[-1].settings
    assert voice_commands[-2].within_s == pytest.approx(0.5 - PAUSE_S)  # the silence left before the end
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "Hands-free answer.", timeout=5000)
    qtbot.mouseClick(window.composer.mic_button, Qt.MouseButton.LeftButton)
    assert not mic.recording and len(engine.of_type(ev.EndVoiceTurn)) == 1
    assert states == [VoiceState.LISTENING, VoiceState.RECORDING, VoiceState.LISTENING,
                      VoiceState.OFF]  # listen, hear a turn, send it, listen again, stop


def test_hands_free_sends_the_audio_held_over_a_pause_when_the_person_goes_on(qtbot, open_window):
    window, engine = open_window(replies=["Answer."])
    window.settings.set_value(Key.VOICE_HANDS_FREE, True)
    window.settings.set_value(Key.VOICE_SILENCE_S, 0.7)
    # a 0.5 s pause: longer than PAUSE_S (audio held back), shorter than the turn-end silence
    scene = np.concatenate([noise(0.6, -60), voice(1.0), noise(0.5, -60, 2), voice(0.8, 5), noise(2.5, -60, 3)])
    mock = MockSoundDevice(scene, speed=2.0)
    use_mock_mic(window, mock)
    mic = window.voice_input
    mic.start_recording(RecordingMode.HANDS_FREE)
    qtbot.waitUntil(lambda: bool(engine.of_type(ev.EndVoiceTurn)), timeout=10000)
    mic.stop_recording(send=False)
    assert len(engine.of_type(ev.StartVoiceTurn)) == 1
    sent = appended(engine)
    windows = np.lib.stride_tricks.sliding_window_view(scene, sent.size)
    start = int(np.flatnonzero(np.all(windows[:, :32] == sent[:32], axis=1))[0])
    np.testing.assert_array_equal(sent, scene[start : start + sent.size])  # nothing left out
    end = (start + sent.size) / 16_000
    assert start / 16_000 <= 0.6  # from before the first voice
    assert 2.9 + PAUSE_S - 0.1 <= end <= 2.9 + 0.7 - 0.1  # past the second voice (2.9 s); the silence after held
    # the answer was begun at each pause; the audio after the first pause came after it (taking it back)
    kinds = [type(c) for c in engine.commands
             if isinstance(c, (ev.AppendAudio, ev.PrepareVoiceAnswer, ev.EndVoiceTurn))]
    first = kinds.index(ev.PrepareVoiceAnswer)
    assert kinds.count(ev.PrepareVoiceAnswer) == 2 and ev.AppendAudio in kinds[first:]
    assert kinds[-2:] == [ev.PrepareVoiceAnswer, ev.EndVoiceTurn]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="speech is made with espeak-ng")
def test_hands_free_keeps_one_turn_over_a_pause_in_a_sentence_with_keyboard_noise(
    qtbot, open_window
):
    window, engine = open_window(replies=["Answer."])
    window.settings.set_value(Key.VOICE_HANDS_FREE, True)
    window.settings.set_value(Key.VOICE_SILENCE_S, 0.7)
    scene = scenes.utterance(7, "keyboard")
    mock = MockSoundDevice(scene.samples, speed=4.0)
    use_mock_mic(window, mock, learned_vad=True)
    mic = window.voice_input
    mic.start_recording(RecordingMode.HANDS_FREE)
    assert mic.segmenter.segmenter.vad.scorer.name == "silero"
    qtbot.waitUntil(lambda: _delivered(mock) >= scene.samples.size + 16_000, timeout=10000)
    mic.stop_recording(send=False)
    assert len(engine.of_type(ev.StartVoiceTurn)) == 1 and len(engine.of_type(ev.EndVoiceTurn)) == 1
    sent = appended(engine)  # the whole sentence, the pause inside it, in one turn
    truth = scene.truth
    assert sent.size >= truth.speech_end - truth.speech_start + int(PAUSE_S * 16_000)


def _barge_in_window(open_window, barge_in: bool, **fake):
    window, engine = open_window(**fake)
    window.settings.set_value(Key.VOICE_HANDS_FREE, True)
    window.settings.set_value(Key.VOICE_SILENCE_S, 0.4)
    window.settings.set_value(Key.VOICE_BARGE_IN, barge_in)
    scene = np.concatenate(
        [noise(0.5, -60), voice(0.8), noise(1.5, -60, 3), voice(0.8, 5), noise(3.0, -60, 7)]
    )
    mock = MockSoundDevice(scene, speed=1.5)
    use_mock_mic(window, mock)
    return window, engine


def test_barge_in_stops_the_running_answer_and_the_new_turn_follows(qtbot, open_window):
    long_answer = " ".join(["word"] * 400)
    window, engine = _barge_in_window(
        open_window, True, replies=[long_answer, "Second."], token_delay=0.01
    )
    mic = window.voice_input
    stopped = []
    mic.barged_in.connect(stopped.append)
    mic.start_recording(RecordingMode.HANDS_FREE)
    qtbot.waitUntil(lambda: bool(engine.of_type(ev.EndVoiceTurn)), timeout=10000)
    qtbot.waitUntil(lambda: bool(engine.of_type(ev.Cancel)), timeout=10000)
    assert stopped == [window.controller.current_id]
    qtbot.waitUntil(lambda: len(engine.of_type(ev.EndVoiceTurn)) == 2, timeout=10000)
    mic.stop_recording()
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=5000)
    roles = [(m.role, m.finish_reason) for m in window.store.messages(window.controller.current_id)]
    assert roles == [("user", ""), ("assistant", "cancelled"), ("user", ""), ("assistant", "stop")]
    # the second turn's audio went to the engine after the first answer was stopped
    kinds = [
        type(c).__name__
        for c in engine.commands
        if isinstance(c, (ev.Cancel, ev.StartVoiceTurn, ev.EndVoiceTurn))
    ]
    assert kinds == ["StartVoiceTurn", "EndVoiceTurn", "Cancel", "StartVoiceTurn", "EndVoiceTurn"]


def test_barge_in_silences_the_spoken_answer_at_once(qtbot, open_window):
    window, engine = _barge_in_window(open_window, True, replies=["A spoken answer."])
    window.settings.set_value(Key.VOICE_SPEAK_ANSWERS, True)
    mic = window.voice_input
    mic.speaker.voice = SystemVoice(["sh", "-c", "sleep 30"])  # a voice that takes 30 s
    mic.speaker.player = FakePlayer()
    mic.start_recording(RecordingMode.HANDS_FREE)
    qtbot.waitUntil(lambda: mic.speaker.voice._process is not None, timeout=10000)  # speaking
    process = mic.speaker.voice._process
    qtbot.waitUntil(lambda: len(engine.of_type(ev.StartVoiceTurn)) == 2, timeout=10000)
    assert not mic.speaker.speaking and process.poll() is not None  # killed, not finished
    mic.stop_recording(send=False)


def test_without_barge_in_speech_during_an_answer_is_ignored(qtbot, open_window):
    window, engine = _barge_in_window(
        open_window, False, replies=[" ".join(["word"] * 400)], token_delay=0.01
    )
    mic = window.voice_input
    mic.start_recording(RecordingMode.HANDS_FREE)
    qtbot.waitUntil(lambda: bool(engine.of_type(ev.EndVoiceTurn)), timeout=10000)
    deadline = time.monotonic() + 3.5 / 1.5
    qtbot.waitUntil(lambda: time.monotonic() > deadline, timeout=10000)
    assert not engine.of_type(ev.Cancel) and len(engine.of_type(ev.StartVoiceTurn)) == 1
    assert window.controller.current_id in window.controller.pending
    mic.stop_recording()
    window.controller.stop()


def test_a_turn_too_short_to_be_speech_is_dropped(qtbot, open_window):
    window, engine = open_window()
    use_mock_mic(window, MockSoundDevice(voice(1.0), speed=0.01))
    mic = window.voice_input
    assert mic.start_recording()
    mic.stop_recording()
    assert not engine.of_type(ev.EndVoiceTurn) and engine.of_type(ev.Rollback)
    assert "Nothing was recorded" in window.composer.error_label.text()


def test_the_shortcut_starts_and_stops_and_a_reopened_conversation_shows_the_clip(
    qtbot, open_window
):
    window, engine = open_window(replies=["Ok."])
    use_mock_mic(window, MockSoundDevice(voice(2.0), speed=4.0))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    combo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Space, combo)
    assert window.voice_input.recording and window.voice_input.mode is RecordingMode.TOGGLE
    qtbot.waitUntil(lambda: appended(engine).size >= 6400, timeout=5000)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Space, combo)
    assert not window.voice_input.recording and len(engine.of_type(ev.EndVoiceTurn)) == 1
    assert window.composer.text == ""
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=5000)
    conv = window.controller.current_id
    window.controller.new_conversation()
    window.controller.open_conversation(conv)
    [clip] = window.chat_view.messages[0].findChildren(VoiceClip)
    assert clip.title == "Voice message" and clip.duration > 0.4


@pytest.mark.parametrize("echo_canceller", [True, False])
def test_while_tandem_speaks_barge_in_is_strict_only_without_an_echo_canceller(
    qtbot, open_window, echo_canceller
):
    from app.audio.echo import EchoUnavailable

    def unavailable():
        raise EchoUnavailable("the echo canceller (pywebrtc-audio) could not be loaded")

    window, _ = open_window()
    use_mock_mic(window, MockSoundDevice(noise(5.0, -60), speed=1.0))
    mic = window.voice_input
    if not echo_canceller:
        mic.make_echo_canceller = unavailable
    mic.speaker.voice = SystemVoice(["sh", "-c", "sleep 30"])  # speaking for a while
    mic.speaker.player = FakePlayer()
    mic.speaker.enabled = True
    mic.start_recording(RecordingMode.HANDS_FREE)
    assert (mic.echo is not None) == echo_canceller
    mic.speaker.add_text("A sentence being said. ")
    qtbot.waitUntil(lambda: mic.speaker.speaking, timeout=5000)
    qtbot.wait(200)  # a few drain ticks
    assert mic.segmenter.strict == (not echo_canceller)
    mic.speaker.stop()
    qtbot.waitUntil(lambda: not mic.segmenter.strict, timeout=5000)
    mic.stop_recording(send=False)
