"""The model's thinking, collapsed under a disclosure button until the reader opens it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget


class ThinkingSection(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton()
        self.toggle.setObjectName("ThinkingToggle")
        self.toggle.setCheckable(True)
        self.toggle.setChecked(False)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setText("Thinking")
        self.toggle.setAutoRaise(True)
        self.toggle.toggled.connect(self._set_open)
        self.body = QLabel()
        self.body.setObjectName("ThinkingBody")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.body)
        self.setVisible(False)

    @property
    def is_open(self) -> bool:
        return self.body.isVisibleTo(self)

    def set_text(self, text: str, streaming: bool = False) -> None:
        self.body.setText(text)
        self.toggle.setText("Thinking…" if streaming else "Thought process")
        self.setVisible(bool(text))

    def text(self) -> str:
        return self.body.text()

    def _set_open(self, opened: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow)
        self.body.setVisible(opened)
