"""The chat without Qt: conversations, turns and answers between the store and the engine.

    ChatCore(store, submit, preferences, listener)  the rules; `handle(event)` for engine events
    ChatListener, ChatPreferences                   what it tells, what it asks     (app.chat.core)
    TurnRefused, ModelState, PendingAnswer
    VoiceTurn(chat, on_failure)                     a spoken turn           (app.chat.voice_turn)
    message_content, messages_to_replay             messages as engine content (app.chat.history)
"""

from app.chat.core import (
    MEDIA_KINDS,
    ChatCore,
    ChatListener,
    ChatPreferences,
    ModelState,
    PendingAnswer,
    TurnRefused,
)
from app.chat.history import message_content, messages_to_replay
from app.chat.voice_turn import VoiceTurn

__all__ = [
    "MEDIA_KINDS", "ChatCore", "ChatListener", "ChatPreferences", "ModelState", "PendingAnswer", "TurnRefused",
    "VoiceTurn", "message_content", "messages_to_replay",
]  # fmt: skip
