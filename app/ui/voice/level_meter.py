"""The live recording indicator beside the microphone button: a level bar and the elapsed time.

`set_level(rms_dbfs, peak_dbfs)` and `set_elapsed(seconds)` are cheap (they store numbers and ask
for a repaint); the voice controller calls them from its drain timer. The bar maps -60..0 dBFS
onto its width (RMS filled, peak as a tick); `set_state` puts a word in front ("Listening",
"Recording"). Hidden while the microphone is off.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0  # quieter than this shows an empty bar: room noise, not a voice
BAR_WIDTH = 90
TEXT_GAP = 8


def format_elapsed(seconds: float) -> str:
    """0:03.2 style: minutes, seconds and tenths (a turn is rarely longer than a few minutes)."""
    tenths = max(0, int(seconds * 10))
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest // 10:02d}.{rest % 10}"


def fraction_of(dbfs: float) -> float:
    """Where `dbfs` lies on the bar, 0..1."""
    return min(1.0, max(0.0, (dbfs - FLOOR_DB) / -FLOOR_DB))


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LevelMeter")
        self.setAccessibleName("Microphone level")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.rms_dbfs = FLOOR_DB
        self.peak_dbfs = FLOOR_DB
        self.elapsed = 0.0
        self.state = ""

    @property
    def text(self) -> str:
        """What the meter writes after the bar: the state and the elapsed time."""
        return f"{self.state} {format_elapsed(self.elapsed)}".strip()

    def set_level(self, rms_dbfs: float, peak_dbfs: float) -> None:
        if (rms_dbfs, peak_dbfs) != (self.rms_dbfs, self.peak_dbfs):
            self.rms_dbfs, self.peak_dbfs = rms_dbfs, peak_dbfs
            self.update()

    def set_elapsed(self, seconds: float) -> None:
        changed = int(seconds * 10) != int(self.elapsed * 10)
        self.elapsed = seconds
        if changed:  # the text shows tenths: repaint only when they change
            self.update()

    def set_state(self, state: str) -> None:
        self.state = state
        self.updateGeometry()
        self.update()

    def reset(self) -> None:
        self.rms_dbfs = self.peak_dbfs = FLOOR_DB
        self.elapsed = 0.0
        self.update()

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        text = metrics.horizontalAdvance(f"{self.state} 0:00.0  ")
        return QSize(BAR_WIDTH + TEXT_GAP + text, max(20, metrics.height()))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_color = self.palette().color(QPalette.ColorRole.WindowText)
        track = QColor(text_color)
        track.setAlphaF(0.15)
        bar = QRectF(0, (self.height() - 6) / 2, BAR_WIDTH, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(track)
        painter.drawRoundedRect(bar, 3, 3)
        level = fraction_of(self.rms_dbfs)
        if level > 0:
            fill = (
                QColor("#d93025") if self.peak_dbfs > -1.0 else QColor("#1a73e8")
            )  # red: clipping
            painter.setBrush(fill)
            painter.drawRoundedRect(
                QRectF(bar.left(), bar.top(), bar.width() * level, bar.height()), 3, 3
            )
        peak = fraction_of(self.peak_dbfs)
        if peak > 0:
            painter.setBrush(text_color)
            painter.drawRect(
                QRectF(bar.left() + bar.width() * peak - 1, bar.top() - 2, 2, bar.height() + 4)
            )
        painter.setPen(text_color)
        painter.drawText(
            QRectF(BAR_WIDTH + TEXT_GAP, 0, self.width() - BAR_WIDTH - TEXT_GAP, self.height()),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            self.text,
        )
