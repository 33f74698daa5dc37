"""The chat's rules without Qt: the open conversation, turns sent to the engine, answers stored.

`ChatCore` talks to the engine through a plain `submit(command) -> request_id` and hears back
through `handle(event)`, which the app calls (on the GUI thread) for every engine event. What the
person should see is told to a `ChatListener`. No method waits on the engine.

Rules it keeps:
- A conversation id is also the engine's session_id. A session is opened in the engine the first
  time this run uses it, and restored from its saved KV cache when one is on disk, else from the
  stored turns (`LoadHistory`). Sessions are opened only while a model is loading or loaded; a
  replaced model starts with none.
- A user message is in the store before the listener hears of it; the engine is asked for the
  answer after that. One answer at a time per conversation.
- An answer is stored when its turn finishes, also when it was stopped (the partial text is kept);
  an answer that failed is shown, not stored.
- The engine takes a command back entirely when it fails, or when it is stopped before the engine
  accepted it (`Accepted`, or any answer event). What is stored follows: Regenerate changes the store
  (the old answer replaced by the new one) only once the engine accepted it and the new answer finished;
  a stopped or failed one leaves the old answer. A message the engine took back is still stored (it is
  the person's), so the conversation's engine session is dropped and fed again from the store next time.
- A saved cache is restored with the stored turns as its fallback (the engine feeds them when it cannot
  read the cache); a session that could not be opened or fed is opened again on the next use.
- Editing user message k rolls the engine session back to user turn k (the number of user messages
  before it) and deletes message k and everything after it from the store before the new text goes.
- A turn that cannot start raises `TurnRefused` before anything changes; its message is a sentence
  for the person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

import numpy as np

from app.chat.history import message_content, messages_to_replay
from app.chat.model_titles import ModelTitles
from app.store import Attachment, Conversation, Message, Store, VariantPlace
from engine import protocol as ev

log = logging.getLogger(__name__)

Submit = Callable[[ev.Command], int]
# Events only an accepted command sends (an engine that sends no Accepted still shows acceptance by them).
ANSWER_EVENTS = (ev.TextDelta, ev.ToolCallEvent, ev.ParseErrorEvent, ev.TurnStats)
MEDIA_KINDS = frozenset({"image", "audio", "video"})  # what a full model takes; a text-only build none


def as_sentence(message: str) -> str:
    """An engine's message as a sentence: capitalised, ending in a full stop."""
    text = " ".join(message.split()).strip()
    if not text:
        return "Something went wrong in the engine. Try again; if it happens again, restart Tandem."
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


class ModelState(str, Enum):
    NONE = "none"  # nothing asked for yet
    LOADING = "loading"  # sessions may be opened: the engine runs commands in order
    READY = "ready"
    FAILED = "failed"


class TurnRefused(Exception):
    """A turn cannot start now; the message says why and what to do."""


class ChatPreferences(Protocol):
    """What the person chose (app.ui.settings.Settings has these)."""

    def system_prompt(self) -> str: ...
    def image_budget(self) -> int: ...
    def kv_bits(self) -> int | None: ...
    def generation_settings(self) -> ev.GenerationSettings: ...


class ChatListener(Protocol):
    """What the chat tells whoever shows it. Each call is about one conversation id."""

    def conversation_created(
        self, conversation_id: str
    ) -> None: ...  # stored, and now the open one
    def conversations_changed(self) -> None: ...  # a title, the order or the list changed
    def messages_removed(
        self, conversation_id: str, position: int
    ) -> None: ...  # this one and later
    def user_message_added(self, conversation_id: str, message: Message) -> None: ...
    def answer_started(self, conversation_id: str) -> None: ...
    def answer_streamed(self, conversation_id: str, text: str, channel: str) -> None: ...
    def tool_call_received(self, conversation_id: str, name: str, arguments: dict) -> None: ...
    def parse_error_received(self, conversation_id: str, raw: str, message: str) -> None: ...
    def answer_finished(self, conversation_id: str, answer: PendingAnswer, reason: str) -> None: ...
    def answer_failed(self, conversation_id: str, message: str) -> None: ...
    def attachment_ready(self, attachment: Attachment) -> None: ...
    def attachment_failed(self, attachment: Attachment, message: str) -> None: ...
    def model_failed(self, message: str) -> None: ...
    def engine_failed(self, message: str) -> None: ...  # an error that belongs to nothing shown


