"""The chat window against the fake engine: send/stream, stop, regenerate, edit, reopen, responsiveness."""

from __future__ import annotations

import itertools
import sqlite3
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication

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


def test_edit_an_earlier_message_rolls_back(qtbot, open_window):
    window, engine = open_window(replies=["a1", "a2", "a3"])
    send(qtbot, window, "q1")
    wait_answer(qtbot, window)
    send(qtbot, window, "q2")
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "a2", timeout=3000)
    wait_answer(qtbot, window)

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
