"""Voice turns through the window: audio streams to the engine while recording, then the answer."""

from __future__ import annotations

import numpy as np
import soundfile

from app.chat import ModelState
from engine import protocol as ev


def test_voice_turn_streams_audio_stores_the_recording_and_answers(qtbot, open_window):
    window, engine = open_window(replies=["I heard you."])
    assert window.voice.start()
    session = window.controller.current_id
    for _ in range(5):
        window.voice.append(np.full(640, 0.1, dtype=np.float32))  # 40 ms blocks
    assert len(engine.of_type(ev.AppendAudio)) == 5 and window.chat_view.messages == []
    window.voice.finish()
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "I heard you."
                    and window.chat_view.last().finish_reason == "stop", timeout=3000)

    assert engine.of_type(ev.StartVoiceTurn)[0].session_id == session
    assert engine.voice_samples == 3200
    user = window.store.messages(session)[0]
    [wav] = user.attachments
    assert wav.kind == "audio" and wav.filename == "Voice message.wav"
    audio, rate = soundfile.read(wav.path)
    assert rate == 16000 and len(audio) == 3200
    assert [m.role for m in window.store.messages(session)] == ["user", "assistant"]


def test_voice_turn_needs_a_model_and_a_quiet_conversation(qtbot, open_window):
    window, engine = open_window(model="missing")
    qtbot.waitUntil(lambda: window.controller.model_state is ModelState.FAILED, timeout=3000)
    assert not window.voice.start()
    assert "could not be loaded" in window.composer.error_label.text()
    assert not engine.of_type(ev.StartVoiceTurn)


def test_cancelled_voice_turn_rolls_back_and_stores_nothing(qtbot, open_window):
    window, engine = open_window()
    window.voice.start()
    window.voice.append(np.zeros(640, dtype=np.float32))
    window.voice.cancel()
    [rollback] = engine.of_type(ev.Rollback)
    assert rollback.turn == 0 and engine.of_type(ev.Cancel)
    assert window.store.messages(window.controller.current_id) == []
    window.voice.finish()  # nothing open: no effect
    assert not engine.of_type(ev.EndVoiceTurn)
