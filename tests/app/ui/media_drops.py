"""Files dropped on widgets in tests: a real QDragEnterEvent/QDropEvent with file URLs, and small clips."""

from __future__ import annotations

from pathlib import Path

import PySide6
from grey_clips import grey_clip
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

QT_BEFORE_6_12 = tuple(int(x) for x in PySide6.__version__.split(".")[:2]) < (6, 12)


def drop_files(widget, paths) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    center = widget.rect().center()
    # QDragEnterEvent takes a QPoint before PySide6 6.12 and prefers a QPointF from 6.12 on.
    pos = center if QT_BEFORE_6_12 else QPointF(center)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop


def clip(path: Path, frames: int = 12, fps: int = 10) -> Path:
    """A small silent MPEG-4 clip of 64x48 frames whose grey level rises frame by frame (the first black)."""
    return grey_clip(path, frames, fps, step=20, codec="mpeg4")
