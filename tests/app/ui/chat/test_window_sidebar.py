"""The conversation sidebar: new, rename, delete with confirmation, search, shortcuts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from engine import protocol as ev


def seed(window, titles):
    ids = []
    for title in titles:
        conv = window.store.create_conversation(title)
        window.store.add_message(conv.id, "user", f"about {title.lower()}")
        ids.append(conv.id)
    window.controller.refresh_sidebar()
    return ids


def test_rename_by_dialog_answer(qtbot, open_window):
    window, _ = open_window()
    [conv_id] = seed(window, ["Old title"])
    window.sidebar.ask_title = lambda current: "  Trip to Kyoto  "
    window.sidebar.ask_rename(conv_id)
    assert window.sidebar.titles() == ["Trip to Kyoto"]
    assert window.store.conversation(conv_id).title == "Trip to Kyoto"
    window.sidebar.ask_title = lambda current: None  # the user pressed Cancel
    window.sidebar.ask_rename(conv_id)
    assert window.store.conversation(conv_id).title == "Trip to Kyoto"


def test_delete_asks_first(qtbot, open_window):
    window, _ = open_window()
    keep, doomed = seed(window, ["Keep", "Doomed"])
    window.sidebar.list.setCurrentRow(0)  # newest first: "Doomed"
    assert window.controller.current_id == doomed
    asked = []
    window.sidebar.confirm_delete = lambda title: asked.append(title) or False
    window.sidebar.ask_delete(doomed)
    assert asked == ["Doomed"] and window.store.conversation(doomed) is not None
    window.sidebar.confirm_delete = lambda title: True
    window.sidebar.ask_delete(doomed)
    assert window.store.conversation(doomed) is None
    assert window.sidebar.ids() == [keep]
    assert window.controller.current_id is None and window.chat_view.messages == []


def test_search_filters_by_title_and_content(qtbot, open_window):
    window, _ = open_window()
    seed(window, ["Rust lifetimes", "Sourdough", "Kyoto"])
    window.find_action.trigger()
    assert QApplication.focusWidget() in (window.sidebar.search, None)
    qtbot.keyClicks(window.sidebar.search, "dough")
    assert window.sidebar.titles() == ["Sourdough"]
    window.sidebar.search.clear()
    assert len(window.sidebar.titles()) == 3
    window.sidebar.search.setText("ABOUT KYOTO")  # message text, any case
    assert window.sidebar.titles() == ["Kyoto"]


def test_standard_shortcuts_are_bound(qtbot, open_window):
    from PySide6.QtGui import QKeySequence

    window, _ = open_window()
    assert window.new_action.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert window.find_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Find)
    assert window.stop_action.shortcut() == QKeySequence(Qt.Key.Key_Escape)


def test_escape_cancels_an_edit_when_nothing_streams(qtbot, open_window):
    window, engine = open_window()
    [conv_id] = seed(window, ["Edit me"])
    window.controller.open_conversation(conv_id)
    window.chat_view.messages[0].edit_button.click()
    assert window.composer.editing_position == 0
    window.stop_action.trigger()
    assert window.composer.editing_position is None and window.composer.text == ""
    assert not engine.of_type(ev.Cancel)


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
