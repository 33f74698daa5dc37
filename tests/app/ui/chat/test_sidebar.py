"""The conversation sidebar: new, rename, delete with confirmation, search, Esc ends an edit."""

from __future__ import annotations

from dialogs import answer_dialog, answer_input_dialog, answer_message_box, choose_menu_item
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent, QMouseEvent
from PySide6.QtTest import QTest
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


def right_click(sidebar, row: int) -> None:
    """A right-click on a row, as the window system sends it."""
    viewport = sidebar.list.viewport()
    pos = sidebar.list.visualItemRect(sidebar.list.item(row)).center()
    QApplication.sendEvent(viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos,
                                                        viewport.mapToGlobal(pos)))


def send(qtbot, window, text: str) -> None:
    window.composer.edit.setFocus()
    qtbot.keyClicks(window.composer.edit, text)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)


def double_click(widget, pos) -> None:
    """Press, release, double-click, release: the events a double-click sends (QTest.mouseDClick
    sends no double-click event to an item view under Qt 6)."""
    types = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease,
             QEvent.Type.MouseButtonDblClick, QEvent.Type.MouseButtonRelease)
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind in types:
        held = none if kind == QEvent.Type.MouseButtonRelease else left
        QApplication.sendEvent(widget, QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)),
                                                   left, held, Qt.KeyboardModifier.NoModifier))


def test_rename_from_the_context_menu_in_the_real_dialog(qtbot, open_window):
    window, _ = open_window()
    [conv_id] = seed(window, ["Old title"])
    menu = choose_menu_item("Rename…")
    seen = answer_input_dialog("  Trip to Kyoto  ")
    right_click(window.sidebar, 0)
    assert menu == ["Rename…", "Export as Markdown…", "Delete…"] and seen == ["Title:", "Old title"]
    assert window.sidebar.titles() == ["Trip to Kyoto"]
    assert window.store.conversation(conv_id).title == "Trip to Kyoto"
    choose_menu_item("Rename…")
    answer_input_dialog(None)  # Cancel
    right_click(window.sidebar, 0)
    assert window.store.conversation(conv_id).title == "Trip to Kyoto"


def test_double_click_renames_any_row_not_only_the_selected_one(qtbot, open_window):
    window, _ = open_window()
    first, second = seed(window, ["First", "Second"])  # newest first: "Second", "First"
    window.sidebar.list.setCurrentRow(0)
    assert window.controller.current_id == second
    row = window.sidebar.list.visualItemRect(window.sidebar.list.item(1)).center()
    seen = answer_input_dialog("Renamed")
    double_click(window.sidebar.list.viewport(), row)
    assert seen == ["Title:", "First"]
    assert window.store.conversation(first).title == "Renamed"
    assert window.store.conversation(second).title == "Second"


def test_f2_and_return_rename_the_selected_row(qtbot, open_window):
    window, _ = open_window()
    [conv_id] = seed(window, ["Notes"])
    window.sidebar.list.setCurrentRow(0)
    window.sidebar.list.setFocus()
    answer_input_dialog("By F2")
    QTest.keyClick(window.sidebar.list, Qt.Key.Key_F2)
    assert window.store.conversation(conv_id).title == "By F2"
    answer_input_dialog("By Return")
    QTest.keyClick(window.sidebar.list, Qt.Key.Key_Return)
    assert window.sidebar.titles() == ["By Return"]


def test_delete_from_the_context_menu_asks_in_the_real_dialog(qtbot, open_window):
    window, engine = open_window(replies=["Sure."])
    [keep] = seed(window, ["Keep"])
    window.new_action.trigger()
    send(qtbot, window, "Doomed")  # its engine session is open
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    doomed = window.controller.current_id
    assert window.sidebar.ids() == [doomed, keep]
    choose_menu_item("Delete…")
    seen = answer_message_box("Cancel")
    right_click(window.sidebar, 0)
    assert seen == ["Delete “Doomed”?"]
    assert window.store.conversation(doomed) is not None
    assert window.sidebar.ids() == [doomed, keep]
    assert not engine.of_type(ev.CloseSession)

    choose_menu_item("Delete…")
    seen = answer_message_box("Delete")
    right_click(window.sidebar, 0)
    assert seen == ["Delete “Doomed”?"]
    assert window.store.conversation(doomed) is None
    assert window.sidebar.ids() == [keep]
    assert [c.session_id for c in engine.of_type(ev.CloseSession)] == [doomed]
    assert window.controller.current_id is None and window.chat_view.messages == []


