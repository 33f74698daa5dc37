"""Fixtures for the window tests: a data folder, settings in it, and windows on the fake engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_engine import FakeEngineWorker
from PySide6.QtCore import QSettings

from app.store import Store
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("TANDEM_DATA_DIR", str(path))
    return path


def make_settings(data: Path) -> Settings:
    return Settings(QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def open_window(qtbot, data_dir):
    """open_window(**fake_engine_options) -> (MainWindow, FakeEngineWorker) on `data_dir`."""
    from app.ui.main_window import MainWindow

    opened = []

    def fake_demo(path: Path) -> None:
        path.mkdir(parents=True)
        (path / "config.json").write_text("{}")

    def open_(model: str | None = "models/fake", make_demo=fake_demo, size=(1000, 700), **fake):
        store = Store(data_dir)
        settings = make_settings(data_dir)
        if model is not None:
            settings.set_value(Key.MODEL_PATH, model)
        bridge = EngineBridge(lambda on_event: FakeEngineWorker(on_event, **fake))
        window = MainWindow(store, settings, bridge, make_demo=make_demo)
        qtbot.addWidget(window)
        if size:
            window.resize(*size)
        window.show()
        window.start()
        opened.append((window, bridge, store))
        return window, bridge.worker

    yield open_
    for window, bridge, store in opened:
        bridge.stop()
        store.close()
