"""The scrolling column of messages of the open conversation.

It only displays: the conversation logic lives in `ConversationController`. It keeps the view
pinned to the bottom while an answer streams, unless the reader has scrolled up to read.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.ui.chat.message_widget import MessageWidget

MAX_COLUMN_WIDTH = 820  # readable line length, like the peers' centred chat column

EMPTY_TEXT = "Ask anything, drop an image or an audio file here,\nor press the microphone and talk."
DEMO_TEXT = (
    "This is the demo model: a small model with random weights, made so that you can try the "
    "window. Its answers are noise.\n\nTo talk with Gemma 4 12B, get the model: it downloads once "
    "and runs on this Mac."
)


class ChatView(QScrollArea):
    message_shown = Signal(object)  # the MessageWidget just added
    edit_requested = Signal(int)  # position of a user message
    regenerate_requested = Signal()
    variant_requested = Signal(int, int)  # position, version: "< i/n >" under a message
    get_model_requested = Signal()  # "Get the Model" on the demo model's empty view
    column_placed = Signal(int, int)  # the message column's left edge and width, in this widget

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
        self.empty_state = QWidget(self.viewport())
        self.empty_text = QLabel(EMPTY_TEXT)
        self.empty_text.setObjectName("EmptyState")
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_text.setWordWrap(True)
        self.get_model_button = QPushButton("Get the Model…")
        self.get_model_button.setObjectName("GetModelButton")
        self.get_model_button.clicked.connect(self.get_model_requested)
        self.get_model_button.setVisible(False)
        empty_layout = QVBoxLayout(self.empty_state)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_text, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addWidget(self.get_model_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(1)
        self.empty_state.raise_()
        self._messages: list[MessageWidget] = []
        self._places: dict = {}
        self._stick_to_bottom = True
        self.verticalScrollBar().rangeChanged.connect(self._follow)
        self.verticalScrollBar().valueChanged.connect(self._note_scroll)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        width = min(MAX_COLUMN_WIDTH, max(200, self.viewport().width() - 48))
        self.column.setFixedWidth(width)
        # The container centres the column in the viewport (which narrows when the bar shows).
        self.column_placed.emit(self.viewport().x() + (self.viewport().width() - width) // 2, width)
        self.empty_state.setGeometry(self.viewport().rect())
        self._fit_empty_text()

    def _fit_empty_text(self) -> None:
        # A wrapped label in a layout gets too little height unless its width is settled first.
        width = max(160, min(460, self.viewport().width() - 48))
        self.empty_text.setFixedWidth(width)
        self.empty_text.setFixedHeight(self.empty_text.heightForWidth(width))

    def set_demo_model(self, demo: bool) -> None:
        """On the demo model the empty view says what it is and offers the real one."""
        self.empty_text.setText(DEMO_TEXT if demo else EMPTY_TEXT)
        self.get_model_button.setVisible(demo)
        self._fit_empty_text()

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
        widget.variant_requested.connect(self.variant_requested)
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
        self.set_variants(self._places)

    def set_variants(self, places: dict) -> None:
        """Each message's other versions (position -> VariantPlace); switching waits while busy."""
        self._places = places
        busy = getattr(self, "_busy", False)
        for widget in self._messages:
            widget.set_variant(places.get(widget.position), enabled=not busy)

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
