"""A banner across the top of the chat view for what the person must act on (a model that could
not be loaded or made): a title, a sentence or two with what to do next, and buttons that do it.
Its text wraps, so a long message never overflows or pushes anything away."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class NoticeBanner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NoticeBanner")
        self.title_label = QLabel()
        self.title_label.setObjectName("NoticeTitle")
        self.title_label.setWordWrap(True)
        self.text_label = QLabel()
        self.text_label.setObjectName("NoticeText")
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._buttons = QHBoxLayout()
        self._buttons.setContentsMargins(0, 4, 0, 0)
        self._buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(4)
        layout.addWidget(self.title_label)
        layout.addWidget(self.text_label)
        layout.addLayout(self._buttons)
        self.setVisible(False)

    def show_notice(self, title: str, text: str,
                    actions: list[tuple[str, Callable[[], None]]] = ()) -> None:
        """Show `title` and `text`, with one button per (label, callback)."""
        self.title_label.setText(title)
        self.text_label.setText(text)
        while self._buttons.count() > 1:
            button = self._buttons.takeAt(1).widget()
            button.deleteLater()
        for label, callback in actions:
            button = QPushButton(label)
            button.clicked.connect(callback)
            self._buttons.addWidget(button)
        self.setVisible(True)

    def buttons(self) -> list[QPushButton]:
        return [self._buttons.itemAt(i).widget() for i in range(1, self._buttons.count())]

    def button(self, label: str) -> QPushButton | None:
        return next((b for b in self.buttons() if b.text() == label), None)

    def dismiss(self) -> None:
        self.setVisible(False)
