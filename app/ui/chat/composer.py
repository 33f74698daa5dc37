"""Where the user writes: the text field, attachment chips, attach, microphone and send/stop buttons.

The composer never touches the store or the engine. It offers files (`files_offered`, from the
attach button, a drop or a paste) and pasted image data (`image_pasted`) to whoever owns it, which
calls `add_attachment` for each one it accepted or `show_error` for one it refused. `send_requested`
carries the text; the owner calls `clear()` once the message is safely stored, so a failure loses
nothing. The microphone button is a placeholder until `set_voice_available(True)`.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.store import Attachment
from app.store.store import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES
from app.ui.chat.attachment_chip import AttachmentChip
from app.ui.chat.prompt_edit import PromptEdit
from app.ui.widgets.icons import icon

RECORDING = "#d93025"  # the red of a recording light
RECORDING_STYLE = (
    f"QToolButton {{ background: {RECORDING}; color: white; border-radius: 14px;"
    " padding: 4px 10px 4px 6px; font-weight: 600; }"
)


class Composer(QWidget):
    send_requested = Signal(str)
    stop_requested = Signal()
    files_offered = Signal(list)  # local file paths (str)
    image_pasted = Signal(QImage)
    attachment_removed = Signal(object)  # Attachment
    edit_cancelled = Signal()
    mic_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Composer")
        self.setAcceptDrops(True)
        self._generating = False
        self._editing: int | None = None
        self.chips: list[AttachmentChip] = []

        self.edit_banner = QWidget()
        banner = QHBoxLayout(self.edit_banner)
        banner.setContentsMargins(6, 0, 6, 0)
        self.edit_label = QLabel("Editing an earlier message: sending replaces it and everything after it.")
        self.edit_label.setObjectName("EditBanner")
        cancel = QPushButton("Cancel")
        cancel.setFlat(True)
        cancel.clicked.connect(self.cancel_edit)
        banner.addWidget(self.edit_label, 1)
        banner.addWidget(cancel)
        self.edit_banner.setVisible(False)

        self.error_label = QLabel()
        self.error_label.setObjectName("ErrorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)

        frame = QFrame()
        frame.setObjectName("ComposerFrame")
        self.chip_row = QHBoxLayout()
        self.chip_row.setContentsMargins(0, 0, 0, 0)
        self.chip_row.addStretch(1)
        self.edit = PromptEdit()
        self.edit.submitted.connect(self.submit)
        self.edit.media_received.connect(self.offer_mime)

        self.attach_button = QToolButton()
        self.attach_button.setAccessibleName("Attach")
        self.attach_button.setToolTip("Attach images or audio")
        self.attach_button.clicked.connect(self._choose_files)
        self.mic_button = QToolButton()  # the voice input fills this in
        self.mic_button.setAccessibleName("Microphone")
        self.mic_button.setCheckable(True)
        self.mic_button.setToolTip("Voice input is not available yet")
        self.mic_button.setEnabled(False)
        self.mic_button.toggled.connect(self.mic_toggled)
        self.send_button = QToolButton()
        self.send_button.setObjectName("SendButton")
        self.send_button.clicked.connect(self._send_or_stop)

        buttons = QHBoxLayout()
        self.button_row = buttons  # the voice input puts its level meter here
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.attach_button)
        buttons.addStretch(1)
        buttons.addWidget(self.mic_button)
        buttons.addWidget(self.send_button)
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(10, 8, 10, 8)
        inner.setSpacing(4)
        inner.addLayout(self.chip_row)
        inner.addWidget(self.edit)
        inner.addLayout(buttons)

        layout = QVBoxLayout(self)
        self._column: tuple[int, int] | None = None  # the message column's (left, width)
        layout.setContentsMargins(24, 6, 24, 14)
        layout.setSpacing(4)
        layout.addWidget(self.edit_banner)
        layout.addWidget(self.error_label)
        layout.addWidget(frame)
        for button in (self.attach_button, self.mic_button, self.send_button):
            button.setIconSize(QSize(20, 20))
        self._paint_icons()
        self.edit.textChanged.connect(self._update_send)
        self._update_send()

    # ------------------------------------------------------------ state

    @property
    def text(self) -> str:
        return self.edit.toPlainText()

    @property
    def attachments(self) -> list[Attachment]:
        return [c.attachment for c in self.chips]

    @property
    def editing_position(self) -> int | None:
        return self._editing

    def align_to_column(self, left: int, width: int) -> None:
        """Line up with the message column: `left` and `width` in this widget's coordinates."""
        self._column = (left, width)
        self._apply_column()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._apply_column()

    def _apply_column(self) -> None:
        if self._column is None:
            return
        left, width = self._column
        right = max(0, self.width() - left - width)
        margins = self.layout().contentsMargins()
        if (margins.left(), margins.right()) != (left, right):
            self.layout().setContentsMargins(left, margins.top(), right, margins.bottom())

    def set_generating(self, generating: bool) -> None:
        self._generating = generating
        self._update_send()

    def show_recording(self, seconds: float | None) -> None:
        """The microphone button while the microphone is on: red, with the time; None: as before."""
        button = self.mic_button
        if seconds is None:
            button.setStyleSheet("")
            button.setText("")
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            self._paint_icons()
            return
        if not button.text():
            button.setStyleSheet(RECORDING_STYLE)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setIcon(icon("mic", QColor("white")))
        minutes, rest = divmod(int(seconds), 60)
        button.setText(f"{minutes}:{rest:02d}")

    def set_voice_available(self, available: bool, tooltip: str = "Talk to Tandem") -> None:
        self.mic_button.setEnabled(available)
        self.mic_button.setToolTip(tooltip if available else "Voice input is not available yet")

    def start_edit(self, position: int, text: str) -> None:
        self._editing = position
        self.edit.setPlainText(text)
        self.edit_banner.setVisible(True)
        self.edit.setFocus()

    def cancel_edit(self) -> None:
        if self._editing is not None:
            self._editing = None
            self.edit_banner.setVisible(False)
            self.edit.clear()
            self.edit_cancelled.emit()

    def clear(self) -> None:
        """Empty the composer after its message was stored and sent."""
        self.edit.clear()
        for chip in self.chips:
            chip.deleteLater()
        self.chips.clear()
        self._editing = None
        self.edit_banner.setVisible(False)
        self.error_label.setVisible(False)
        self._update_send()

    # ------------------------------------------------------------ attachments

    def add_attachment(self, attachment: Attachment) -> AttachmentChip:
        for chip in self.chips:
            if chip.attachment.path == attachment.path:
                return chip  # the same file twice is one attachment
        chip = AttachmentChip(attachment, self)
        chip.removed.connect(self.remove_attachment)
        self.chip_row.insertWidget(self.chip_row.count() - 1, chip)
        self.chips.append(chip)
        self.error_label.setVisible(False)
        self._update_send()
        return chip

    def remove_attachment(self, attachment: Attachment) -> None:
        for chip in list(self.chips):
            if chip.attachment == attachment:
                self.chips.remove(chip)
                chip.deleteLater()
                self.attachment_removed.emit(attachment)
        self._update_send()

    def chip_for(self, path) -> AttachmentChip | None:
        return next((c for c in self.chips if str(c.attachment.path) == str(path)), None)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(True)

    def offer_mime(self, mime: QMimeData) -> bool:
        """Offer the files or image data of a drop or paste; False when it holds neither."""
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if paths:
            self.files_offered.emit(paths)
            return True
        if mime.hasImage():
            image = QImage(mime.imageData())
            if image.isNull():
                self.show_error("The pasted image could not be read.")
            else:
                self.image_pasted.emit(image)
            return True
        return False

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.offer_mime(event.mimeData()):
            event.acceptProposedAction()

    # ------------------------------------------------------------ sending

    def submit(self) -> None:
        if self._generating or not (self.text.strip() or self.chips):
            return
        self.send_requested.emit(self.text.strip())

    def _send_or_stop(self) -> None:
        if self._generating:
            self.stop_requested.emit()
        else:
            self.submit()

    def _update_send(self) -> None:
        white = QColor("white")
        if self._generating:
            self.send_button.setIcon(icon("stop", white))
            self.send_button.setAccessibleName("Stop")
            self.send_button.setToolTip("Stop generating (Esc)")
            self.send_button.setEnabled(True)
        else:
            self.send_button.setIcon(icon("send", white))
            self.send_button.setAccessibleName("Send")
            self.send_button.setToolTip("Send (Return)")
            self.send_button.setEnabled(bool(self.text.strip() or self.chips))

    def _paint_icons(self) -> None:
        muted = self.palette().color(QPalette.ColorRole.WindowText)
        muted.setAlphaF(0.6)
        self.attach_button.setIcon(icon("plus", muted))
        self.mic_button.setIcon(icon("mic", muted))

    def changeEvent(self, event) -> None:
        if event.type() == event.Type.PaletteChange:
            self._paint_icons()  # light/dark switch
        super().changeEvent(event)

    def _choose_files(self) -> None:
        patterns = " ".join("*" + s for s in sorted(IMAGE_SUFFIXES | AUDIO_SUFFIXES | VIDEO_SUFFIXES))
        paths, _ = QFileDialog.getOpenFileNames(self, "Attach files", "",
                                                f"Images, audio and video ({patterns})")
        if paths:
            self.files_offered.emit(paths)
