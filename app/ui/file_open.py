"""Files handed to the app by the system (Finder's "Open With", a drop on the Dock icon).

macOS delivers them to the application object as `QFileOpenEvent`s; each becomes an attachment of
the current message, exactly as if it had been dropped on the window.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent


class FileOpenFilter(QObject):
    def __init__(self, attach: Callable[[list[str]], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.attach = attach

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            if event.file():
                self.attach([event.file()])
                return True
        return False
