"""A removable chip for a file attached to the message being written: thumbnail or icon, name, ✕."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPalette, QPixmap
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
        icon = QLabel()
        pixmap = QPixmap(str(attachment.path)) if attachment.kind == "image" else QPixmap()
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
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip("Remove attachment")
        self.remove_button.clicked.connect(lambda: self.removed.emit(self.attachment))
        layout.addWidget(self.remove_button)

    def set_ready(self) -> None:
        self.status = "ready"
        self.setToolTip(f"{self.attachment.filename}: prepared")
