"""Choose the microphone: "System default" or one of the input devices PortAudio lists.

The choice is a device name ("" for the system default), which survives devices being plugged in
a different order (indexes do not). A saved device that is not connected now stays in the list,
marked "not connected", so opening Settings never changes the choice behind the person's back.
"Look again" re-scans (PortAudio lists devices once per start); it is disabled while recording,
because a re-scan closes open streams. When no device can be listed, the reason is shown below.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.audio.devices import InputDevice, list_input_devices, refresh_devices
from app.audio.errors import MicrophoneError

DEFAULT_LABEL = "System default"


class DevicePicker(QWidget):
    def __init__(
        self,
        current: str = "",
        *,
        recording: bool = False,
        sounddevice: Any | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._sd = sounddevice
        self._current = current
        self.combo = QComboBox()
        self.combo.setAccessibleName("Microphone")
        self.rescan_button = QPushButton("Look again")
        self.rescan_button.setToolTip(
            "Stop recording first"
            if recording
            else "Find microphones connected since Tandem started"
        )
        self.rescan_button.setEnabled(not recording)
        self.rescan_button.clicked.connect(self.rescan)
        self.message = QLabel()
        self.message.setObjectName("ErrorLabel")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.rescan_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self._fill(self._list(list_input_devices))

    def selected(self) -> str:
        """The chosen device name; "" for the system default."""
        return str(self.combo.currentData() or "")

    def rescan(self) -> None:
        self._current = self.selected()
        self._fill(self._list(refresh_devices))

    def _list(self, how) -> list[InputDevice]:
        try:
            devices = how(self._sd)
        except MicrophoneError as exc:
            self._show(exc.message)
            return []
        if not devices:
            try:  # says whether the audio server or the microphone is missing
                from app.audio.devices import pick_input_device

                pick_input_device(None, self._sd)
            except MicrophoneError as exc:
                self._show(exc.message)
        else:
            self.message.setVisible(False)
        return devices

    def _show(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(True)

    def _fill(self, devices: list[InputDevice]) -> None:
        self.combo.clear()
        default = next((d.name for d in devices if d.is_default), "")
        self.combo.addItem(f"{DEFAULT_LABEL} ({default})" if default else DEFAULT_LABEL, "")
        for device in devices:
            self.combo.addItem(
                f"{device.name} ({device.hostapi})" if device.hostapi else device.name, device.name
            )
        if self._current and self._current not in [d.name for d in devices]:
            self.combo.addItem(f"{self._current} (not connected)", self._current)
        index = self.combo.findData(self._current)
        self.combo.setCurrentIndex(max(0, index))
