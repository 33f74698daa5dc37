"""The scrolling column of messages of the open conversation.

It only displays: the conversation logic lives in `ConversationController`. It keeps the view
pinned to the bottom while an answer streams, unless the reader has scrolled up to read.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from app.ui.chat.message_widget import MessageWidget

MAX_COLUMN_WIDTH = 820  # readable line length, like the peers' centred chat column


class ChatView(QScrollArea):
    message_shown = Signal(object)  # the MessageWidget just added
    edit_requested = Signal(int)  # position of a user message
    regenerate_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChatScroll")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        container = QWidget()
        container.setObjectName("ChatContainer")
        outer = QVBoxLayout(container)
        outer.setContentsMargins(24, 16, 24, 16)
        self.column = QWidget()
        self.column.setMaximumWidth(MAX_COLUMN_WIDTH)
        self._layout = QVBoxLayout(self.column)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(10)
        self._layout.addStretch(1)
        outer.addWidget(self.column, 0, Qt.AlignmentFlag.AlignHCenter)
        self.setWidget(container)
        # Centred over the viewport rather than in the column, which is only as tall as its messages.
        self.empty_state = QLabel(
            "Ask anything, drop an image or an audio file here,\nor press the microphone and talk.",
            self.viewport())
        self.empty_state.setObjectName("EmptyState")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.empty_state.raise_()
        self._messages: list[MessageWidget] = []
        self._stick_to_bottom = True
        self.verticalScrollBar().rangeChanged.connect(self._follow)
        self.verticalScrollBar().valueChanged.connect(self._note_scroll)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.column.setFixedWidth(min(MAX_COLUMN_WIDTH, max(200, self.viewport().width() - 48)))
        self.empty_state.setGeometry(self.viewport().rect())

    @property
    def messages(self) -> list[MessageWidget]:
        return list(self._messages)

    def clear(self) -> None:
        for widget in self._messages:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        self._messages.clear()
        self.empty_state.setVisible(True)

    def add_message(self, widget: MessageWidget) -> MessageWidget:
        self.empty_state.setVisible(False)
        self._layout.insertWidget(self._layout.count() - 1, widget)
        self._messages.append(widget)
        widget.edit_requested.connect(self.edit_requested)
        widget.regenerate_requested.connect(self.regenerate_requested)
        self._stick_to_bottom = True
        self._update_regenerate()
        self.message_shown.emit(widget)
        return widget

    def remove_from(self, position: int) -> None:
        """Remove the message at `position` and all later ones."""
        keep = [m for m in self._messages if m.position < position]
        for widget in self._messages[len(keep):]:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        self._messages = keep
        self.empty_state.setVisible(not keep)
        self._update_regenerate()

    def last(self) -> MessageWidget | None:
        return self._messages[-1] if self._messages else None

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_regenerate()

    def _update_regenerate(self) -> None:
        busy = getattr(self, "_busy", False)
        for widget in self._messages:
            if widget.role == "assistant":
                widget.set_regenerate_visible(widget is self._messages[-1] and not busy)

    def _follow(self, _min: int, maximum: int) -> None:
        if self._stick_to_bottom:
            # After the layout settles; the view is the timer's context, so no call after it dies.
            QTimer.singleShot(0, self, lambda: self.verticalScrollBar().setValue(
                self.verticalScrollBar().maximum()))

    def _note_scroll(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._stick_to_bottom = value >= bar.maximum() - 24
