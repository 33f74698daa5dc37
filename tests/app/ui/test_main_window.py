"""The window with the fake engine: settings reach the engine, the first run on the demo
checkpoint, the status line, a model that is not ready or fails to load, shortcuts, mode views,
the restored geometry and the dark palette."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.chat import ModelState
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
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=3000)
    assert not engine.of_type(ev.LoadModel)
    assert window.banner.title_label.text() == "The demo model could not be made"
    assert "free space" in window.banner.text_label.text()
    assert "disk full" not in window.banner.text_label.text()  # a sentence, not the library's text
    assert window.status_line.model_label.text() == "No model loaded"
    assert "demo" not in window.windowTitle()
    window._make_demo = lambda path: (path.mkdir(parents=True), (path / "config.json").write_text("{}"))
    window.banner.button("Try Again").click()
    qtbot.waitUntil(lambda: window.status_line.random_badge.isVisibleTo(window), timeout=3000)
    assert not window.banner.isVisible() and len(engine.of_type(ev.LoadModel)) == 1


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
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=3000)
    window.controller.send("hello")
    assert "could not be loaded" in window.composer.error_label.text()


def test_a_failed_load_from_settings_shows_a_banner_with_what_to_do(qtbot, open_window, tmp_path):
    """Demo model in, then Settings points at a folder that is gone: the banner says so and what to
    do; the status line stays one short line with room for the rest; the title stops saying demo."""
    from dialogs import answer_dialog

    window, engine = open_window(model=None)
    qtbot.waitUntil(lambda: "demo model" in window.windowTitle(), timeout=3000)
    gone = tmp_path / "gone"  # the fake engine fails on "missing"; the words come from the path
    engine.fail_paths = {str(gone)}
    answer_dialog(lambda dialog: (dialog.model_path.setText(str(gone)), dialog.accept()))
    window.settings_action.trigger()
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=3000)
    assert window.banner.title_label.text() == "The model could not be loaded"
    text = window.banner.text_label.text()
    assert f"There is no model at {gone}" in text and "Manage Models" in text
    assert window.status_line.model_label.text() == "No model loaded"
    assert not window.status_line.random_badge.isVisibleTo(window)
    assert window.windowTitle() == "Tandem — no model loaded"
    assert [b.text() for b in window.banner.buttons()] == [
        "Manage Models…", "Settings…", "Use the Demo Model"]
    assert not window.chat_view.get_model_button.isVisibleTo(window)
    window.controller.send("hello")
    assert "could not be loaded" in window.composer.error_label.text()
    window.banner.button("Use the Demo Model").click()
    qtbot.waitUntil(lambda: "demo model" in window.windowTitle(), timeout=3000)
    assert not window.banner.isVisible()
    assert engine.of_type(ev.LoadModel)[-1].path == str(window.demo_path())


def test_the_demo_models_empty_view_says_what_it_is_and_offers_the_model(qtbot, open_window):
    from dialogs import answer_dialog

    window, _ = open_window(model=None)
    qtbot.waitUntil(lambda: window.chat_view.get_model_button.isVisible(), timeout=3000)
    assert "random weights" in window.chat_view.empty_text.text()
    assert "noise" in window.chat_view.empty_text.text()
    for size in ((1000, 700), (660, 480)):
        window.resize(*size)
        QApplication.processEvents()
        label = window.chat_view.empty_text
        assert label.height() >= label.heightForWidth(label.width())  # all of it shows
    seen = answer_dialog(lambda dialog: dialog.reject())
    window.chat_view.get_model_button.click()
    assert seen == ["ModelManagerDialog"]
    window.controller.send("hi")
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    assert not window.chat_view.empty_state.isVisible()


def test_real_weights_keep_the_plain_empty_view(qtbot, open_window):
    window, _ = open_window(random_weights=False)
    qtbot.waitUntil(lambda: window.windowTitle() == "Tandem"
                    and window.controller.model_state is ModelState.READY, timeout=3000)
    assert not window.chat_view.get_model_button.isVisible()
    assert window.chat_view.empty_text.text().startswith("Ask anything")


def test_the_engine_says_whether_the_drafter_pays_off(qtbot, open_window):
    window, engine = open_window(drafter_pays_off=True)
    qtbot.waitUntil(lambda: window.controller.model_state is ModelState.READY, timeout=3000)
    assert window.settings.value(Key.USE_DRAFTER) is True  # a GPU: on unless the person turns it off
    window.controller.send("hi")
    assert engine.of_type(ev.SendMessage)[0].settings.use_drafter is None  # the engine's choice
    window.settings.set_value(Key.USE_DRAFTER, False)
    window.settings.set_value(Key.DRAFTER_PATH, "/drafters/mine")
    window.load_model()
    assert engine.of_type(ev.LoadModel)[-1].drafter_path is None  # turned off: not even loaded


def test_standard_shortcuts_are_bound(qtbot, open_window):
    from PySide6.QtGui import QKeySequence

    window, _ = open_window()
    assert window.new_action.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert window.find_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Find)
    assert window.stop_action.shortcut() == QKeySequence(Qt.Key.Key_Escape)


def test_window_geometry_and_splitter_are_restored(qtbot, open_window):
    window, _ = open_window()
    window.resize(720, 520)  # inside the offscreen screen (800x600)
    window.splitter.setSizes([300, 420])
    window.close()
    again, _ = open_window(size=None)
    assert again.size().width() == 720 and again.size().height() == 520
    assert abs(again.splitter.sizes()[0] - 300) <= 2


def test_another_mode_view_can_be_added_and_shown(qtbot, open_window):
    import pytest
    from PySide6.QtWidgets import QLabel

    window, _ = open_window()
    assert window.modes.indexOf(window.agent_view) == 1  # the coding agent is Ctrl+2
    agent = QLabel("another view")
    action = window.add_mode_view("extra", agent, "Extra")
    assert action.shortcut().toString() == "Ctrl+3" and action in window.view_menu.actions()
    action.trigger()
    assert window.modes.currentWidget() is agent and action.isChecked()
    window.show_mode("chat")
    assert window.modes.currentWidget() is not agent and not action.isChecked()
    with pytest.raises(ValueError, match="already"):
        window.add_mode_view("extra", QLabel())


def test_dark_palette_restyles_the_window(qtbot, open_window):
    from PySide6.QtGui import QColor, QPalette

    window, _ = open_window()
    light_sheet = window.styleSheet()
    original = QApplication.palette()
    dark = QPalette(original)
    dark.setColor(QPalette.ColorRole.Window, QColor("#242424"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#eeeeee"))
    try:
        QApplication.setPalette(dark)  # what Qt does when macOS switches appearance
        qtbot.waitUntil(lambda: window.styleSheet() != light_sheet, timeout=1000)
        assert "#1e1e1e" in window.styleSheet()  # the dark chat background
    finally:
        QApplication.setPalette(original)
    qtbot.waitUntil(lambda: window.styleSheet() == light_sheet, timeout=1000)
    assert not window.settings_shortcut.isEmpty()  # Cmd+, on macOS, Ctrl+, elsewhere
