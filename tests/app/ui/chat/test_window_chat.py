"""The chat window against the fake engine: send/stream, stop, regenerate, edit, reopen, responsiveness."""

from __future__ import annotations

import itertools
import sqlite3
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel

from engine import protocol as ev

CODE_REPLY = "Here is **bold** text and code:\n\n```python\nprint('hi')\n```\n\nDone."


def send(qtbot, window, text: str) -> None:
    window.composer.edit.setFocus()
    qtbot.keyClicks(window.composer.edit, text)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)


def wait_answer(qtbot, window, reason: str = "stop", timeout: int = 3000):
    def done():
        last = window.chat_view.last()
        assert last is not None and last.role == "assistant" and last.finish_reason == reason
    qtbot.waitUntil(done, timeout=timeout)
    return window.chat_view.last()


def test_send_streams_markdown_answer(qtbot, open_window):
    window, engine = open_window(replies=[CODE_REPLY], token_delay=0.01)
    seen: list[str] = []
    window.bridge.text_received.connect(lambda e: seen.append(window.chat_view.last().answer))
    send(qtbot, window, "hello")
    answer = wait_answer(qtbot, window)

    [msg] = engine.of_type(ev.SendMessage)
    assert msg.content == "hello" and msg.session_id == window.controller.current_id
    assert len(set(seen)) > 5 and seen[0] != CODE_REPLY  # it arrived in pieces
    assert answer.answer == CODE_REPLY
    [block] = answer.markdown_view.code_blocks()
    assert block.code == "print('hi')" and block.language_label.text() == "python"
    block.copy_button.click()
    assert QGuiApplication.clipboard().text() == "print('hi')"
    assert window.composer.text == ""
    stored = window.store.messages(window.controller.current_id)
    assert [(m.role, m.content) for m in stored] == [("user", "hello"), ("assistant", CODE_REPLY)]
    assert window.sidebar.titles() == ["hello"]
    assert "42.5 tok/s" in window.status_line.speed_label.text()


def test_shift_return_breaks_the_line_and_return_sends(qtbot, open_window):
    window, engine = open_window()
    qtbot.keyClicks(window.composer.edit, "one")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.composer.edit, "two")
    assert window.composer.text == "one\ntwo" and not engine.of_type(ev.SendMessage)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    wait_answer(qtbot, window)
    assert engine.of_type(ev.SendMessage)[0].content == "one\ntwo"


def test_user_message_is_on_disk_before_it_is_shown(qtbot, open_window, data_dir):
    window, _ = open_window()
    found: list = []

    def check(widget):
        if widget.role == "user":  # read with a separate connection, as a crash-restart would
            rows = sqlite3.connect(data_dir / "tandem.sqlite3").execute(
                "SELECT content FROM messages WHERE role = 'user'").fetchall()
            found.append(rows)

    window.chat_view.message_shown.connect(check)
    send(qtbot, window, "durable")
    wait_answer(qtbot, window)
    assert found == [[("durable",)]]


def test_escape_stops_and_keeps_the_partial_answer(qtbot, open_window):
    words = " ".join(f"w{i}" for i in range(400))
    window, engine = open_window(replies=[words], token_delay=0.01)
    send(qtbot, window, "go")
    qtbot.waitUntil(lambda: len(window.chat_view.last().answer) > 10, timeout=3000)
    assert window.composer.send_button.accessibleName() == "Stop"
    window.activateWindow()
    qtbot.keyClick(window.chat_view, Qt.Key.Key_Escape)
    answer = wait_answer(qtbot, window, reason="cancelled")

    assert engine.of_type(ev.Cancel)[0].session_id == window.controller.current_id
    assert 0 < len(answer.answer) < len(words)
    saved = window.store.messages(window.controller.current_id)[-1]
    assert saved.role == "assistant" and saved.finish_reason == "cancelled"
    assert saved.content == answer.answer and words.startswith(saved.content)
    assert "Stopped" in answer.meta_label.text()
    assert window.composer.send_button.accessibleName() == "Send"


def test_regenerate_replaces_the_last_answer(qtbot, open_window):
    window, engine = open_window(replies=["first answer", "second answer"])
    send(qtbot, window, "question")
    first = wait_answer(qtbot, window)
    assert first.regenerate_button.isVisibleTo(window)
    first.regenerate_button.click()
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "second answer"
                    and window.chat_view.last().finish_reason == "stop", timeout=3000)

    assert len(engine.of_type(ev.Regenerate)) == 1
    assert [m.role for m in window.chat_view.messages] == ["user", "assistant"]
    stored = window.store.messages(window.controller.current_id)
    assert [m.content for m in stored] == ["question", "second answer"]


