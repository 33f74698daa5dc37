"""The chat logic between the widgets, the store and the engine bridge.

Rules it keeps:
- A conversation id is also the engine's session_id. A session is opened in the engine the first
  time this run uses it, and restored from its saved KV cache when one is on disk.
- A user message is written to the store before it appears in the chat view, and the composer is
  emptied only after that; the engine is asked for the answer last.
- An answer is saved when its turn finishes, also when it was stopped (the partial text is kept).
- Editing user message k rolls the engine session back to user turn k and deletes message k and
  everything after it from the store and the view before the new text is sent.
- Nothing here waits on the engine: every engine result arrives as a bridge signal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from app.bridge import EngineBridge
from app.settings import Key, Settings
from app.store import Attachment, Store
from app.ui.attachment_intake import MEDIA_KINDS, import_files, import_image, not_accepted
from app.ui.chat_view import ChatView
from app.ui.composer import Composer
from app.ui.message_widget import MessageWidget
from app.ui.sidebar import Sidebar
from app.ui.status_bar import StatusLine
from engine import protocol as ev


@dataclass
class PendingAnswer:
    request_id: int
    text: str = ""
    thinking: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    widget: MessageWidget | None = None


class ConversationController(QObject):
    conversation_changed = Signal(str)  # "" for a new, not yet stored conversation
    busy_changed = Signal(bool)

    def __init__(self, store: Store, bridge: EngineBridge, settings: Settings, chat_view: ChatView,
                 composer: Composer, sidebar: Sidebar, status: StatusLine,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store, self.bridge, self.settings = store, bridge, settings
        self.chat_view, self.composer, self.sidebar, self.status = chat_view, composer, sidebar, status
        self.current_id: str | None = None
        self.opened: set[str] = set()
        self.pending: dict[str, PendingAnswer] = {}
        self._preparing: dict[int, Attachment] = {}
        self._opening: dict[int, str] = {}  # OpenSession request_id -> conversation id
        self._search = ""
        self._had_model = False
        self.model_state = "none"  # "none", "loading", "ready" or "failed"
        self.media_kinds = MEDIA_KINDS  # what the loaded model takes; a text-only build takes neither
        self._load_request = 0

        composer.send_requested.connect(self.send)
        composer.stop_requested.connect(self.stop)
        composer.files_offered.connect(self.attach_files)
        composer.image_pasted.connect(self.attach_image)
        chat_view.edit_requested.connect(self.start_edit)
        chat_view.regenerate_requested.connect(self.regenerate)
        sidebar.conversation_selected.connect(self.open_conversation)
        sidebar.new_requested.connect(self.new_conversation)
        sidebar.rename_requested.connect(self.rename)
        sidebar.delete_requested.connect(self.delete)
        sidebar.search_changed.connect(self.search)
        bridge.model_loaded.connect(self._on_model_loaded)
        bridge.progress_reported.connect(self._on_progress)
        bridge.text_received.connect(self._on_text)
        bridge.tool_called.connect(self._on_tool_call)
        bridge.parse_failed.connect(self._on_parse_error)
        bridge.stats_reported.connect(self._on_stats)
        bridge.turn_finished.connect(self._on_turn_finished)
        bridge.context_warned.connect(lambda e: self.status.showMessage(e.message, 8000))
        bridge.error_raised.connect(self._on_error)
        self.refresh_sidebar()

    # ------------------------------------------------------------ conversations

    def refresh_sidebar(self) -> None:
        self.sidebar.set_conversations(self.store.conversations(self._search), self.current_id)

    def search(self, query: str) -> None:
        self._search = query
        self.refresh_sidebar()

    def new_conversation(self) -> None:
        self.composer.cancel_edit()
        self.current_id = None
        self.chat_view.clear()
        self.refresh_sidebar()
        self._sync_busy()
        self.composer.edit.setFocus()
        self.conversation_changed.emit("")

    def open_conversation(self, conversation_id: str) -> None:
        if self.store.conversation(conversation_id) is None:
            return
        self.composer.cancel_edit()
        self.current_id = conversation_id
        self.chat_view.clear()
        for p in self.pending.values():
            p.widget = None
        for message in self.store.messages(conversation_id):
            widget = MessageWidget(message.role, message.position)
            if message.role == "user":
                widget.set_user_content(message.content, message.attachments)
            else:
                widget.set_answer(message.content, message.thinking)
                for call in message.tool_calls:
                    widget.add_tool_call(call.get("name", ""), call.get("arguments", {}))
                widget.finish(message.finish_reason, _meta(message.stats))
            self.chat_view.add_message(widget)
        pending = self.pending.get(conversation_id)
        if pending is not None:  # still streaming: show what has come so far and keep going
            pending.widget = self._answer_widget()
            pending.widget.set_answer(pending.text, pending.thinking)
        self.settings.set_value(Key.LAST_CONVERSATION, conversation_id)
        self.refresh_sidebar()
        self._sync_busy()
        self.conversation_changed.emit(conversation_id)

    def rename(self, conversation_id: str, title: str) -> None:
        self.store.rename_conversation(conversation_id, title)
        self.refresh_sidebar()

    def delete(self, conversation_id: str) -> None:
        if conversation_id in self.pending:
            self.bridge.submit(ev.Cancel(session_id=conversation_id))
            self.pending.pop(conversation_id)
        if conversation_id in self.opened:
            self.bridge.submit(ev.CloseSession(session_id=conversation_id))
            self.opened.discard(conversation_id)
        self.store.delete_conversation(conversation_id)
        if conversation_id == self.current_id:
            self.new_conversation()
        else:
            self.refresh_sidebar()

    def ensure_conversation(self) -> str:
        """The open conversation's id, creating it (and its engine session) when needed."""
        return self._ensure_conversation()

    def _ensure_conversation(self) -> str:
        if self.current_id is None:
            self.current_id = self.store.create_conversation().id
            self.settings.set_value(Key.LAST_CONVERSATION, self.current_id)
            self.refresh_sidebar()
            self.conversation_changed.emit(self.current_id)
        if self.engine_accepts_sessions():
            self._ensure_session(self.current_id)
        return self.current_id

    def load_model(self, command: ev.LoadModel) -> None:
        """Submit `command`; sessions may be opened from now on (the engine runs commands in order)."""
        self.model_state = "loading"
        self._load_request = self.bridge.submit(command)

    def engine_accepts_sessions(self) -> bool:
        return self.model_state in ("loading", "ready")

    def _model_missing_message(self) -> str:
        if self.model_state == "failed":
            return "The model could not be loaded. Choose another in Settings or Model ▸ Manage Models."
        return "The model is not ready yet. Your message is still here; send it in a moment."

    def _ensure_session(self, conversation_id: str) -> None:
        if conversation_id in self.opened:
            return
        rid = self.bridge.submit(ev.OpenSession(
            session_id=conversation_id, system_prompt=self.settings.value(Key.SYSTEM_PROMPT),
            image_budget=self.settings.image_budget()))
        self._opening[rid] = conversation_id
        cache = self.store.session_cache_path(conversation_id)
        if cache.exists():
            self.bridge.submit(ev.LoadSession(session_id=conversation_id, path=str(cache)))
        else:
            history = history_messages(self.store.messages(conversation_id))
            if history:  # no saved cache: feed the stored turns so the model keeps the context
                self.bridge.submit(ev.LoadHistory(session_id=conversation_id, messages=history))
        self.opened.add(conversation_id)

    # ------------------------------------------------------------ attachments

    def attach_files(self, paths: list[str]) -> None:
        accepted, errors = import_files(self.store, paths, self.media_kinds)
        for attachment in accepted:
            self._add_attachment(attachment)
        if errors:
            self.composer.show_error("Could not attach: " + " ".join(errors))

    def attach_image(self, image: QImage) -> None:
        if "image" not in self.media_kinds:
            self.composer.show_error(not_accepted("image", "The pasted image"))
            return
        try:
            self._add_attachment(import_image(self.store, image))
        except ValueError as exc:
            self.composer.show_error(str(exc))

    def _add_attachment(self, attachment: Attachment) -> None:
        kind = attachment.kind
        self.composer.add_attachment(attachment)
        session_id = self._ensure_conversation()
        if not self.engine_accepts_sessions():
            return  # it is prepared with the message instead
        # Start the image's prefill work now, while the user is still writing.
        rid = self.bridge.submit(ev.PrepareMedia(session_id=session_id,
                                                 item={"type": kind, kind: str(attachment.path)}))
        self._preparing[rid] = attachment

    # ------------------------------------------------------------ turns

    def send(self, text: str) -> None:
        attachments = self.composer.attachments
        if not text and not attachments:
            return
        if not self.engine_accepts_sessions():
            self.composer.show_error(self._model_missing_message())
            return
        conv_id = self._ensure_conversation()
        if conv_id in self.pending:
            return  # one answer at a time per conversation
        edit_position = self.composer.editing_position
        if edit_position is not None:
            self._roll_back(conv_id, edit_position)
        self.add_user_message(conv_id, text, attachments)
        self.composer.clear()
        content: str | list[dict] = text
        if attachments:
            content = [{"type": a.kind, a.kind: str(a.path)} for a in attachments]
            if text:
                content.append({"type": "text", "text": text})
        rid = self.bridge.submit(ev.SendMessage(session_id=conv_id, content=content,
                                                settings=self.settings.generation_settings()))
        self.begin_answer(conv_id, rid)

    def add_user_message(self, conv_id: str, text: str, attachments=()) -> MessageWidget:
        """Store a user message (on disk when this returns), then show it."""
        message = self.store.add_message(conv_id, "user", text, attachments)
        widget = MessageWidget("user", message.position)
        widget.set_user_content(text, message.attachments)
        if conv_id == self.current_id:
            self.chat_view.add_message(widget)
        self.refresh_sidebar()
        return widget

    def stop(self) -> None:
        if self.current_id in self.pending:
            self.bridge.submit(ev.Cancel(session_id=self.current_id))

    def stop_all(self) -> None:
        """Stop every answer and store what has arrived so far (the window is closing)."""
        for session_id, p in list(self.pending.items()):
            self.bridge.submit(ev.Cancel(session_id=session_id))
            self._on_turn_finished(ev.TurnFinished(session_id=session_id, request_id=p.request_id,
                                                   reason="cancelled", text=p.text))

    def regenerate(self) -> None:
        last = self.chat_view.last()
        conv_id = self.current_id
        if conv_id is None or conv_id in self.pending or last is None or last.role != "assistant":
            return
        if not self.engine_accepts_sessions():
            self.status.showMessage(self._model_missing_message(), 8000)
            return
        self._ensure_session(conv_id)
        self.store.delete_messages_from(conv_id, last.position)
        self.chat_view.remove_from(last.position)
        rid = self.bridge.submit(ev.Regenerate(session_id=conv_id,
                                               settings=self.settings.generation_settings()))
        self.begin_answer(conv_id, rid)

    def start_edit(self, position: int) -> None:
        if self.current_id is None or self.current_id in self.pending:
            return
        message = next((m for m in self.store.messages(self.current_id) if m.position == position), None)
        if message is None or message.role != "user":
            return
        self.composer.clear()
        self.composer.start_edit(position, message.content)
        for attachment in message.attachments:
            self.composer.add_attachment(attachment)

    def _roll_back(self, conv_id: str, position: int) -> None:
        messages = self.store.messages(conv_id)
        turn = sum(1 for m in messages if m.role == "user" and m.position < position)
        self.bridge.submit(ev.Rollback(session_id=conv_id, turn=turn))
        self.store.delete_messages_from(conv_id, position)
        self.chat_view.remove_from(position)

    def begin_answer(self, conv_id: str, request_id: int) -> None:
        """Stream the events of `request_id` into a new answer of `conv_id`, saved when it finishes."""
        pending = PendingAnswer(request_id)
        if conv_id == self.current_id:
            pending.widget = self._answer_widget()
        self.pending[conv_id] = pending
        self._sync_busy()

    def _answer_widget(self) -> MessageWidget:
        last = self.chat_view.last()
        return self.chat_view.add_message(
            MessageWidget("assistant", last.position + 1 if last else 0))

    def _sync_busy(self) -> None:
        busy = self.current_id in self.pending
        self.composer.set_generating(busy)
        self.chat_view.set_busy(busy)
        self.busy_changed.emit(busy)

    # ------------------------------------------------------------ engine events

    def _pending(self, event: ev.Event) -> PendingAnswer | None:
        p = self.pending.get(event.session_id)
        return p if p is not None and p.request_id == event.request_id else None

    def _on_text(self, e: ev.TextDelta) -> None:
        p = self._pending(e)
        if p is None:
            return
        if e.channel == "thinking":
            p.thinking += e.text
        else:
            p.text += e.text
        if p.widget is not None:
            p.widget.append_text(e.text, e.channel)

    def _on_tool_call(self, e: ev.ToolCallEvent) -> None:
        p = self._pending(e)
        if p is not None:
            p.tool_calls.append({"name": e.name, "arguments": e.arguments})
            if p.widget is not None:
                p.widget.add_tool_call(e.name, e.arguments)

    def _on_parse_error(self, e: ev.ParseErrorEvent) -> None:
        p = self._pending(e)
        if p is not None and p.widget is not None:
            p.widget.add_parse_error(e.raw, e.message)

    def _on_stats(self, e: ev.TurnStats) -> None:
        p = self._pending(e)
        if p is not None:
            p.stats = asdict(e)
        self.status.show_stats(e, self.settings.value(Key.USE_DRAFTER))

    def _on_turn_finished(self, e: ev.TurnFinished) -> None:
        p = self._pending(e)
        if p is None:
            return
        del self.pending[e.session_id]
        text = p.text or e.text
        if self.store.conversation(e.session_id) is not None:
            self.store.add_message(e.session_id, "assistant", text, thinking=p.thinking,
                                   tool_calls=p.tool_calls, finish_reason=e.reason, stats=p.stats)
            self.bridge.submit(ev.SaveSession(session_id=e.session_id,
                                              path=str(self.store.session_cache_path(e.session_id))))
        if p.widget is not None:
            p.widget.set_answer(text, p.thinking)
            p.widget.finish(e.reason, _meta(p.stats))
        if e.session_id == self.current_id:
            self._sync_busy()
        self.refresh_sidebar()

    def _on_error(self, e: ev.ErrorEvent) -> None:
        if e.request_id == self._load_request and self.model_state == "loading":
            self.model_state = "failed"
            self.status.set_loading(f"Could not load the model: {e.message}")
            return
        failed_open = self._opening.pop(e.request_id, None)
        if failed_open is not None:
            self.opened.discard(failed_open)  # the next send opens it again
        attachment = self._preparing.pop(e.request_id, None)
        if attachment is not None:
            self.composer.remove_attachment(attachment)
            self.composer.show_error(f"Could not use {attachment.filename}: {e.message}. {e.detail}".strip())
            return
        p = self._pending(e)
        if p is not None:
            del self.pending[e.session_id]
            if p.widget is not None:
                p.widget.show_error(f"{e.message}. {e.detail}".strip(" ."))
                p.widget.finish("error")
            if e.session_id == self.current_id:
                self._sync_busy()
            return
        self.status.showMessage(f"{e.message} {e.detail}".strip(), 10000)

    def _on_progress(self, e: ev.Progress) -> None:
        attachment = self._preparing.get(e.request_id)
        if attachment is not None and e.done >= e.total:
            self._preparing.pop(e.request_id)
            chip = self.composer.chip_for(attachment.path)
            if chip is not None:
                chip.set_ready()
        self.status.show_progress(e)

    def _on_model_loaded(self, e: ev.ModelLoaded) -> None:
        if self._had_model:
            self.opened.clear()  # a replaced model starts with no sessions
        self._had_model = True
        self.model_state = "ready"
        self.media_kinds = frozenset(
            kind for kind, ok in (("image", e.has_vision), ("audio", e.has_audio)) if ok)
        self.status.show_model(e)


def _meta(stats: dict) -> str:
    tps = stats.get("decode_tokens_per_second") if stats else None
    return f"{stats.get('generated_tokens', 0)} tokens · {tps:.1f} tok/s" if tps else ""


def history_messages(messages) -> list[dict]:
    """Stored messages as the engine's chat messages (finished answers only; media by path)."""
    out: list[dict] = []
    for m in messages:
        if m.role == "user":
            content: str | list[dict] = m.content
            if m.attachments:
                content = [{"type": a.kind, a.kind: str(a.path)} for a in m.attachments]
                if m.content:
                    content.append({"type": "text", "text": m.content})
            out.append({"role": "user", "content": content})
        elif m.role == "assistant" and out and out[-1]["role"] == "user":
            out.append({"role": "assistant", "content": m.content})
    while out and out[-1]["role"] != "assistant":
        out.pop()  # an unanswered message is sent again by the person, not replayed
    return out
