"""A highlighted code block with its language and a Copy button that puts the raw code on the clipboard."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class CodeBlock(QFrame):
    code_copied = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CodeBlock")
        self._code = ""
        self.language_label = QLabel()
        self.language_label.setObjectName("CodeLanguage")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("CodeCopy")
        self.copy_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.copy_button.setFlat(True)
        self.copy_button.clicked.connect(self.copy)
        header = QHBoxLayout()
        header.setContentsMargins(10, 4, 6, 0)
        header.addWidget(self.language_label)
        header.addStretch(1)
        header.addWidget(self.copy_button)
        self.body = QLabel()
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setContentsMargins(12, 2, 12, 10)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.body)

    @property
    def code(self) -> str:
        return self._code

    def set_code(self, code: str, language: str, highlighted_html: str) -> None:
        if code == self._code and self.language_label.text() == (language or "code"):
            return
        self._code = code
        self.language_label.setText(language or "code")
        self.body.setText(highlighted_html)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self._code)
        self.copy_button.setText("Copied")
        # The timer has the button as context, so it dies with the block.
        QTimer.singleShot(1500, self.copy_button, lambda: self.copy_button.setText("Copy"))
        self.code_copied.emit(self._code)
