"""A spoken user turn in the open conversation: the window's side of voice input.

Whoever captures the microphone (app.audio) drives it: `start()` when recording begins, `append()`
with each block of 16 kHz mono float32 samples while the user speaks (the engine prefills them at
once), `finish()` when they stop. `finish` stores the recording as a WAV attachment of a user message
(on disk before it shows), then asks for the answer, which streams into the chat view like any
other. `cancel()` drops the turn. No method waits on the engine.
"""

from __future__ import annotations

import io

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.ui.chat.controller import ConversationController
from engine import protocol as ev

SAMPLE_RATE = 16_000  # the model's audio input rate


class VoiceTurn(QObject):
    turn_started = Signal(str)  # session_id
    turn_finished = Signal(str)  # session_id; the answer is streaming
    turn_failed = Signal(str)  # why, in a sentence

    def __init__(self, controller: ConversationController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.session_id: str | None = None
        self._chunks: list[np.ndarray] = []

    @property
    def active(self) -> bool:
        return self.session_id is not None

    def start(self) -> bool:
        c = self.controller
        if self.active:
            return True
        if not c.engine_accepts_sessions():
            self.turn_failed.emit(c._model_missing_message())
            return False
        session_id = c.ensure_conversation()
        if session_id in c.pending:
            self.turn_failed.emit("Wait for the answer to finish, or stop it, before speaking.")
            return False
        self.session_id = session_id
        self._chunks = []
        c.bridge.submit(ev.StartVoiceTurn(session_id=session_id,
                                          settings=c.settings.generation_settings()))
        self.turn_started.emit(session_id)
        return True

    def append(self, samples: np.ndarray) -> None:
        if not self.active or len(samples) == 0:
            return
        samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        self._chunks.append(samples)
        self.controller.bridge.submit(ev.AppendAudio(session_id=self.session_id, samples=samples))

    def finish(self, text: str = "") -> None:
        if not self.active:
            return
        c, session_id = self.controller, self.session_id
        self.session_id = None
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        self._chunks = []
        attachment = c.store.import_bytes(_wav_bytes(audio), ".wav", "Voice message.wav")
        c.add_user_message(session_id, text, [attachment])
        rid = c.bridge.submit(ev.EndVoiceTurn(session_id=session_id, text=text,
                                              settings=c.settings.generation_settings()))
        c.begin_answer(session_id, rid)
        self.turn_finished.emit(session_id)

    def cancel(self) -> None:
        """Forget the turn: the engine's half-fed audio is rolled back to before it."""
        if not self.active:
            return
        c, session_id = self.controller, self.session_id
        self.session_id = None
        self._chunks = []
        turns = sum(1 for m in c.store.messages(session_id) if m.role == "user")
        c.bridge.submit(ev.Cancel(session_id=session_id))
        c.bridge.submit(ev.Rollback(session_id=session_id, turn=turns))


def _wav_bytes(samples: np.ndarray) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
