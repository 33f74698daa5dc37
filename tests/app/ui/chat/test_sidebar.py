"""The conversation sidebar: new, rename, delete with confirmation, search, Esc ends an edit."""

from __future__ import annotations

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


def test_escape_cancels_an_edit_when_nothing_streams(qtbot, open_window):
    window, engine = open_window()
    [conv_id] = seed(window, ["Edit me"])
    window.controller.open_conversation(conv_id)
    window.chat_view.messages[0].edit_button.click()
    assert window.composer.editing_position == 0
    window.stop_action.trigger()
    assert window.composer.editing_position is None and window.composer.text == ""
    assert not engine.of_type(ev.Cancel)