def test_a_regenerate_stopped_before_it_starts_keeps_the_old_answer(qtbot, open_window):
    """Stop while the engine still prepares the new answer: the old one stays, shown and stored."""
    window, engine = open_window(replies=["first answer", "second answer"])
    send(qtbot, window, "question")
    first = wait_answer(qtbot, window)
    engine.prefill_delay = 0.5
    first.regenerate_button.click()
    qtbot.waitUntil(engine.generating.is_set, timeout=3000)
    window.controller.stop()
    qtbot.waitUntil(lambda: not window.controller.core.pending, timeout=3000)
    assert window.chat_view.last() is first and first.answer == "first answer"
    stored = window.store.messages(window.controller.current_id)
    assert [m.content for m in stored] == ["question", "first answer"]


def two_answered_turns(qtbot, open_window):
    """A window whose conversation has q1/a1 and q2/a2 (a third reply waits); (window, engine)."""
    window, engine = open_window(replies=["a1", "a2", "a3"])
    send(qtbot, window, "q1")
    wait_answer(qtbot, window)
    send(qtbot, window, "q2")
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "a2", timeout=3000)
    wait_answer(qtbot, window)
    return window, engine


def test_edit_an_earlier_message_rolls_back(qtbot, open_window):
    window, engine = two_answered_turns(qtbot, open_window)

    first_user = window.chat_view.messages[0]
    first_user.edit_button.click()
    assert window.composer.text == "q1" and window.composer.edit_banner.isVisibleTo(window)
    window.composer.edit.selectAll()
    qtbot.keyClicks(window.composer.edit, "q1 edited")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "a3", timeout=3000)
    wait_answer(qtbot, window)

    [rollback] = engine.of_type(ev.Rollback)
    assert rollback.turn == 0 and rollback.session_id == window.controller.current_id
    assert engine.commands.index(rollback) < engine.commands.index(engine.of_type(ev.SendMessage)[-1])
    stored = window.store.messages(window.controller.current_id)
    assert [m.content for m in stored] == ["q1 edited", "a3"]
    assert [w.role for w in window.chat_view.messages] == ["user", "assistant"]
    assert engine.sessions[window.controller.current_id] == ["q1 edited"]


def test_thinking_is_collapsed_and_tool_calls_are_cards(qtbot, open_window):
    window, _ = open_window(replies=["Let me look."], thinking="The user wants a listing.",
                            tool_call=("list_files", {"path": "."}))
    send(qtbot, window, "what files are here?")
    answer = wait_answer(qtbot, window)
    section = answer.thinking_section
    assert section.isVisibleTo(window) and not section.is_open
    assert section.text() == "The user wants a listing."
    assert section.toggle.text() == "Thought process"
    section.toggle.click()
    assert section.is_open
    assert answer.tool_calls == [{"name": "list_files", "arguments": {"path": "."}}]
    saved = window.store.messages(window.controller.current_id)[-1]
    assert saved.thinking == "The user wants a listing."
    assert saved.tool_calls == ({"name": "list_files", "arguments": {"path": "."}},)


def test_gui_stays_responsive_during_a_long_prefill(qtbot, open_window):
    window, engine = open_window(prefill_delay=0.6)
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: ticks.append(time.monotonic()))
    heartbeat.start()
    send(qtbot, window, "think hard")
    qtbot.waitUntil(engine.generating.is_set, timeout=2000)
    busy_from = time.monotonic()
    wait_answer(qtbot, window, timeout=5000)
    heartbeat.stop()
    during = [t for t in ticks if t >= busy_from]
    assert len(during) >= 10  # ~60 expected; a blocked GUI thread would give ~0
    gaps = [b - a for a, b in itertools.pairwise(during)]
    assert max(gaps) < 0.4  # the fake engine sleeps 0.6 s in one piece


def test_quit_and_reopen_finds_conversation_and_attachments(qtbot, open_window, tmp_path):
    from PIL import Image

    image = tmp_path / "photo.png"
    Image.new("RGB", (32, 20), (10, 120, 200)).save(image)
    window, _ = open_window(replies=["A blue rectangle."])
    window.controller.attach_files([str(image)])
    send(qtbot, window, "describe")
    wait_answer(qtbot, window)
    conv_id = window.controller.current_id
    qtbot.waitUntil(lambda: window.store.session_cache_path(conv_id).exists(), timeout=2000)
    window.close()
    image.unlink()

    again, engine2 = open_window(replies=["Still blue."])
    assert again.controller.current_id == conv_id
    assert again.sidebar.ids() == [conv_id] and again.sidebar.titles() == ["describe"]
    user, answer = again.chat_view.messages
    assert user.text == "describe" and answer.answer == "A blue rectangle."
    [attachment] = user.attachments
    assert attachment.filename == "photo.png" and attachment.path.exists()
    send(qtbot, again, "and now?")
    qtbot.waitUntil(lambda: again.chat_view.last().answer == "Still blue.", timeout=3000)
    opened = engine2.of_type(ev.OpenSession)[0]
    loaded = engine2.of_type(ev.LoadSession)[0]
    assert opened.session_id == loaded.session_id == conv_id
    assert engine2.commands.index(loaded) < engine2.commands.index(engine2.of_type(ev.SendMessage)[0])