@dataclass
class PendingAnswer:
    """An answer being streamed: what has arrived of it so far."""

    request_id: int
    text: str = ""
    thinking: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    replaces: int | None = None  # Regenerate: the position of the answer it replaces
    accepted: bool = False  # the engine took the command (until then it can still take it all back)


class ChatCore:
    def __init__(
        self, store: Store, submit: Submit, preferences: ChatPreferences, listener: ChatListener
    ) -> None:
        self.store, self.submit = store, submit
        self.preferences, self.listener = preferences, listener
        self.current_id: str | None = None  # the open conversation; None: a new, unsaved one
        self.opened: set[str] = set()  # engine sessions opened in this run
        self.pending: dict[str, PendingAnswer] = {}  # conversation id -> its answer being written
        self.model_state = ModelState.NONE
        self.media_kinds = MEDIA_KINDS  # what the loaded model takes
        self._load_request = 0
        self._had_model = False
        self._preparing: dict[int, Attachment] = {}  # PrepareMedia request_id -> attachment
        self._opening: dict[int, str] = {}  # Open/LoadSession/LoadHistory request_id -> conversation id
        self._kv_bits: dict[str, int | None] = {}  # opened conversation -> its KV precision (OpenSession)
        self._voice_session: str | None = None  # the conversation of the open voice turn
        self.titles = ModelTitles(store, submit)  # written by the model after the first answer
        self._handlers: dict[type, Callable] = {
            ev.ModelLoaded: self._on_model_loaded,
            ev.Accepted: self._on_accepted,
            ev.Progress: self._on_progress,
            ev.TextDelta: self._on_text,
            ev.ToolCallEvent: self._on_tool_call,
            ev.ParseErrorEvent: self._on_parse_error,
            ev.TurnStats: self._on_stats,
            ev.TurnFinished: self._on_turn_finished,
            ev.ErrorEvent: self._on_error,
            ev.TitleWritten: self._on_title,
        }

    # ------------------------------------------------------------ conversations

    def conversations(self, query: str = "") -> list[Conversation]:
        """Newest first, without chats that have no message yet (one made for an attachment
        being prepared is listed once its message is sent)."""
        empty = self.store.empty_chats()
        return [c for c in self.store.conversations(query) if c.id not in empty]

    def discard_if_empty(self, conversation_id: str | None) -> bool:
        """Delete `conversation_id` (and close its engine session) when it is a chat with no
        message and no answer being written: nothing of it is left behind. True when deleted."""
        if conversation_id is None or conversation_id in self.pending:
            return False
        if conversation_id == self._voice_session:
            return False  # its spoken first message is on its way
        if conversation_id not in self.store.empty_chats():
            return False
        self.delete(conversation_id)
        return True

    def new_conversation(self) -> None:
        """Nothing is stored until the first message (or attachment) of the new conversation."""
        self.current_id = None

    def open_conversation(self, conversation_id: str) -> list[Message] | None:
        """Make `conversation_id` the open one and return its messages; None when it is gone."""
        if self.store.conversation(conversation_id) is None:
            return None
        self.current_id = conversation_id
        return self.store.messages(conversation_id)

    def rename(self, conversation_id: str, title: str) -> None:
        self.store.rename_conversation(conversation_id, title)

    def delete(self, conversation_id: str) -> None:
        """Stop its answer, close its engine session, delete it; an open one becomes a new one."""
        if self.pending.pop(conversation_id, None) is not None:
            self.submit(ev.Cancel(session_id=conversation_id))
        if conversation_id in self.opened:
            self.submit(ev.CloseSession(session_id=conversation_id))
            self.opened.discard(conversation_id)
        self.store.delete_conversation(conversation_id)
        if conversation_id == self.current_id:
            self.current_id = None

    def ensure_conversation(self) -> str:
        """The open conversation's id; a new one is stored (and its engine session opened) first."""
        if self.current_id is None:
            self.current_id = self.store.create_conversation().id
            self.listener.conversation_created(self.current_id)
        if self.accepts_sessions():
            self._ensure_session(self.current_id)
        return self.current_id

    def _ensure_session(self, conversation_id: str) -> None:
        if conversation_id in self.opened:
            return
        self._kv_bits[conversation_id] = self.preferences.kv_bits()
        rid = self.submit(
            ev.OpenSession(
                session_id=conversation_id,
                system_prompt=self.preferences.system_prompt(),
                image_budget=self.preferences.image_budget(),
                kv_bits=self._kv_bits[conversation_id],
            )
        )
        self._opening[rid] = conversation_id
        cache = self._cache_path(conversation_id)
        history = messages_to_replay(self.store.messages(conversation_id))
        if cache.exists():  # the stored turns are fed instead if the engine cannot read the cache
            rid = self.submit(ev.LoadSession(session_id=conversation_id, path=str(cache),
                                             fallback=history or None))
            self._opening[rid] = conversation_id
        elif history:  # no saved cache: feed the stored turns so the model keeps the context
            rid = self.submit(ev.LoadHistory(session_id=conversation_id, messages=history))
            self._opening[rid] = conversation_id
        self.opened.add(conversation_id)

    def _forget_session(self, conversation_id: str) -> None:
        """The engine session no longer matches the store: open it again from the stored turns next time."""
        self.opened.discard(conversation_id)
        for bits in (None, 8, 4):
            self._cache_path(conversation_id, bits).unlink(missing_ok=True)

    # ------------------------------------------------------------ the model

    def load_model(self, command: ev.LoadModel) -> None:
        """Submit `command`; sessions may be opened from now on (the engine keeps the order)."""
        self.model_state = ModelState.LOADING
        self._load_request = self.submit(command)

    def accepts_sessions(self) -> bool:
        return self.model_state in (ModelState.LOADING, ModelState.READY)

    def _require_model(self) -> None:
        if self.model_state == ModelState.FAILED:
            raise TurnRefused(
                "The model could not be loaded. Choose another in Settings or "
                "Model ▸ Manage Models."
            )
        if not self.accepts_sessions():
            raise TurnRefused(
                "The model is not ready yet. Your message is still here; send it in a moment."
            )

    # ------------------------------------------------------------ turns

    @property
    def answering(self) -> bool:
        """Whether the open conversation's answer is being written."""
        return self.current_id is not None and self.current_id in self.pending

    def prepare_attachment(self, attachment: Attachment) -> None:
        """Start the attachment's prefill work now, while the person is still writing."""
        session_id = self.ensure_conversation()
        if not self.accepts_sessions():
            return  # it is prepared with the message instead
        kind = attachment.kind
        if kind == "video":
            return  # a video is read (frames and sound) with the message
        rid = self.submit(
            ev.PrepareMedia(session_id=session_id, item={"type": kind, kind: str(attachment.path)})
        )
        self._preparing[rid] = attachment

    def send(
        self, text: str, attachments: Sequence[Attachment] = (), edit_position: int | None = None
    ) -> bool:
        """Store the message and ask for the answer; False when there is nothing to do."""
        if not text and not attachments:
            return False
        self._require_model()
        conversation_id = self.ensure_conversation()
        if conversation_id in self.pending:
            return False  # one answer at a time per conversation
        if edit_position is not None:
            self._roll_back(conversation_id, edit_position)
        self.add_user_message(conversation_id, text, attachments)
        rid = self.submit(
            ev.SendMessage(
                session_id=conversation_id,
                content=message_content(text, attachments),
                settings=self.preferences.generation_settings(),
            )
        )
        self.begin_answer(conversation_id, rid)
        return True

    def add_user_message(
        self, conversation_id: str, text: str, attachments: Sequence[Attachment] = ()
    ) -> Message:
        """Store a user message (on disk when this returns), then tell the listener."""
        message = self.store.add_message(conversation_id, "user", text, attachments)
        self.listener.user_message_added(conversation_id, message)
        self.listener.conversations_changed()
        return message

    def begin_answer(self, conversation_id: str, request_id: int) -> PendingAnswer:
        """Collect the events of `request_id` into a new answer of `conversation_id`."""
        answer = self.pending[conversation_id] = PendingAnswer(request_id)
        self.listener.answer_started(conversation_id)
        return answer

    def regenerate(self, answer_position: int) -> bool:
        """Ask for the open conversation's last answer (at `answer_position`) again. It is replaced in
        the view once the engine accepts, and in the store once the new answer finishes."""
        conversation_id = self.current_id
        if conversation_id is None or conversation_id in self.pending:
            return False
        self._require_model()
        self._ensure_session(conversation_id)
        rid = self.submit(
            ev.Regenerate(
                session_id=conversation_id, settings=self.preferences.generation_settings()
            )
        )
        self.pending[conversation_id] = PendingAnswer(rid, replaces=answer_position)
        return True

    def user_message(self, position: int) -> Message | None:
        """The open conversation's user message at `position`, if it may be edited now."""
        if self.current_id is None or self.current_id in self.pending:
            return None
        found = [m for m in self.store.messages(self.current_id) if m.position == position]
        return found[0] if found and found[0].role == "user" else None

    def variant_places(self) -> dict[int, VariantPlace]:
        """The open conversation's positions with other versions, and which one is shown."""
        return self.store.variant_places(self.current_id) if self.current_id else {}

    def switch_variant(self, position: int, index: int) -> list[Message] | None:
        """Make version `index` of the open conversation's tail at `position` the live one, in the
        store and in the engine (whose session is fed the conversation again, without generating);
        its messages now, or None when nothing changed (an answer is being written, no such
        version)."""
        conversation_id = self.current_id
        if conversation_id is None or conversation_id in self.pending:
            return None
        if not self.store.switch_variant(conversation_id, position, index):
            return None
        # The saved KV cache holds the other version: the session is rebuilt from the store.
        for bits in (None, 8, 4):
            self._cache_path(conversation_id, bits).unlink(missing_ok=True)
        self.opened.discard(conversation_id)
        if self.accepts_sessions():
            self._ensure_session(conversation_id)
        self.listener.conversations_changed()
        return self.store.messages(conversation_id)

    def _roll_back(self, conversation_id: str, position: int) -> None:
        messages = self.store.messages(conversation_id)
        turn = sum(1 for m in messages if m.role == "user" and m.position < position)
        self.submit(ev.Rollback(session_id=conversation_id, turn=turn))
        self.store.set_aside_from(conversation_id, position)  # the old branch stays reachable
        self.listener.messages_removed(conversation_id, position)

    def stop(self) -> None:
        """Stop the open conversation's answer; what has arrived is stored when it ends."""
        if self.answering:
            self.submit(ev.Cancel(session_id=self.current_id))

    def stop_all(self) -> None:
        """Stop every answer and store what has arrived so far (the app is closing)."""
        for session_id, answer in list(self.pending.items()):
            self.submit(ev.Cancel(session_id=session_id))
            self._on_turn_finished(
                ev.TurnFinished(
                    session_id=session_id,
                    request_id=answer.request_id,
                    reason="cancelled",
                    text=answer.text,
                )
            )

    # ------------------------------------------------------------ voice turns

    def start_voice_turn(self) -> str:
        """Open a spoken turn in the open conversation (made if needed); its session id."""
        self._require_model()
        session_id = self.ensure_conversation()
        if session_id in self.pending:
            raise TurnRefused("Wait for the answer to finish, or stop it, before speaking.")
        self.submit(
            ev.StartVoiceTurn(
                session_id=session_id, settings=self.preferences.generation_settings()
            )
        )
        self._voice_session = session_id
        return session_id

    def append_voice(self, session_id: str, samples: np.ndarray) -> None:
        self.submit(ev.AppendAudio(session_id=session_id, samples=samples))

    def prepare_voice_answer(self, session_id: str, within_s: float | None = None) -> None:
        """A pause in the spoken turn: the engine begins the answer with the settings the end will use."""
        self.submit(
            ev.PrepareVoiceAnswer(
                session_id=session_id,
                settings=self.preferences.generation_settings(),
                within_s=within_s,
            )
        )

    def finish_voice_turn(self, session_id: str, recording: Attachment, text: str = "") -> None:
        """Store the turn as a user message with its recording, then ask for the answer."""
        self._voice_session = None
        self.add_user_message(session_id, text, [recording])
        rid = self.submit(
            ev.EndVoiceTurn(
                session_id=session_id, text=text, settings=self.preferences.generation_settings()
            )
        )
        self.begin_answer(session_id, rid)

    def cancel_voice_turn(self, session_id: str) -> None:
        """Forget the turn: the engine's half-fed audio is rolled back to before it."""
        self._voice_session = None
        turns = sum(1 for m in self.store.messages(session_id) if m.role == "user")
        self.submit(ev.Cancel(session_id=session_id))
        self.submit(ev.Rollback(session_id=session_id, turn=turns))

    # ------------------------------------------------------------ engine events

    def handle(self, event: ev.Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _answer_for(self, event: ev.Event) -> PendingAnswer | None:
        answer = self.pending.get(event.session_id)
        if answer is None or answer.request_id != event.request_id:
            return None
        if not answer.accepted and isinstance(event, ANSWER_EVENTS):
            self._on_accepted(event)  # the engine accepts before any of these
        return answer

    def _on_accepted(self, event: ev.Event) -> None:
        answer = self.pending.get(event.session_id)
        if answer is None or answer.request_id != event.request_id or answer.accepted:
            return
        answer.accepted = True
        if answer.replaces is not None:  # the old answer is gone from the engine: now from the view
            self.listener.messages_removed(event.session_id, answer.replaces)
            self.listener.answer_started(event.session_id)

    def _on_model_loaded(self, event: ev.ModelLoaded) -> None:
        if self._had_model:
            self.opened.clear()  # a replaced model starts with no sessions
        self._had_model = True
        self.model_state = ModelState.READY
        self.titles.enabled = not event.random_weights
        self.media_kinds = frozenset(
            kind for kind, ok in (("image", event.has_vision), ("audio", event.has_audio),
                                  ("video", event.has_vision)) if ok)

    def _on_progress(self, event: ev.Progress) -> None:
        attachment = self._preparing.get(event.request_id)
        if attachment is not None and event.done >= event.total:
            del self._preparing[event.request_id]
            self.listener.attachment_ready(attachment)

    def _on_text(self, event: ev.TextDelta) -> None:
        answer = self._answer_for(event)
        if answer is None:
            return
        if event.channel == "thinking":
            answer.thinking += event.text
        else:
            answer.text += event.text
        self.listener.answer_streamed(event.session_id, event.text, event.channel)

    def _on_tool_call(self, event: ev.ToolCallEvent) -> None:
        answer = self._answer_for(event)
        if answer is not None:
            answer.tool_calls.append({"name": event.name, "arguments": event.arguments})
            self.listener.tool_call_received(event.session_id, event.name, event.arguments)

    def _on_parse_error(self, event: ev.ParseErrorEvent) -> None:
        answer = self._answer_for(event)
        if answer is not None:  # stored with the calls, so its card is there when reopened
            answer.tool_calls.append({"unparsed": event.raw, "error": event.message})
            self.listener.parse_error_received(event.session_id, event.raw, event.message)

    def _on_stats(self, event: ev.TurnStats) -> None:
        answer = self._answer_for(event)
        if answer is not None:
            answer.stats = asdict(event)

    def _on_title(self, event: ev.TitleWritten) -> None:
        if self.titles.title_written(event):
            self.listener.conversations_changed()

    def _on_turn_finished(self, event: ev.TurnFinished) -> None:
        opening = self._opening.pop(event.request_id, None)
        if opening is not None:  # a LoadHistory that was cancelled: its session holds nothing
            self._forget_session(opening)
        answer = self._answer_for(event)
        if answer is None:
            self.titles.forget(event.request_id)  # a title stopped for other work
            return
        del self.pending[event.session_id]
        if not answer.accepted:  # stopped before the engine took it: the engine is as it was
            if answer.replaces is None:
                self._forget_session(event.session_id)
                self.listener.answer_finished(event.session_id, answer, event.reason)
            self.listener.conversations_changed()
            return
        answer.text = answer.text or event.text
        if self.store.conversation(event.session_id) is not None:
            if answer.replaces is not None:
                self.store.set_aside_from(event.session_id, answer.replaces)  # an earlier version
            self.store.add_message(
                event.session_id,
                "assistant",
                answer.text,
                thinking=answer.thinking,
                tool_calls=answer.tool_calls,
                finish_reason=event.reason,
                stats=answer.stats,
            )
            self.submit(
                ev.SaveSession(
                    session_id=event.session_id,
                    path=str(self._cache_path(event.session_id)),
                )
            )
            self.titles.after_answer(event.session_id)  # the engine writes it when idle
        self.listener.answer_finished(event.session_id, answer, event.reason)
        self.listener.conversations_changed()

    def _cache_path(self, conversation_id: str, bits: int | None | str = "opened") -> Path:
        """Where the conversation's KV cache is saved: one file per KV precision (a cache reopens only
        into a session of its own precision; another precision replays the stored turns instead)."""
        if bits == "opened":
            bits = self._kv_bits.get(conversation_id)
        path = self.store.session_cache_path(conversation_id)
        return path if bits is None else path.with_name(f"{conversation_id}.kv{bits}{path.suffix}")

    def _on_error(self, event: ev.ErrorEvent) -> None:
        if self.titles.forget(event.request_id):
            log.info("No title was written: %s", event.message)  # the fallback title stays
            return
        if event.request_id == self._load_request and self.model_state == ModelState.LOADING:
            self.model_state = ModelState.FAILED
            self.listener.model_failed(event.message)
            return
        opening = self._opening.pop(event.request_id, None)
        if opening is not None:
            self.opened.discard(opening)  # the next send opens it again
        if event.detail:  # a traceback: for a bug report, never for the person
            log.warning("The engine failed: %s\n%s", event.message, event.detail)
        attachment = self._preparing.pop(event.request_id, None)
        if attachment is not None:
            self.listener.attachment_failed(
                attachment, f"Could not use {attachment.filename}. {as_sentence(event.message)}"
            )
            return
        answer = self._answer_for(event)
        if answer is not None:
            del self.pending[event.session_id]  # the engine took the whole command back
            if answer.replaces is None:
                self._forget_session(event.session_id)  # the stored message is not in the engine
            message = as_sentence(event.message)
            if answer.replaces is not None and not answer.accepted:  # no new answer is shown
                self.listener.engine_failed(f"Could not regenerate the answer. {message}")
            else:
                self.listener.answer_failed(event.session_id, message)
            return
        self.listener.engine_failed(as_sentence(event.message))
