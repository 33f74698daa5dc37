"""Typed settings over QSettings: types, junk in the file, the data folder, the drafter's default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QSettings

from app.ui.settings import Key, Settings, data_dir

REPO = Path(__file__).resolve().parents[3]


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


def test_the_drafter_default_is_the_engines_until_the_person_chooses(tmp_path):
    s = ini_settings(tmp_path)
    assert s.value(Key.USE_DRAFTER) is False and not s.is_set(Key.USE_DRAFTER)
    assert s.generation_settings().use_drafter is None  # the engine decides for its device
    s.set_default(Key.USE_DRAFTER, True)  # ModelLoaded said: it pays off here
    assert s.value(Key.USE_DRAFTER) is True and s.generation_settings().use_drafter is None
    s.set_value(Key.USE_DRAFTER, False)
    assert s.is_set(Key.USE_DRAFTER) and s.generation_settings().use_drafter is False
    s.sync()
    assert "use_drafter=false" in (tmp_path / "s.ini").read_text()
    assert ini_settings(tmp_path).value(Key.USE_DRAFTER) is False  # the learned default is never written


def test_the_settings_module_loads_no_mlx():
    code = ("import sys, app.ui.settings; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlx', 'mlx_lm', 'transformers'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                              "QT_QPA_PLATFORM": "offscreen"}, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