def test_new_chat_shortcut_and_switching_conversations(qtbot, open_window):
    window, _ = open_window(replies=["one", "two"])
    send(qtbot, window, "first chat")
    wait_answer(qtbot, window)
    first = window.controller.current_id
    window.new_action.trigger()
    assert window.controller.current_id is None and window.chat_view.messages == []
    send(qtbot, window, "second chat")
    wait_answer(qtbot, window)
    assert window.sidebar.titles() == ["second chat", "first chat"]
    window.sidebar.list.setCurrentRow(1)
    assert window.controller.current_id == first
    assert [w.role for w in window.chat_view.messages] == ["user", "assistant"]
    assert window.chat_view.messages[1].answer == "one"


def test_closing_mid_answer_stores_the_partial_answer(qtbot, open_window):
    words = " ".join(f"w{i}" for i in range(400))
    window, engine = open_window(replies=[words], token_delay=0.01)
    send(qtbot, window, "long one")
    qtbot.waitUntil(lambda: len(window.chat_view.last().answer) > 10, timeout=3000)
    conv_id = window.controller.current_id
    window.close()
    saved = window.store.messages(conv_id)[-1]
    assert saved.role == "assistant" and saved.finish_reason == "cancelled"
    assert saved.content and words.startswith(saved.content)
    assert engine.of_type(ev.Cancel)[0].session_id == conv_id


def test_reopen_without_a_saved_cache_feeds_the_stored_turns(qtbot, open_window):
    window, _ = open_window(replies=["Paris."])
    send(qtbot, window, "Capital of France?")
    wait_answer(qtbot, window)
    conv_id = window.controller.current_id
    qtbot.waitUntil(lambda: window.store.session_cache_path(conv_id).exists(), timeout=2000)
    window.close()
    window.store.session_cache_path(conv_id).unlink()  # e.g. a cache from another model version

    again, engine2 = open_window(replies=["Berlin."])
    send(qtbot, again, "And Germany?")
    qtbot.waitUntil(lambda: again.chat_view.last().answer == "Berlin.", timeout=3000)
    history = engine2.of_type(ev.LoadHistory)[0]
    assert history.session_id == conv_id and not engine2.of_type(ev.LoadSession)
    assert history.messages == [{"role": "user", "content": "Capital of France?"},
                                {"role": "assistant", "content": "Paris."}]
    assert engine2.commands.index(history) < engine2.commands.index(engine2.of_type(ev.SendMessage)[0])


def test_long_unbroken_lines_wrap_or_scroll_and_are_never_clipped(qtbot, open_window):
    word = "x" * 300
    code = "print('" + "y" * 400 + "')"
    window, _ = open_window(replies=[f"See {word} here.\n\n```python\n{code}\n```\n"])
    send(qtbot, window, "z" * 250)  # the person's own long line, too
    answer = wait_answer(qtbot, window)
    QApplication.processEvents()
    column = window.chat_view.column.width()
    user = window.chat_view.messages[0]
    for widget in (user, answer):
        assert widget.width() <= column
    label = user.text_label
    assert label.minimumSizeHint().width() <= label.width() <= column
    assert label.heightForWidth(label.width()) > 2 * label.fontMetrics().height()  # it wrapped
    [prose] = [w for w in answer.markdown_view.findChildren(QLabel) if w.objectName() == "Prose"]
    assert prose.minimumSizeHint().width() <= prose.width() <= column
    assert prose.heightForWidth(prose.width()) > 2 * prose.fontMetrics().height()
    [block] = answer.markdown_view.code_blocks()
    assert block.width() <= column
    bar = block.scroller.horizontalScrollBar()
    assert bar.maximum() > 0 and bar.isVisible()  # the long code line scrolls sideways
    assert block.scroller.height() >= block.body.height() + bar.height()  # and shows whole
    assert block.code == code  # copies without break marks


