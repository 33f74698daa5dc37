"""The voice widgets on their own: level meter, playable clip, device picker, the Voice settings."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from conftest_voice import MockSoundDevice, voice
from PySide6.QtCore import QSettings

from app.ui.settings import Key, Settings
from app.ui.voice.clip import VoiceClip
from app.ui.voice.device_picker import DevicePicker
from app.ui.voice.level_meter import LevelMeter, format_elapsed, fraction_of
from app.ui.voice.settings_section import VoiceSettingsSection


def make_settings(folder) -> Settings:
    return Settings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))


class FakePlayer:
    """Plays sounddevice's play/stop; records what it was asked to play."""

    def __init__(self, error: Exception | None = None) -> None:
        self.played: list[tuple[np.ndarray, int]] = []
        self.stopped = 0
        self.error = error

    def play(self, samples: np.ndarray, rate: int) -> None:
        if self.error is not None:
            raise self.error
        self.played.append((samples, rate))

    def stop(self) -> None:
        self.stopped += 1


def _wav(tmp_path, seconds: float, name: str = "clip.wav") -> tuple:
    samples = voice(seconds)
    path = tmp_path / name
    soundfile.write(path, samples, 16_000, subtype="PCM_16")
    return path, soundfile.read(path, dtype="float32")[0]


def test_level_meter_shows_level_and_time(qtbot):
    assert format_elapsed(0) == "0:00.0" and format_elapsed(75.27) == "1:15.2"
    assert fraction_of(-100) == 0 and fraction_of(0) == 1 and fraction_of(-30) == pytest.approx(0.5)
    meter = LevelMeter()
    qtbot.addWidget(meter)
    meter.set_state("Recording")
    meter.set_level(-20.0, -6.0)
    meter.set_elapsed(3.25)
    meter.resize(meter.sizeHint())
    meter.show()
    assert meter.text == "Recording 0:03.2"
    image = meter.grab().toImage()
    filled = image.pixelColor(int(0.5 * 90 * fraction_of(-20.0)), meter.height() // 2)
    assert filled.blue() > 150 and filled.red() < 100  # the blue level bar is drawn
    meter.reset()
    assert meter.rms_dbfs == -60.0 and meter.elapsed == 0.0


def test_voice_clip_plays_stops_and_finishes(qtbot, tmp_path):
    path, samples = _wav(tmp_path, 0.3)
    player = FakePlayer()
    clip = VoiceClip(path, sounddevice=player)
    qtbot.addWidget(clip)
    clip.show()
    assert clip.duration == pytest.approx(0.3) and "0:00.3" in clip.label.text()
    assert clip.play() and clip.playing
    played, rate = player.played[0]
    assert rate == 16_000
    np.testing.assert_array_equal(played, samples)
    with qtbot.waitSignal(clip.playback_finished, timeout=3000):
        pass  # ends by itself after its duration
    assert not clip.playing and clip.button.toolTip() == "Play"

    other = VoiceClip(path, "Other", sounddevice=player)
    qtbot.addWidget(other)
    clip.play()
    other.play()  # one clip at a time
    assert other.playing and not clip.playing
    other.button.click()
    assert not other.playing and player.stopped == 1


def test_voice_clip_says_why_it_cannot_play(qtbot, tmp_path):
    missing = VoiceClip(tmp_path / "gone.wav", sounddevice=FakePlayer())
    qtbot.addWidget(missing)
    assert not missing.play() and not missing.button.isEnabled()
    assert "cannot play" in missing.label.text() and "missing" in missing.toolTip()
    path, _ = _wav(tmp_path, 0.2)
    broken = VoiceClip(path, sounddevice=FakePlayer(RuntimeError("Error querying device -1")))
    qtbot.addWidget(broken)
    assert not broken.play() and "no sound output" in broken.toolTip()
    assert "Error querying" not in broken.toolTip()  # the library's words stay out


def test_device_picker_lists_inputs_and_keeps_an_absent_choice(qtbot):
    mock = MockSoundDevice(np.zeros(10, np.float32), name="USB Mic")
    picker = DevicePicker("Studio Mic", sounddevice=mock)
    qtbot.addWidget(picker)
    items = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    assert items == ["System default (USB Mic)", "USB Mic (MockAPI)", "Studio Mic (not connected)"]
    assert picker.selected() == "Studio Mic"
    picker.combo.setCurrentIndex(1)
    assert picker.selected() == "USB Mic"
    picker.rescan()
    assert mock.reinitialised == 1 and picker.selected() == "USB Mic"

    none = MockSoundDevice(np.zeros(10, np.float32), no_devices=True)
    empty = DevicePicker("", sounddevice=none)
    qtbot.addWidget(empty)
    assert empty.combo.count() == 1 and empty.selected() == ""
    assert empty.message.text().startswith("No ")
    busy = DevicePicker("", recording=True, sounddevice=mock)
    qtbot.addWidget(busy)
    assert not busy.rescan_button.isEnabled()


def test_voice_settings_are_saved(qtbot, tmp_path):
    settings = make_settings(tmp_path)
    assert settings.value(Key.VOICE_HANDS_FREE) is False
    assert settings.value(Key.VOICE_SPEAK_ANSWERS) is False  # spoken answers are off by default
    section = VoiceSettingsSection(settings, sounddevice=MockSoundDevice(np.zeros(10, np.float32)))
    qtbot.addWidget(section)
    assert not section.silence.isEnabled()
    section.hands_free.setChecked(True)
    assert section.silence.isEnabled()
    section.silence.setValue(1.25)
    section.barge_in.setChecked(False)
    section.speak.setChecked(True)
    section.device.combo.setCurrentIndex(1)
    section.save(settings)
    assert settings.value(Key.VOICE_HANDS_FREE) is True
    assert settings.value(Key.VOICE_SILENCE_S) == pytest.approx(1.25)
    assert settings.value(Key.VOICE_BARGE_IN) is False
    assert settings.value(Key.VOICE_SPEAK_ANSWERS) is True
    assert settings.value(Key.VOICE_INPUT_DEVICE) == "Mock Microphone"


def test_settings_dialog_has_the_voice_section(qtbot, tmp_path):
    from app.ui.model.settings_dialog import SettingsDialog

    settings = make_settings(tmp_path)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.voice.hands_free.setChecked(True)
    dialog.accept()
    assert settings.value(Key.VOICE_HANDS_FREE) is True


def test_voice_settings_say_how_barge_in_works_here(qtbot, tmp_path, monkeypatch):
    import sys

    settings = make_settings(tmp_path)
    section = VoiceSettingsSection(settings, sounddevice=MockSoundDevice(np.zeros(10, np.float32)))
    qtbot.addWidget(section)
    assert "echo cancellation" in section.note.text() and "Silero" in section.note.text()
    monkeypatch.setitem(sys.modules, "pywebrtc_audio", None)  # no echo canceller on this machine
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # nor the learned detector
    section = VoiceSettingsSection(settings, sounddevice=MockSoundDevice(np.zeros(10, np.float32)))
    qtbot.addWidget(section)
    assert "talking clearly louder than its voice for half a second" in section.note.text()
    assert "loudness only" in section.note.text()
