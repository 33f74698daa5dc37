"""A spoken user turn in the open conversation: the chat's side of voice input.

Whoever captures the microphone (the window's voice controller, with app.audio) drives it:
`start()` when recording begins, `append()` with each block of 16 kHz mono float32 samples while
the person speaks (the engine prefills them at once), `prepare_answer()` at a pause (hands-free: the
engine begins the answer, and takes it back if more audio comes), `finish()` when they stop. `finish` stores
the recording as a WAV attachment of a user message (on disk before it shows), then asks for the
answer, which streams like any other. `cancel()` drops the turn. No method waits on the engine; a
turn that cannot start is said through `on_failure`.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

from app.audio import SAMPLE_RATE
from app.chat.core import ChatCore, TurnRefused
from app.store import RECORDING_NAME


class VoiceTurn:
    def __init__(self, chat: ChatCore, on_failure: Callable[[str], None]) -> None:
        self.chat = chat
        self.on_failure = on_failure
        self.session_id: str | None = None
        self._chunks: list[np.ndarray] = []

    @property
    def active(self) -> bool:
        return self.session_id is not None

    def start(self) -> bool:
        if self.active:
            return True
        try:
            self.session_id = self.chat.start_voice_turn()
        except TurnRefused as exc:
            self.on_failure(str(exc))
            return False
        self._chunks = []
        return True

    def append(self, samples: np.ndarray) -> None:
        if self.session_id is None or len(samples) == 0:
            return
        samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        self._chunks.append(samples)
        self.chat.append_voice(self.session_id, samples)

    def prepare_answer(self, within_s: float | None = None) -> None:
        """The person paused: the engine may begin the answer (taken back if they go on); `within_s`: the
        silence left before the turn would end."""
        if self.session_id is not None:
            self.chat.prepare_voice_answer(self.session_id, within_s)

    def finish(self, text: str = "") -> None:
        if self.session_id is None:
            return
        session_id, self.session_id = self.session_id, None
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        self._chunks = []
        recording = self.chat.store.import_bytes(wav_bytes(audio), ".wav", RECORDING_NAME)
        self.chat.finish_voice_turn(session_id, recording, text)

    def cancel(self) -> None:
        """Forget the turn: the engine's half-fed audio is rolled back to before it."""
        if self.session_id is None:
            return
        session_id, self.session_id = self.session_id, None
        self._chunks = []
        self.chat.cancel_voice_turn(session_id)


def wav_bytes(samples: np.ndarray) -> bytes:
    """16-bit PCM WAV at the model's rate."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