def test_the_composer_lines_up_with_the_message_column_and_its_placeholder_fits(qtbot, open_window):
    from PySide6.QtWidgets import QFrame

    window, _ = open_window(size=(1400, 800))
    frame = window.composer.findChild(QFrame, "ComposerFrame")
    edit = window.composer.edit

    def check() -> None:
        for _ in range(3):  # the resize, then the layouts it asks for
            QApplication.processEvents()
        column = window.chat_view.column
        left = column.mapTo(window, column.rect().topLeft()).x()
        assert abs(frame.mapTo(window, frame.rect().topLeft()).x() - left) <= 1
        assert abs(frame.width() - column.width()) <= 1
        room = edit.viewport().width() - 2 * edit.document().documentMargin()
        assert edit.fontMetrics().horizontalAdvance(edit.placeholderText()) <= room

    for width in (1400, 1000, 700, 640):
        window.resize(width, 800)
        check()
    window.splitter.setSizes([420, 220])  # a wide sidebar: the narrowest chat
    check()
    assert edit.placeholderText() == "Message Tandem…"
    for i in range(12):  # enough messages for the scroll bar, which narrows the column's room
        conv = window.controller.core.ensure_conversation()
        window.controller.core.add_user_message(conv, f"line {i}\n" * 4)
    for width in (1400, 900, 640):
        window.resize(width, 600)
        check()
    assert window.chat_view.verticalScrollBar().isVisible()


def test_regenerate_keeps_the_earlier_answers_to_move_between(qtbot, open_window):
    window, engine = open_window(replies=["first answer", "second answer", "third answer", "next"])
    send(qtbot, window, "question")
    wait_answer(qtbot, window).regenerate_button.click()
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "second answer", timeout=3000)
    wait_answer(qtbot, window).regenerate_button.click()
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "third answer", timeout=3000)
    answer = wait_answer(qtbot, window)
    switcher = answer.variants
    # The answer's widget is made when the engine accepts; Qt shows a widget added to a layout a moment later.
    qtbot.waitUntil(lambda: switcher.isVisibleTo(window) and switcher.label.text() == "3/3", timeout=2000)
    assert not switcher.next_button.isEnabled()

    switcher.previous_button.click()
    shown = window.chat_view.last()
    assert shown.answer == "second answer" and shown.variants.label.text() == "2/3"
    conv = window.controller.current_id
    assert [m.content for m in window.store.messages(conv)] == ["question", "second answer"]
    # The engine's session now holds that answer: fed again from the store, nothing generated.
    assert engine.of_type(ev.OpenSession)[-1].session_id == conv
    qtbot.waitUntil(lambda: engine.histories.get(conv) == [
        ("user", "question"), ("assistant", "second answer")], timeout=2000)
    assert len(engine.of_type(ev.SendMessage)) == 1 and len(engine.of_type(ev.Regenerate)) == 2
    shown.variants.previous_button.click()
    assert window.chat_view.last().answer == "first answer"
    assert not window.chat_view.last().variants.previous_button.isEnabled()

    send(qtbot, window, "and then?")  # the conversation goes on from the version shown
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "next", timeout=3000)
    wait_answer(qtbot, window)
    assert [m.content for m in window.store.messages(conv)] == [
        "question", "first answer", "and then?", "next"]
    window.controller.open_conversation(conv)  # stored: reopened, it still has its versions
    assert window.chat_view.messages[1].variants.label.text() == "1/3"


def test_editing_keeps_the_old_branch_reachable(qtbot, open_window):
    window, engine = two_answered_turns(qtbot, open_window)
    window.chat_view.messages[0].edit_button.click()
    window.composer.edit.selectAll()
    qtbot.keyClicks(window.composer.edit, "q1 edited")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "a3", timeout=3000)
    wait_answer(qtbot, window)
    edited = window.chat_view.messages[0]
    assert edited.text == "q1 edited" and edited.variants.label.text() == "2/2"

    edited.variants.previous_button.click()
    assert [(w.role, w.text if w.role == "user" else w.answer)
            for w in window.chat_view.messages] == [
        ("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]
    assert window.chat_view.messages[0].variants.label.text() == "1/2"
    conv = window.controller.current_id
    qtbot.waitUntil(lambda: engine.sessions.get(conv) == ["q1", "q2"], timeout=2000)
    window.chat_view.messages[0].variants.next_button.click()
    assert [m.content for m in window.store.messages(conv)] == ["q1 edited", "a3"]


def test_versions_cannot_be_switched_while_an_answer_is_written(qtbot, open_window):
    window, engine = open_window(replies=["one", "two", "a long answer " * 400], token_delay=0.01)
    send(qtbot, window, "q")
    wait_answer(qtbot, window).regenerate_button.click()
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "two", timeout=10000)
    wait_answer(qtbot, window)
    send(qtbot, window, "more")
    qtbot.waitUntil(lambda: window.controller.core.answering, timeout=10000)
    answer = window.chat_view.messages[1]
    qtbot.waitUntil(lambda: answer.variants.isVisibleTo(window), timeout=10000)
    assert answer.variants.isVisibleTo(window) and not answer.variants.isEnabled()
    window.controller.switch_variant(1, 1)  # refused while the answer streams: nothing changes
    assert [m.content for m in window.store.messages(window.controller.current_id)][:2] == ["q", "two"]
    window.stop_action.trigger()
    wait_answer(qtbot, window, reason="cancelled")
    assert answer.variants.isEnabled()
