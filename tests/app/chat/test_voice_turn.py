"""A spoken turn without Qt: the audio goes to the engine as it comes, the recording is stored as a
WAV of the user message before the answer is asked for, and a cancelled turn leaves nothing."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from chat_fakes import make_chat

from app.chat import VoiceTurn
from app.store import Store
from engine import protocol as ev


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


def test_the_recording_is_stored_then_the_answer_asked_for(store):
    chat, engine, listener = make_chat(store)
    failures: list[str] = []
    voice = VoiceTurn(chat, failures.append)
    assert voice.start() and voice.active
    for _ in range(5):
        voice.append(np.full(640, 0.1, dtype=np.float64))  # 40 ms blocks, any float type
    voice.append(np.zeros(0, np.float32))  # nothing: not sent
    appended = engine.of_type(ev.AppendAudio)
    assert len(appended) == 5 and all(a.samples.dtype == np.float32 for a in appended)
    assert listener.named("user_message_added") == []  # nothing is shown while speaking
    voice.finish()
    assert not voice.active and failures == []
    [user] = store.messages(chat.current_id)
    [wav] = user.attachments
    assert wav.kind == "audio" and wav.filename == "Voice message.wav"
    audio, rate = soundfile.read(wav.path)
    assert rate == 16000 and len(audio) == 3200
    assert listener.stored_when_told == [[""]]
    assert engine.kinds()[-1] == "EndVoiceTurn" and chat.answering


def test_a_refused_turn_is_said(store):
    chat, engine, _ = make_chat(store, loaded=False)
    failures: list[str] = []
    voice = VoiceTurn(chat, failures.append)
    assert not voice.start() and not voice.active
    assert "not ready yet" in failures[0] and engine.commands == []


def test_a_cancelled_turn_rolls_back_and_stores_nothing(store):
    chat, engine, _ = make_chat(store)
    voice = VoiceTurn(chat, lambda message: None)
    voice.start()
    voice.append(np.zeros(640, dtype=np.float32))
    voice.cancel()
    assert (
        engine.kinds()[-2:] == ["Cancel", "Rollback"] and engine.of_type(ev.Rollback)[0].turn == 0
    )
    assert store.messages(chat.current_id) == []
    voice.finish()  # nothing open: no effect
    assert not engine.of_type(ev.EndVoiceTurn)


def test_a_spoken_first_turn_is_titled_with_its_length(store):
    chat, _, _ = make_chat(store)
    voice = VoiceTurn(chat, [].append)
    voice.start()
    voice.append(np.zeros(16000 * 8 + 3000, np.float32))  # 8.2 s
    voice.finish()
    assert store.conversation(chat.current_id).title == "Voice message · 0:08"
    chat.new_conversation()
    voice.start()
    voice.append(np.zeros(16000 * 75, np.float32))
    voice.finish("what is this song?")  # words, when there are any, make the title
    assert store.conversation(chat.current_id).title == "what is this song?"


def test_leaving_a_new_conversation_while_speaking_keeps_it(store):
    chat, _, _ = make_chat(store)
    voice = VoiceTurn(chat, [].append)
    voice.start()
    conv = chat.current_id
    assert not chat.discard_if_empty(conv)  # the spoken first message is on its way
    chat.new_conversation()
    voice.append(np.zeros(1600, np.float32))
    voice.finish()
    assert [m.role for m in store.messages(conv)] == ["user"]
    voice.start()
    voice.cancel()
    assert chat.discard_if_empty(chat.current_id)  # a cancelled turn leaves nothing behind