def test_delete_and_backspace_keys_delete_the_selected_row_after_asking(qtbot, open_window):
    window, engine = open_window()
    first, second = seed(window, ["First", "Second"])
    window.sidebar.list.setCurrentRow(1)  # "First"
    window.sidebar.list.setFocus()
    seen = answer_message_box("Cancel")
    QTest.keyClick(window.sidebar.list, Qt.Key.Key_Delete)
    assert seen == ["Delete “First”?"] and window.store.conversation(first) is not None
    seen = answer_message_box("Delete")
    QTest.keyClick(window.sidebar.list, Qt.Key.Key_Delete)
    assert window.store.conversation(first) is None and window.sidebar.ids() == [second]
    window.sidebar.list.setCurrentRow(0)
    answer_message_box("Delete")
    QTest.keyClick(window.sidebar.list, Qt.Key.Key_Backspace)
    assert window.store.conversation(second) is None and window.sidebar.ids() == []
    assert window.sidebar.ids() == [] and window.store.conversations() == []


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


def test_export_as_markdown_from_the_menu_and_the_sidebar(qtbot, open_window, tmp_path):
    window, _ = open_window(replies=["A **red** square."])
    window.export_action.trigger()  # nothing open: said, no dialog
    assert window.status_line.currentMessage() == "Open a conversation to export it."
    send(qtbot, window, "What is red?")
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    out = tmp_path / "exports"
    out.mkdir()
    seen = answer_dialog(lambda dialog: (dialog.selectFile(str(out / "Red")), dialog.accept()))
    window.export_action.trigger()
    assert seen == ["QFileDialog"]
    text = (out / "Red.md").read_text(encoding="utf-8")
    assert text.startswith("# What is red?") and "A **red** square." in text

    menu = choose_menu_item("Export as Markdown…")
    answer_dialog(lambda dialog: (dialog.selectFile(str(out / "Again.md")), dialog.accept()))
    right_click(window.sidebar, 0)
    assert "Export as Markdown…" in menu and (out / "Again.md").exists()

    answer_dialog(lambda dialog: dialog.reject())  # Cancel: nothing written
    window.export_action.trigger()
    assert sorted(p.name for p in out.iterdir()) == ["Again.md", "Red.md"]


def test_a_failed_export_is_said_in_the_real_dialog(qtbot, open_window, tmp_path):
    from PIL import Image

    window, _ = open_window()
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    window.controller.attach_files([str(tmp_path / "photo.png")])
    send(qtbot, window, "hello")
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    [user, _] = window.store.messages(window.controller.current_id)
    user.attachments[0].path.unlink()  # the copy fails half-way
    out = tmp_path / "out"
    out.mkdir()
    answer_dialog(lambda dialog: (dialog.selectFile(str(out / "x.md")), dialog.accept()))
    seen = answer_message_box("OK")
    window.export_action.trigger()
    assert len(seen) == 1 and "could not be exported" in seen[0] and "Errno" not in seen[0]
    assert list(out.iterdir()) == []  # nothing half-written


def test_copy_puts_the_whole_answer_on_the_clipboard(qtbot, open_window):
    from PySide6.QtGui import QGuiApplication

    answer = "First paragraph.\n\n```python\nprint('hi')\n```\n\nLast **line**."
    window, _ = open_window(replies=[answer])
    send(qtbot, window, "hi")
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    window.chat_view.last().copy_button.click()
    assert QGuiApplication.clipboard().text() == answer


def test_the_model_titles_a_conversation_after_its_first_answer(qtbot, open_window):
    window, engine = open_window(random_weights=False, replies=["Kyoto in spring.", "More."])
    send(qtbot, window, "Where should I go in April?")
    qtbot.waitUntil(lambda: window.sidebar.titles() == ["Model title for Where should I go in April?"],
                    timeout=3000)
    [asked] = engine.of_type(ev.WriteTitle)
    conv = window.controller.current_id
    assert asked.conversation_id == conv and "Assistant: Kyoto in spring." in asked.text
    assert engine.commands.index(asked) > engine.commands.index(engine.of_type(ev.SaveSession)[0])
    send(qtbot, window, "And in May?")  # later answers ask for nothing
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "More.", timeout=3000)
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    assert len(engine.of_type(ev.WriteTitle)) == 1


def test_the_demo_model_writes_no_titles(qtbot, open_window):
    window, engine = open_window(replies=["noise"])  # random weights
    send(qtbot, window, "hello")
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    assert engine.of_type(ev.WriteTitle) == [] and window.sidebar.titles() == ["hello"]
