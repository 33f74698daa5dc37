"""A removable chip for a file attached to the message being written: thumbnail or icon, name, ✕.

A video's chip shows its first frame and its length; when the clip is longer than what the model takes
in (32 frames, 2 minutes of sound) it also says how it is sampled.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPalette, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from app.store import Attachment
from app.ui.widgets.icons import icon as make_icon

THUMBNAIL_PX = 36


class AttachmentChip(QFrame):
    removed = Signal(object)  # the Attachment

    def __init__(self, attachment: Attachment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AttachmentChip")
        self.attachment = attachment
        self.status = ""  # "ready" once the engine has prepared it, or an error
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 2, 4)
        layout.setSpacing(6)
        icon = self.icon_label = QLabel()
        self.video_label: QLabel | None = None
        pixmap = QPixmap(str(attachment.path)) if attachment.kind == "image" else QPixmap()
        if attachment.kind == "video":
            pixmap = self._video_pixmap()
        if not pixmap.isNull():
            icon.setPixmap(pixmap.scaled(THUMBNAIL_PX, THUMBNAIL_PX,
                                         Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                         Qt.TransformationMode.SmoothTransformation))
        else:
            color = self.palette().color(QPalette.ColorRole.WindowText)
            icon.setPixmap(make_icon("audio", color).pixmap(QSize(22, 22)))
        layout.addWidget(icon)
        name = attachment.filename
        self.name_label = QLabel(name if len(name) <= 24 else name[:21] + "…")
        self.name_label.setToolTip(name)
        layout.addWidget(self.name_label)
        if self.video_label is not None:
            layout.addWidget(self.video_label)
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip("Remove attachment")
        self.remove_button.clicked.connect(lambda: self.removed.emit(self.attachment))
        layout.addWidget(self.remove_button)

    def _video_pixmap(self) -> QPixmap:
        """The first frame as a pixmap; sets `video_label` to the length (and sampling when cut)."""
        from engine.inputs.video import VideoError, span
        from engine.inputs.video_probe import probe_video

        try:
            probe = probe_video(self.attachment.path, thumbnail_px=THUMBNAIL_PX * 2)
        except (VideoError, OSError):
            return QPixmap()  # checked when attached; a file changed since then shows an icon
        self.video_label = QLabel(probe.sampling if probe.is_cut else span(probe.duration))
        self.video_label.setToolTip(f"The model gets {probe.sampling}.")
        if probe.thumbnail is None:
            return QPixmap()
        rgb = probe.thumbnail
        image = QImage(rgb.tobytes(), rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888)
        return QPixmap.fromImage(image.copy())

    def set_ready(self) -> None:
        self.status = "ready"
        self.setToolTip(f"{self.attachment.filename}: prepared")
