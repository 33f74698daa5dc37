"""Typed settings, the settings dialog, the status line and the first run on the demo checkpoint."""

from __future__ import annotations

import threading

from PySide6.QtCore import QSettings, QThread
from PySide6.QtWidgets import QApplication

from app.bridge import EngineBridge
from app.settings import Key, Settings, data_dir
from app.ui.settings_dialog import SettingsDialog
from engine import protocol as ev


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


def test_settings_reach_the_engine(qtbot, open_window, data_dir):
    window, engine = open_window()
    window.settings.set_value(Key.TEMPERATURE, 0.0)
    window.settings.set_value(Key.SYSTEM_PROMPT, "You are terse.")
    window.settings.set_value(Key.IMAGE_BUDGET, 560)
    window.controller.send("hi")
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    [opened] = engine.of_type(ev.OpenSession)
    assert opened.system_prompt == "You are terse." and opened.image_budget == 560
    assert engine.of_type(ev.SendMessage)[0].settings.temperature == 0.0


def test_first_run_uses_the_demo_checkpoint_with_a_badge(qtbot, open_window, data_dir):
    made = []

    def make_demo(path):
        made.append(path)
        path.mkdir(parents=True)
        (path / "config.json").write_text("{}")

    window, engine = open_window(model=None, make_demo=make_demo)
    qtbot.waitUntil(lambda: window.status_line.random_badge.isVisibleTo(window), timeout=3000)
    assert made == [data_dir / "models" / "tandem-demo-tiny"]
    [load] = engine.of_type(ev.LoadModel)
    assert load.path == str(made[0])
    assert window.settings.value(Key.MODEL_PATH) == str(made[0])
    assert window.status_line.model_label.text() == "tandem-demo-tiny"
    assert "random weights" in window.windowTitle()
    assert "Memory 123.0 MB" == window.status_line.memory_label.text()


def test_demo_generation_failure_is_shown(qtbot, open_window):
    def broken(path):
        raise OSError("disk full")

    window, engine = open_window(model=None, make_demo=broken)
    qtbot.waitUntil(lambda: "disk full" in window.status_line.model_label.text(), timeout=3000)
    assert not engine.of_type(ev.LoadModel)


def test_real_weights_have_no_badge_and_drafter_rate_shows(qtbot, open_window):
    window, _ = open_window(random_weights=False)
    qtbot.waitUntil(lambda: window.status_line.model_label.text() == "fake", timeout=3000)
    assert not window.status_line.random_badge.isVisibleTo(window)
    assert window.windowTitle() == "Tandem"
    window.settings.set_value(Key.USE_DRAFTER, True)  # off by default on a CPU
    window.controller.send("hi")
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    assert window.status_line.drafter_label.text() == "Drafter 70% accepted"
    window.settings.set_value(Key.USE_DRAFTER, False)
    window.controller.regenerate()
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    assert window.status_line.drafter_label.text() == ""


class ThreadedWorker:
    """Calls on_event from a foreign thread, as the real engine does."""

    def __init__(self, on_event):
        self.on_event = on_event
        self.threads = []

    def start(self):
        pass

    def submit(self, command):
        t = threading.Thread(target=lambda: self.on_event(ev.TextDelta(session_id="s", text="x")))
        t.start()
        self.threads.append(t)
        return command.request_id

    def stop(self, timeout=5.0):
        for t in self.threads:
            t.join(timeout)


def test_bridge_delivers_engine_events_on_the_gui_thread(qtbot):
    bridge = EngineBridge(ThreadedWorker)
    bridge.start()
    seen = []
    bridge.text_received.connect(lambda e: seen.append((e.text, QThread.currentThread())))
    with qtbot.waitSignal(bridge.event_received, timeout=2000):
        rid = bridge.submit(ev.Cancel())
    assert rid > 0
    assert seen == [("x", QApplication.instance().thread())]
    bridge.stop()


def test_sending_before_the_model_is_ready_fails_clearly_then_recovers(qtbot, open_window):
    release = threading.Event()

    def slow_demo(path):
        release.wait(5)
        path.mkdir(parents=True)
        (path / "config.json").write_text("{}")

    window, engine = open_window(model=None, make_demo=slow_demo)
    window.composer.edit.setPlainText("too early")
    window.composer.submit()
    assert "not ready yet" in window.composer.error_label.text()
    assert window.composer.text == "too early" and window.chat_view.messages == []
    assert not engine.of_type(ev.SendMessage) and not engine.of_type(ev.OpenSession)
    release.set()
    qtbot.waitUntil(lambda: window.status_line.random_badge.isVisibleTo(window), timeout=3000)
    window.composer.edit.setPlainText("now")
    window.composer.submit()
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "Echo: now"
                    and window.chat_view.last().finish_reason == "stop", timeout=3000)
    assert len(engine.of_type(ev.OpenSession)) == 1
    assert window.store.messages(window.controller.current_id)[0].content == "now"


def test_a_model_that_fails_to_load_is_reported(qtbot, open_window):
    window, _ = open_window(model="missing")  # the fake cannot load it
    qtbot.waitUntil(lambda: "Could not load" in window.status_line.model_label.text(), timeout=3000)
    window.controller.send("hello")
    assert "could not be loaded" in window.composer.error_label.text()
