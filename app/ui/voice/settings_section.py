"""The Voice part of Settings: microphone, hands-free mode and its silence, barge-in, spoken answers.

`save(settings)` writes the values; the settings dialog calls it on OK. The voice controller reads
them each time recording starts, so a change applies from the next recording on.
"""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QWidget

from app.audio.echo import barge_in_note
from app.audio.tts import system_voice_command
from app.audio.vad import detector_note
from app.ui.settings import Key, Settings
from app.ui.voice.device_picker import DevicePicker

SILENCE_RANGE_S = (0.3, 3.0)  # shorter cuts people off mid-sentence; longer feels like waiting


class VoiceSettingsSection(QGroupBox):
    def __init__(
        self,
        settings: Settings,
        *,
        recording: bool = False,
        sounddevice: Any | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Voice", parent)
        self.device = DevicePicker(
            settings.value(Key.VOICE_INPUT_DEVICE), recording=recording, sounddevice=sounddevice
        )
        self.hands_free = QCheckBox("Hands-free: the microphone listens, a pause ends each turn")
        self.hands_free.setChecked(settings.value(Key.VOICE_HANDS_FREE))
        self.silence = QDoubleSpinBox()
        self.silence.setRange(*SILENCE_RANGE_S)
        self.silence.setSingleStep(0.1)
        self.silence.setSuffix(" s")
        self.silence.setValue(settings.value(Key.VOICE_SILENCE_S))
        self.silence.setToolTip("How long a pause must be before Tandem answers (hands-free)")
        self.silence.setEnabled(self.hands_free.isChecked())
        self.hands_free.toggled.connect(self.silence.setEnabled)
        self.barge_in = QCheckBox("Speaking while Tandem answers stops the answer")
        self.barge_in.setChecked(settings.value(Key.VOICE_BARGE_IN))
        # how hands-free and barge-in behave on this machine (learned detector, echo cancellation)
        self.note = QLabel(f"{detector_note()} {barge_in_note()}")
        self.note.setWordWrap(True)
        self.note.setEnabled(False)  # the muted colour of a hint
        self.speak = QCheckBox("Read answers to voice messages aloud")
        self.speak.setChecked(settings.value(Key.VOICE_SPEAK_ANSWERS))
        if system_voice_command() is None:
            self.speak.setToolTip(
                "No system voice was found: "
                + (
                    "the `say` command is missing"
                    if sys.platform == "darwin"
                    else "install espeak-ng"
                )
            )
        form = QFormLayout(self)
        form.addRow("Microphone:", self.device)
        form.addRow("", self.hands_free)
        form.addRow("End of turn after:", self.silence)
        form.addRow("", self.barge_in)
        form.addRow("", self.note)
        form.addRow("", self.speak)

    def save(self, settings: Settings) -> None:
        settings.set_value(Key.VOICE_INPUT_DEVICE, self.device.selected())
        settings.set_value(Key.VOICE_HANDS_FREE, self.hands_free.isChecked())
        settings.set_value(Key.VOICE_SILENCE_S, round(self.silence.value(), 2))
        settings.set_value(Key.VOICE_BARGE_IN, self.barge_in.isChecked())
        settings.set_value(Key.VOICE_SPEAK_ANSWERS, self.speak.isChecked())
