"""A card for one tool call the model made: the tool's name and its arguments as JSON."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from app.ui.widgets.markdown import highlight_code
from app.ui.widgets.theme import is_dark


class ToolCallCard(QFrame):
    def __init__(self, name: str, arguments: dict[str, Any], parent: QWidget | None = None,
                 error: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("ToolCallCard")
        self.name = name
        self.arguments = arguments
        title = QLabel(f"⚙︎  <b>{name or 'unparsed tool call'}</b>")
        title.setTextFormat(Qt.TextFormat.RichText)
        body = QLabel()
        body.setTextFormat(Qt.TextFormat.RichText)
        body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        body.setWordWrap(True)
        text = error or json.dumps(arguments, indent=2, ensure_ascii=False, default=str)
        body.setText(highlight_code(text, "" if error else "json", is_dark(self.palette())))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(4)
        layout.addWidget(title)
        layout.addWidget(body)
