"""One message in the chat view.

A user message is a bubble on the right with its attachments and an Edit action. An assistant
message is full width: collapsed thinking, the answer as Markdown, tool-call cards, a line of
stats, and Copy/Regenerate actions. While an answer streams, deltas are appended and the Markdown
is re-rendered at most every `RENDER_INTERVAL_MS`, so fast token rates do not starve the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPalette, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.store import Attachment, VariantPlace
from app.ui.chat.tool_call_card import ToolCallCard
from app.ui.chat.variant_switcher import VariantSwitcher
from app.ui.widgets.icons import icon
from app.ui.widgets.markdown import plain_to_html
from app.ui.widgets.markdown_view import MarkdownView
from app.ui.widgets.thinking_section import ThinkingSection

RENDER_INTERVAL_MS = 40  # about 25 re-renders a second while streaming
THUMBNAIL_PX = 160
BUBBLE_TEXT_WIDTH = 440


class MessageWidget(QWidget):
    edit_requested = Signal(int)  # position of this user message
    regenerate_requested = Signal()
    variant_requested = Signal(int, int)  # this message's position, the version asked for

    def __init__(self, role: str, position: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.position = position
        self._answer = ""
        self._thinking = ""
        self.tool_calls: list[dict[str, Any]] = []
        self.finish_reason = ""
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 6, 0, 6)
        outer.setSpacing(4)
        self.actions = QWidget()
        self.actions.setObjectName("MessageActions")
        actions = QHBoxLayout(self.actions)
        actions.setContentsMargins(0, 0, 0, 0)
        actions.setSpacing(2)
        self.variants = VariantSwitcher()
        self.variants.chosen.connect(lambda index: self.variant_requested.emit(self.position, index))
        if role == "user":
            self._build_user(outer, actions)
        else:
            self._build_assistant(outer, actions)

    # ------------------------------------------------------------ user

    def _build_user(self, outer: QVBoxLayout, actions: QHBoxLayout) -> None:
        self.attachment_row = QHBoxLayout()
        self.attachment_row.addStretch(1)
        outer.addLayout(self.attachment_row)
        row = QHBoxLayout()
        row.addStretch(1)
        self.bubble = QFrame()
        self.bubble.setObjectName("UserBubble")
        self.bubble.setMaximumWidth(BUBBLE_TEXT_WIDTH + 28)
        inner = QVBoxLayout(self.bubble)
        inner.setContentsMargins(14, 9, 14, 9)
        self.text_label = QLabel()
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.RichText)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        inner.addWidget(self.text_label)
        row.addWidget(self.bubble)
        outer.addLayout(row)
        actions.addStretch(1)
        actions.addWidget(self.variants)
        self.edit_button = QPushButton("Edit")
        self.edit_button.setToolTip("Edit this message and answer again from here")
        self.edit_button.clicked.connect(lambda: self.edit_requested.emit(self.position))
        actions.addWidget(self.edit_button)
        outer.addWidget(self.actions)
        self.text = ""

    def set_user_content(self, text: str, attachments: tuple[Attachment, ...] = ()) -> None:
        self.text = text
        self.attachments = attachments
        self.text_label.setText(plain_to_html(text))
        # A word-wrapped label shrinks to its minimum; give short messages their natural width.
        longest = max((self.text_label.fontMetrics().horizontalAdvance(line)
                       for line in text.splitlines()), default=0)
        self.text_label.setMinimumWidth(min(longest + 2, BUBBLE_TEXT_WIDTH))
        self.bubble.setVisible(bool(text))
        for att in attachments:
            self.attachment_row.addWidget(_attachment_preview(att))

    # ------------------------------------------------------------ assistant

    def _build_assistant(self, outer: QVBoxLayout, actions: QHBoxLayout) -> None:
        self.thinking_section = ThinkingSection()
        outer.addWidget(self.thinking_section)
        self.markdown_view = MarkdownView()
        outer.addWidget(self.markdown_view)
        self.cards = QVBoxLayout()
        self.cards.setSpacing(6)
        outer.addLayout(self.cards)
        self.error_label = QLabel()
        self.error_label.setObjectName("ErrorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        outer.addWidget(self.error_label)
        self.meta_label = QLabel()
        self.meta_label.setObjectName("MessageMeta")
        actions.addWidget(self.variants)
        actions.addWidget(self.meta_label)
        actions.addStretch(1)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self._answer))
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("Drop this answer and generate it again")
        self.regenerate_button.clicked.connect(self.regenerate_requested)
        self.regenerate_button.setVisible(False)
        actions.addWidget(self.copy_button)
        actions.addWidget(self.regenerate_button)
        outer.addWidget(self.actions)
        self.actions.setVisible(False)

    @property
    def answer(self) -> str:
        return self._answer

    @property
    def thinking(self) -> str:
        return self._thinking

    def append_text(self, text: str, channel: str = "answer") -> None:
        if channel == "thinking":
            self._thinking += text
        else:
            self._answer += text
        if not self._render_timer.isActive():
            self._render_timer.start()

    def set_answer(self, answer: str, thinking: str = "") -> None:
        self._answer, self._thinking = answer, thinking
        self._render()

    def add_tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        self.tool_calls.append({"name": name, "arguments": arguments})
        self.cards.addWidget(ToolCallCard(name, arguments, self))

    def add_parse_error(self, raw: str, message: str) -> None:
        self.cards.addWidget(ToolCallCard("", {}, self, error=f"{message}\n\n{raw}"))

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(True)

    def finish(self, reason: str, meta: str = "") -> None:
        """The answer is complete (or was stopped); show its final text and actions."""
        self.finish_reason = reason
        self._render()
        notes = {"cancelled": "Stopped", "length": "Reached the token limit", "error": "Failed"}
        self.meta_label.setText("  ·  ".join(p for p in (notes.get(reason, ""), meta) if p))
        self.actions.setVisible(True)

    def set_variant(self, place: VariantPlace | None, enabled: bool = True) -> None:
        """Show "< i/n >" when this message has other versions; `enabled` False while an
        answer is being written."""
        self.variants.set_place(place)
        self.variants.setEnabled(enabled)

    def set_regenerate_visible(self, visible: bool) -> None:
        self.regenerate_button.setVisible(visible)

    def flush(self) -> None:
        """Render pending deltas now (tests, and before the answer is saved)."""
        if self._render_timer.isActive():
            self._render_timer.stop()
        self._render()

    def _render(self) -> None:
        # Thinking is still running while thoughts have come but no answer yet.
        streaming = not self.finish_reason and not self._answer
        self.thinking_section.set_text(self._thinking, streaming=streaming)
        self.markdown_view.set_markdown(self._answer)


def _attachment_preview(att: Attachment) -> QWidget:
    label = QLabel()
    label.setObjectName("AttachmentPreview")
    label.setToolTip(att.filename)
    pixmap = QPixmap(str(att.path)) if att.kind == "image" else QPixmap()
    if not pixmap.isNull():
        label.setPixmap(pixmap.scaled(THUMBNAIL_PX, THUMBNAIL_PX, Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation))
    else:
        # Audio, or an image whose file is gone: a chip with its name says what was sent.
        chip = QWidget()
        chip.setObjectName("AttachmentChip")
        row = QHBoxLayout(chip)
        row.setContentsMargins(8, 4, 10, 4)
        glyph = QLabel()
        glyph.setPixmap(icon("audio", chip.palette().color(QPalette.ColorRole.WindowText))
                        .pixmap(QSize(20, 20)))
        row.addWidget(glyph)
        row.addWidget(QLabel(att.filename + ("" if Path(att.path).exists() else " (missing)")))
        chip.setToolTip(att.filename)
        return chip
    return label
