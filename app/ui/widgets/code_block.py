"""A highlighted code block with its language and a Copy button that puts the raw code on the clipboard.
Code is not wrapped: a line wider than the column scrolls sideways inside the block."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)


class SidewaysScroller(QScrollArea):
    """Scrolls its widget sideways only; as tall as the widget plus the bar when the bar shows."""

    def __init__(self, widget: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setWidget(widget)
        # The block's own background shows through (setWidget turns the widget's fill on).
        widget.setAutoFillBackground(False)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QScrollArea { background: transparent; }")
        self.fit_height()

    def fit_height(self) -> None:
        hint = self.widget().sizeHint()
        bar = self.horizontalScrollBar().sizeHint().height() if hint.width() > self.width() else 0
        self.setFixedHeight(hint.height() + bar)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.fit_height()


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
        self.scroller = SidewaysScroller(self.body)
        self.scroller.setObjectName("CodeScroller")
        layout.addWidget(self.scroller)

    @property
    def code(self) -> str:
        return self._code

    def set_code(self, code: str, language: str, highlighted_html: str) -> None:
        if code == self._code and self.language_label.text() == (language or "code"):
            return
        self._code = code
        self.language_label.setText(language or "code")
        self.body.setText(highlighted_html)
        self.scroller.fit_height()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self._code)
        self.copy_button.setText("Copied")
        # The timer has the button as context, so it dies with the block.
        QTimer.singleShot(1500, self.copy_button, lambda: self.copy_button.setText("Copy"))
        self.code_copied.emit(self._code)
