"""Typed settings over QSettings: types, junk in the file, the data folder."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from app.ui.settings import Key, Settings, data_dir


def ini_settings(tmp_path) -> Settings:
    return Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))


def test_values_come_back_typed_from_an_ini_file(tmp_path):
    s = ini_settings(tmp_path)
    s.set_value(Key.THINKING, True)
    s.set_value(Key.TEMPERATURE, 0.3)
    s.set_value(Key.MAX_TOKENS, 77)
    s.sync()
    again = ini_settings(tmp_path)
    assert again.value(Key.THINKING) is True
    assert again.value(Key.TEMPERATURE) == 0.3 and again.value(Key.MAX_TOKENS) == 77
    gen = again.generation_settings()
    assert (gen.temperature, gen.max_tokens, gen.enable_thinking) == (0.3, 77, True)


def test_junk_in_the_file_falls_back_to_defaults(tmp_path):
    (tmp_path / "s.ini").write_text("[generation]\nmax_tokens=lots\n[media]\nimage_budget=333\n")
    s = ini_settings(tmp_path)
    assert s.value(Key.MAX_TOKENS) == 1024
    assert s.image_budget() == 280  # not one of the trained budgets


def test_data_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TANDEM_DATA_DIR", str(tmp_path / "x"))
    assert data_dir() == tmp_path / "x"
