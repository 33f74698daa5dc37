"""The composer's text field: Enter sends, Shift+Enter breaks the line, pasted or dropped media is
handed to the composer instead of being inserted as text. It grows with its text up to a limit."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget

MAX_VISIBLE_LINES = 10
PLACEHOLDER = "Message Tandem…   (Shift+Return for a new line)"
SHORT_PLACEHOLDER = "Message Tandem…"  # when the long one does not fit on one line


class PromptEdit(QPlainTextEdit):
    submitted = Signal()
    media_received = Signal(QMimeData)  # a paste or drop that carries files or image data

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PromptEdit")
        self.setPlaceholderText(PLACEHOLDER)
        self.setToolTip("Return sends; Shift+Return starts a new line")
        self.setTabChangesFocus(True)
        self.document().setDocumentMargin(6)
        self.textChanged.connect(self._fit_height)
        self._fit_height()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            return
        super().keyPressEvent(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return source.hasImage() or source.hasUrls() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        if source.hasImage() or any(u.isLocalFile() for u in source.urls()):
            self.media_received.emit(source)
            return
        self.insertPlainText(source.text())  # rich text from a web page arrives as plain text

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        room = self.viewport().width() - 2 * int(self.document().documentMargin()) - 4
        fits = self.fontMetrics().horizontalAdvance(PLACEHOLDER) <= room
        text = PLACEHOLDER if fits else SHORT_PLACEHOLDER
        if self.placeholderText() != text:
            self.setPlaceholderText(text)

    def _fit_height(self) -> None:
        line = self.fontMetrics().lineSpacing()
        lines = max(1, min(MAX_VISIBLE_LINES, int(self.document().size().height())))
        self.setFixedHeight(lines * line + 2 * int(self.document().documentMargin()) + 6)
