"""A playable audio clip in the chat view: the saved recording of a voice turn (or an attached file).

Playback goes through sounddevice (`sd.play` on PortAudio's default output, `sd.stop` to end it):
PortAudio is already there for the microphone, on macOS it is bundled with the wheel, and
QtMultimedia is not part of PySide6-Essentials. One clip plays at a time; starting another stops
the first. Playing never blocks the GUI thread (sd.play returns at once; a timer follows the
position). A file that cannot be read, or no output device, is said in the clip's tooltip and line.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPalette, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from app.audio.backend import load_sounddevice
from app.audio.errors import MicrophoneError
from app.ui.voice.level_meter import format_elapsed
from app.ui.widgets.icons import icon

TICK_MS = 100  # position updates while playing


class VoiceClip(QFrame):
    playback_started = Signal()
    playback_finished = Signal()

    _playing: ClassVar[VoiceClip | None] = None  # the clip whose sound is out now

    def __init__(
        self,
        path: str | Path,
        title: str = "Voice message",
        sounddevice: Any | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("AttachmentChip")
        self.path = Path(path)
        self.title = title
        self._sd_override = sounddevice
        self._sd: Any | None = None
        self._started_at = 0.0
        self.error = ""
        self.duration = _duration_of(self.path)
        self.button = QToolButton()
        self.button.setAutoRaise(True)
        self.button.setIconSize(QSize(18, 18))
        self.button.clicked.connect(self.toggle)
        self.label = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 10, 2)
        layout.setSpacing(4)
        layout.addWidget(self.button)
        layout.addWidget(self.label)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        if self.duration is None:
            self.error = f"{self.path.name} cannot be played: the file is missing or not audio."
        self._show_idle()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def toggle(self) -> None:
        if self.playing:
            self.stop()
        else:
            self.play()

    def play(self) -> bool:
        """Start playback from the beginning; False (and the reason in `error`) when it cannot."""
        if self.duration is None:
            self._show_idle()
            return False
        try:
            import soundfile

            samples, rate = soundfile.read(str(self.path), dtype="float32")
            sd = self._sd = load_sounddevice(self._sd_override)
            if VoiceClip._playing is not None and VoiceClip._playing is not self:
                VoiceClip._playing._finished()
            sd.play(np.asarray(samples), int(rate))
        except MicrophoneError as exc:
            self.error = exc.message.replace("cannot record", "cannot play audio")
        except Exception:  # noqa: BLE001 - no output device, an unreadable file: said, not raised
            self.error = ("The recording could not be played: there is no sound output, or the "
                          "file can no longer be read.")
        else:
            self.error = ""
            VoiceClip._playing = self
            self._started_at = time.monotonic()
            self._timer.start()
            self.button.setIcon(icon("stop", self._ink()))
            self.button.setToolTip("Stop")
            self._tick()
            self.playback_started.emit()
            return True
        self._show_idle()
        return False

    def stop(self) -> None:
        if not self.playing:
            return
        if self._sd is not None:
            with contextlib.suppress(Exception):  # the device went away: the sound is gone too
                self._sd.stop()
        self._finished()

    def position(self) -> float:
        return (
            min(self.duration or 0.0, time.monotonic() - self._started_at) if self.playing else 0.0
        )

    def _tick(self) -> None:
        if self.position() >= (self.duration or 0.0):
            self._finished()
            return
        self.label.setText(
            f"{self.title}  {format_elapsed(self.position())} / "
            f"{format_elapsed(self.duration or 0.0)}"
        )

    def _finished(self) -> None:
        was_playing = self.playing
        self._timer.stop()
        if VoiceClip._playing is self:
            VoiceClip._playing = None
        self._show_idle()
        if was_playing:
            self.playback_finished.emit()

    def _show_idle(self) -> None:
        self.button.setIcon(_play_icon(self._ink()))
        self.button.setEnabled(self.duration is not None)
        self.button.setToolTip("Play")
        length = "" if self.duration is None else "  " + format_elapsed(self.duration)
        self.label.setText(self.title + length + ("  (cannot play)" if self.error else ""))
        self.setToolTip(self.error or f"{self.title}: {self.path.name}")

    def _ink(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.WindowText)

    def hideEvent(self, event) -> None:
        self.stop()  # the conversation was closed or the message removed
        super().hideEvent(event)


def _duration_of(path: Path) -> float | None:
    try:
        import soundfile

        info = soundfile.info(str(path))
    except Exception:  # noqa: BLE001 - missing, or a format libsndfile does not read
        return None
    return info.frames / info.samplerate if info.samplerate else None


def _play_icon(color: QColor) -> QIcon:
    """A right-pointing triangle, drawn like app.ui.widgets.icons (2x for Retina)."""
    pixmap = QPixmap(40, 40)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    path = QPainterPath(QPointF(13, 9))
    path.lineTo(QPointF(31, 20))
    path.lineTo(QPointF(13, 31))
    path.closeSubpath()
    painter.drawPath(path)
    painter.end()
    pixmap.setDevicePixelRatio(2.0)
    return QIcon(pixmap)
