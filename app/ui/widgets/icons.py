"""Small vector icons drawn with QPainter, tinted to the palette, so no image files or emoji fonts
are needed (the composer's attach, microphone, send and stop buttons, audio attachments, and the
sidebar's chats and agent runs)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

SIZE = 40  # drawn at 2x for Retina, shown at 20 px


def icon(name: str, color: QColor) -> QIcon:
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, 3.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    c = SIZE / 2
    if name == "plus":
        p.drawLine(QPointF(c, 9), QPointF(c, SIZE - 9))
        p.drawLine(QPointF(9, c), QPointF(SIZE - 9, c))
    elif name == "mic":
        p.drawRoundedRect(QRectF(c - 5.5, 6, 11, 18), 5.5, 5.5)
        arc = QPainterPath(QPointF(c - 10, 19))
        arc.cubicTo(QPointF(c - 10, 32), QPointF(c + 10, 32), QPointF(c + 10, 19))
        p.drawPath(arc)
        p.drawLine(QPointF(c, 29), QPointF(c, 34))
    elif name == "send":
        p.drawLine(QPointF(c, 30), QPointF(c, 10))
        p.drawLine(QPointF(c - 8, 18), QPointF(c, 10))
        p.drawLine(QPointF(c + 8, 18), QPointF(c, 10))
    elif name == "audio":  # a waveform
        for i, h in enumerate((8, 18, 26, 14, 22, 10)):
            x = 7 + i * 5.2
            p.drawLine(QPointF(x, c - h / 2), QPointF(x, c + h / 2))
    elif name == "chat":  # a speech bubble
        bubble = QPainterPath()
        bubble.addRoundedRect(QRectF(7, 9, 26, 18), 6, 6)
        tail = QPainterPath(QPointF(13, 26.5))
        tail.lineTo(QPointF(11, 33))
        tail.lineTo(QPointF(19, 26.5))
        p.drawPath(bubble.united(tail))
    elif name == "agent":  # a terminal prompt: >_
        p.drawLine(QPointF(9, 12), QPointF(18, c))
        p.drawLine(QPointF(18, c), QPointF(9, 28))
        p.drawLine(QPointF(21, 29), QPointF(32, 29))
    elif name == "stop":
        p.setBrush(color)
        p.drawRoundedRect(QRectF(c - 6, c - 6, 12, 12), 2.5, 2.5)
    else:
        p.end()
        raise ValueError(f"No icon named {name!r}.")
    p.end()
    pixmap.setDevicePixelRatio(2.0)
    return QIcon(pixmap)
