"""The window with the fake engine: settings reach the engine, the first run on the demo
checkpoint, the status line, and a model that is not ready or fails to load."""

from __future__ import annotations

import threading

from app.ui.settings import Key
from engine import protocol as ev


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


def test_the_engine_says_whether_the_drafter_pays_off(qtbot, open_window):
    window, engine = open_window(drafter_pays_off=True)
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=3000)
    assert window.settings.value(Key.USE_DRAFTER) is True  # a GPU: on unless the person turns it off
    window.controller.send("hi")
    assert engine.of_type(ev.SendMessage)[0].settings.use_drafter is None  # the engine's choice
    window.settings.set_value(Key.USE_DRAFTER, False)
    window.settings.set_value(Key.DRAFTER_PATH, "/drafters/mine")
    window.load_model()
    assert engine.of_type(ev.LoadModel)[-1].drafter_path is None  # turned off: not even loaded
