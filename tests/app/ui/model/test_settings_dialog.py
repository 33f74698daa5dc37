"""The settings dialog: written on OK only, nonsense refused."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from app.ui.model.settings_dialog import SettingsDialog
from app.ui.settings import Key, Settings


def ini_settings(tmp_path) -> Settings:
    return Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))


def test_settings_dialog_writes_on_ok_only(qtbot, tmp_path):
    s = ini_settings(tmp_path)
    dialog = SettingsDialog(s)
    qtbot.addWidget(dialog)
    dialog.model_path.setText("org/model")
    dialog.temperature.setValue(0.0)
    dialog.image_budget.setCurrentIndex(4)
    dialog.drafter.setChecked(False)
    dialog.system_prompt.setPlainText("Be brief.")
    dialog.reject()
    assert s.value(Key.MODEL_PATH) == ""
    dialog.accept()
    assert s.value(Key.MODEL_PATH) == "org/model" and s.value(Key.TEMPERATURE) == 0.0
    assert s.image_budget() == 1120 and s.value(Key.USE_DRAFTER) is False
    assert s.value(Key.SYSTEM_PROMPT) == "Be brief." and dialog.model_changed


def test_settings_dialog_refuses_a_nonsense_model(qtbot, tmp_path):
    s = ini_settings(tmp_path)
    dialog = SettingsDialog(s)
    qtbot.addWidget(dialog)
    dialog.model_path.setText("my model please")
    dialog.accept()
    assert dialog.error_label.isVisibleTo(dialog) and "repo id" in dialog.error_label.text()
    assert s.value(Key.MODEL_PATH) == ""


def test_the_drafter_box_shows_the_devices_default_until_chosen(qtbot, tmp_path):
    s = ini_settings(tmp_path)
    s.set_default(Key.USE_DRAFTER, True)  # the engine said it pays off here
    dialog = SettingsDialog(s)
    qtbot.addWidget(dialog)
    assert dialog.drafter.isChecked()
    dialog.drafter.setChecked(False)
    dialog.accept()
    assert s.is_set(Key.USE_DRAFTER) and s.value(Key.USE_DRAFTER) is False and dialog.model_changed


def test_the_kv_precision_is_chosen_with_its_memory_cost_in_words(qtbot, tmp_path):
    s = ini_settings(tmp_path)
    assert s.kv_bits() is None  # full precision unless chosen
    dialog = SettingsDialog(s)
    qtbot.addWidget(dialog)
    choices = [dialog.kv_precision.itemText(i) for i in range(dialog.kv_precision.count())]
    assert choices[0].startswith("Full precision: about 0.5 GB per 32,000 tokens")
    assert "half" in choices[1] and "quarter" in choices[2]
    assert "16 GB Mac" in dialog.kv_precision.toolTip()
    dialog.kv_precision.setCurrentIndex(1)
    dialog.reject()
    assert s.kv_bits() is None
    dialog.accept()
    assert s.kv_bits() == 8
    again = SettingsDialog(ini_settings(tmp_path))  # read back from the file
    qtbot.addWidget(again)
    assert again.kv_precision.currentData() == 8 and again.settings.kv_bits() == 8
    again.kv_precision.setCurrentIndex(2)
    again.accept()
    assert ini_settings(tmp_path).kv_bits() == 4
