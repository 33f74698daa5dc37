"""`tandem app`: arguments, and a full start/quit cycle on the fake engine."""

from __future__ import annotations

import argparse

from dialogs import answer_message_box
from fake_engine import FakeEngineWorker
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app import main as app_main
from app.store import Store
from engine import protocol as ev


def parse(argv):
    parser = argparse.ArgumentParser()
    app_main.add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments():
    args = parse(["--data-dir", "/tmp/x", "--model", "org/name"])
    assert str(args.data_dir) == "/tmp/x" and args.model == "org/name" and not args.demo


def test_run_opens_the_window_loads_the_model_and_quits(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("TANDEM_DATA_DIR", raising=False)
    data = tmp_path / "data"
    workers = []

    def factory(on_event):
        workers.append(FakeEngineWorker(on_event))
        return workers[-1]

    def close_soon():
        for widget in QApplication.topLevelWidgets():
            if widget.objectName() == "MainWindow" and widget.isVisible():
                widget.close()

    QTimer.singleShot(300, close_soon)
    rc = app_main.run(parse(["--data-dir", str(data), "--model", str(tmp_path / "m")]), factory)
    assert rc == 0
    [load] = workers[0].of_type(ev.LoadModel)
    assert load.path == str(tmp_path / "m")
    assert (data / "tandem.sqlite3").exists() and (data / "settings.ini").exists()
    assert f"path={tmp_path / 'm'}" in (data / "settings.ini").read_text()  # --model is remembered
    Store(data).close()  # the database was left consistent


def test_unreadable_data_folder_is_explained(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("TANDEM_DATA_DIR", raising=False)
    shown = answer_message_box("OK")  # the real box, answered when it opens
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc = app_main.run(parse(["--data-dir", str(blocker)]), FakeEngineWorker)
    assert rc == 1 and "Cannot open the conversations" in shown[0]


def test_the_engine_moves_idle_conversations_under_the_data_folder(tmp_path):
    folder = tmp_path / app_main.EVICTION_FOLDER
    folder.mkdir()
    (folder / "old-1.safetensors").write_bytes(b"left by a run that crashed")
    (folder / "notes.txt").write_text("not ours")
    worker = app_main.default_worker_factory(tmp_path)(lambda event: None)  # built, not started
    assert worker.eviction_folder == folder
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # stale caches gone, nothing else
