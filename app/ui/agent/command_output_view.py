"""A command's output as it streams in: a small terminal-like pane that follows the end.

`append(chunk)` adds text exactly as it arrived (chunks may split lines). The pane grows with its
text up to `MAX_HEIGHT_PX` and then scrolls, staying pinned to the last line unless the reader
scrolled up. At most `MAX_BLOCKS` lines are kept on screen; the full (capped) output goes to the
model through the run, not through this widget.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QWidget

MAX_HEIGHT_PX = 220
MAX_BLOCKS = 5_000


class CommandOutputView(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CommandOutput")
        self.setReadOnly(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMaximumBlockCount(MAX_BLOCKS)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        font = QFont(["SF Mono", "Menlo", "DejaVu Sans Mono", "monospace"])
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(max(9.0, self.font().pointSizeF() - 1))
        self.setFont(font)
        self.document().setDocumentMargin(8)
        self._chars = 0
        self._held_newline = False  # a final newline waits for more text: no empty last line
        self.setFixedHeight(self._height_for(1))

    @property
    def text(self) -> str:
        return self.toPlainText() + ("\n" if self._held_newline else "")

    @property
    def chars_received(self) -> int:
        return self._chars

    def append(self, chunk: str) -> None:
        """Add a chunk at the end, as it arrived (not as a new paragraph)."""
        if not chunk:
            return
        self._chars += len(chunk)
        bar = self.verticalScrollBar()
        following = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        text = ("\n" if self._held_newline else "") + chunk
        self._held_newline = text.endswith("\n")
        cursor.insertText(text[:-1] if self._held_newline else text)
        self.setFixedHeight(self._height_for(self.document().blockCount()))
        if following:
            bar.setValue(bar.maximum())

    def _height_for(self, lines: int) -> int:
        line = self.fontMetrics().lineSpacing()
        margin = 2 * int(self.document().documentMargin()) + 4
        return min(MAX_HEIGHT_PX, max(1, lines) * line + margin)
