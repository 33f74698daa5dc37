"""The chat's Qt wiring: widgets and engine events in, the chat core's news out to the widgets.

The rules live in `app.chat.ChatCore` (no Qt); this controller owns one, feeds it every engine
event from the bridge, passes the widgets' requests to it, and shows what it reports (it is the
core's `ChatListener`): messages in the chat view, the answer being written, the conversation
list, errors in the composer or the status line. The answer being written in the open
conversation has a `MessageWidget`; switching conversations drops it, reopening makes a new one
from what has arrived so far. The window decides what a click in the sidebar opens (a chat here, an
agent run in the agent view) and which row is highlighted (`sidebar_selection`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from app.chat import ChatCore, ModelState, PendingAnswer, TurnRefused
from app.store import Attachment, Message, Store
from app.ui.chat.attachment_intake import import_files, import_image, not_accepted
from app.ui.chat.composer import Composer
from app.ui.chat.export_dialog import export_with_dialog
from app.ui.chat.message_widget import MessageWidget
from app.ui.chat.sidebar import Sidebar
from app.ui.chat.view import ChatView
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings
from app.ui.status_bar import StatusLine
from engine import protocol as ev


def answer_meta(stats: dict) -> str:
    """The line under a finished answer: its length and speed."""
    tps = stats.get("decode_tokens_per_second") if stats else None
    return f"{stats.get('generated_tokens', 0)} tokens · {tps:.1f} tok/s" if tps else ""


class ConversationController(QObject):
    conversation_changed = Signal(str)  # "" for a new, not yet stored conversation
    busy_changed = Signal(bool)
    model_load_failed = Signal(str)  # what the engine said; the window says why and what to do

    def __init__(
        self,
        store: Store,
        bridge: EngineBridge,
        settings: Settings,
        chat_view: ChatView,
        composer: Composer,
        sidebar: Sidebar,
        status: StatusLine,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store, self.bridge, self.settings = store, bridge, settings
        self.chat_view, self.composer, self.sidebar, self.status = (
            chat_view,
            composer,
            sidebar,
            status,
        )
        self.core = ChatCore(store, bridge.submit, settings, self)
        self._answer_widgets: dict[str, MessageWidget] = {}  # shown answers being written
        self._search = ""
        self.sidebar_selection = lambda: self.core.current_id  # the window points it elsewhere

        composer.send_requested.connect(self.send)
        composer.stop_requested.connect(self.stop)
        composer.files_offered.connect(self.attach_files)
        composer.image_pasted.connect(self.attach_image)
        composer.attachment_removed.connect(self._attachment_removed)
        chat_view.edit_requested.connect(self.start_edit)
        chat_view.regenerate_requested.connect(self.regenerate)
        chat_view.variant_requested.connect(self.switch_variant)
        sidebar.new_requested.connect(self.new_conversation)
        sidebar.rename_requested.connect(self.rename)
        sidebar.delete_requested.connect(self.delete)
        sidebar.export_requested.connect(self.export)
        sidebar.search_changed.connect(self.search)
        bridge.event_received.connect(self.core.handle)  # before the typed signals below
        bridge.model_loaded.connect(status.show_model)
        bridge.progress_reported.connect(status.show_progress)
        bridge.stats_reported.connect(
            lambda e: status.show_stats(e, settings.value(Key.USE_DRAFTER))
        )
        bridge.context_warned.connect(lambda e: status.showMessage(e.message, 8000))
        self.refresh_sidebar()

    # The core's state, read by the window and the voice controller.
    @property
    def current_id(self) -> str | None:
        return self.core.current_id

    @property
    def pending(self) -> dict[str, PendingAnswer]:
        return self.core.pending

    @property
    def model_state(self) -> ModelState:
        return self.core.model_state

    # ------------------------------------------------------------ requests from the widgets

    def refresh_sidebar(self) -> None:
        listed = self.core.conversations(self._search)
        self.sidebar.set_conversations(listed, self.sidebar_selection())

    def search(self, query: str) -> None:
        self._search = query
        self.refresh_sidebar()

    def new_conversation(self) -> None:
        self.composer.cancel_edit()
        self.core.discard_if_empty(self.core.current_id)
        self.core.new_conversation()
        self._clear_view()
        self.refresh_sidebar()
        self._sync_busy()
        self.composer.edit.setFocus()
        self.conversation_changed.emit("")

    def open_conversation(self, conversation_id: str) -> None:
        if conversation_id != self.core.current_id:
            self.core.discard_if_empty(self.core.current_id)
        messages = self.core.open_conversation(conversation_id)
        if messages is None:
            return
        self.composer.cancel_edit()
        self._clear_view()
        for message in messages:
            self.chat_view.add_message(_message_widget(message))
        pending = self.core.pending.get(conversation_id)
        if pending is not None:  # still streaming: show what has come so far and keep going
            self._add_answer_widget(conversation_id).set_answer(pending.text, pending.thinking)
        self.settings.set_value(Key.LAST_CONVERSATION, conversation_id)
        self.refresh_sidebar()
        self._sync_busy()
        self._show_variants()
        self.conversation_changed.emit(conversation_id)

    def rename(self, conversation_id: str, title: str) -> None:
        self.core.rename(conversation_id, title)
        self.refresh_sidebar()

    def delete(self, conversation_id: str) -> None:
        was_open = conversation_id == self.core.current_id
        self.core.delete(conversation_id)
        if was_open:
            self.new_conversation()
        else:
            self.refresh_sidebar()

    def export(self, conversation_id: str | None = None) -> None:
        """Ask where, then write the conversation (the open one by default) as Markdown."""
        conversation_id = conversation_id or self.core.current_id
        if conversation_id is None or conversation_id in self.store.empty_chats():
            self.status.showMessage("Open a conversation to export it.", 6000)
            return
        export_with_dialog(self.store, conversation_id, self.chat_view.window())

    def load_model(self, command: ev.LoadModel) -> None:
        self.core.load_model(command)

    def attach_files(self, paths: list[str]) -> None:
        accepted, errors = import_files(self.store, paths, self.core.media_kinds)
        for attachment in accepted:
            self._add_attachment(attachment)
        if errors:
            self.composer.show_error("Could not attach: " + " ".join(errors))

    def attach_image(self, image: QImage) -> None:
        if "image" not in self.core.media_kinds:
            self.composer.show_error(not_accepted("image", "The pasted image"))
            return
        try:
            self._add_attachment(import_image(self.store, image))
        except ValueError as exc:
            self.composer.show_error(str(exc))

    def _attachment_removed(self, _attachment: Attachment) -> None:
        """The last chip of a conversation not yet started went: so does the conversation."""
        if not self.composer.attachments and self.core.discard_if_empty(self.core.current_id):
            self.refresh_sidebar()

    def _add_attachment(self, attachment: Attachment) -> None:
        self.composer.add_attachment(attachment)
        self.core.prepare_attachment(attachment)

    def send(self, text: str) -> None:
        """Send the composer's message; it is emptied once the message is stored and sent."""
        try:
            sent = self.core.send(text, self.composer.attachments, self.composer.editing_position)
        except TurnRefused as exc:
            self.composer.show_error(str(exc))
            return
        if sent:
            self.composer.clear()

    def stop(self) -> None:
        self.core.stop()

    def stop_all(self) -> None:
        """Stop every answer and store what has arrived so far (the window is closing)."""
        self.core.stop_all()

    def regenerate(self) -> None:
        last = self.chat_view.last()
        if last is None or last.role != "assistant":
            return
        try:
            self.core.regenerate(last.position)
        except TurnRefused as exc:
            self.status.showMessage(str(exc), 8000)

    def switch_variant(self, position: int, index: int) -> None:
        """Show version `index` of the tail at `position` (the store and the engine follow)."""
        self.composer.cancel_edit()
        messages = self.core.switch_variant(position, index)
        if messages is None:
            return
        self.chat_view.remove_from(position)
        for message in messages:
            if message.position >= position:
                self.chat_view.add_message(_message_widget(message))
        self._sync_busy()
        self._show_variants()

    def _show_variants(self) -> None:
        self.chat_view.set_variants(self.core.variant_places())

    def start_edit(self, position: int) -> None:
        message = self.core.user_message(position)
        if message is None:
            return
        self.composer.clear()
        self.composer.start_edit(position, message.content)
        for attachment in message.attachments:
            self.composer.add_attachment(attachment)

    def _clear_view(self) -> None:
        self.chat_view.clear()
        self._answer_widgets.clear()

    def _add_answer_widget(self, conversation_id: str) -> MessageWidget:
        last = self.chat_view.last()
        widget = MessageWidget("assistant", last.position + 1 if last else 0)
        self._answer_widgets[conversation_id] = self.chat_view.add_message(widget)
        return widget

    def _sync_busy(self) -> None:
        busy = self.core.answering
        self.composer.set_generating(busy)
        self.chat_view.set_busy(busy)
        self.busy_changed.emit(busy)

    # ------------------------------------------------------------ ChatListener: news from the core

    def conversation_created(self, conversation_id: str) -> None:
        self.settings.set_value(Key.LAST_CONVERSATION, conversation_id)
        self.refresh_sidebar()
        self.conversation_changed.emit(conversation_id)

    def conversations_changed(self) -> None:
        self.refresh_sidebar()

    def messages_removed(self, conversation_id: str, position: int) -> None:
        if conversation_id == self.core.current_id:
            self.chat_view.remove_from(position)

    def user_message_added(self, conversation_id: str, message: Message) -> None:
        if conversation_id == self.core.current_id:
            self.chat_view.add_message(_message_widget(message))
            self._show_variants()

    def answer_started(self, conversation_id: str) -> None:
        if conversation_id == self.core.current_id:
            self._add_answer_widget(conversation_id)
            self._show_variants()
        self._sync_busy()

    def answer_streamed(self, conversation_id: str, text: str, channel: str) -> None:
        widget = self._answer_widgets.get(conversation_id)
        if widget is not None:
            widget.append_text(text, channel)

    def tool_call_received(self, conversation_id: str, name: str, arguments: dict) -> None:
        widget = self._answer_widgets.get(conversation_id)
        if widget is not None:
            widget.add_tool_call(name, arguments)

    def parse_error_received(self, conversation_id: str, raw: str, message: str) -> None:
        widget = self._answer_widgets.get(conversation_id)
        if widget is not None:
            widget.add_parse_error(raw, message)

    def answer_finished(self, conversation_id: str, answer: PendingAnswer, reason: str) -> None:
        widget = self._answer_widgets.pop(conversation_id, None)
        if widget is not None:
            widget.set_answer(answer.text, answer.thinking)
            widget.finish(reason, answer_meta(answer.stats))
        if conversation_id == self.core.current_id:
            self._sync_busy()

    def answer_failed(self, conversation_id: str, message: str) -> None:
        widget = self._answer_widgets.pop(conversation_id, None)
        if widget is not None:
            widget.show_error(message)
            widget.finish("error")
        if conversation_id == self.core.current_id:
            self._sync_busy()

    def attachment_ready(self, attachment: Attachment) -> None:
        chip = self.composer.chip_for(attachment.path)
        if chip is not None:
            chip.set_ready()

    def attachment_failed(self, attachment: Attachment, message: str) -> None:
        self.composer.remove_attachment(attachment)
        self.composer.show_error(message)

    def model_failed(self, message: str) -> None:
        self.model_load_failed.emit(message)

    def engine_failed(self, message: str) -> None:
        self.status.showMessage(message, 10000)


def _message_widget(message: Message) -> MessageWidget:
    """A stored message as it is shown."""
    widget = MessageWidget(message.role, message.position)
    if message.role == "user":
        widget.set_user_content(message.content, message.attachments)
    else:
        widget.set_answer(message.content, message.thinking)
        for call in message.tool_calls:
            if "unparsed" in call:  # a call that could not be read, kept with its message
                widget.add_parse_error(call["unparsed"], call.get("error", ""))
            else:
                widget.add_tool_call(call.get("name", ""), call.get("arguments", {}))
        widget.finish(message.finish_reason, answer_meta(message.stats))
    return widget
