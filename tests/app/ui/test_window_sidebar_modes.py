"""The window's sidebar across modes: chats and agent runs listed together, a click opens each in
its own view, a restart reopens either, and what reopening must keep (a chat's unreadable tool
call). Also the status line after an agent run stopped during its first prefill."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import QLabel

from app.agent import ApprovalMode, ScriptedModel, StopReason
from app.agent.scripted import call, calls
from app.store import AGENT_RUN
from app.ui.agent.model_source import SingleModel


def agent_run(qtbot, window, ws: Path, model, task="Write a.txt") -> str:
    """Run `model` on `ws` in the window's agent view (full auto) to its end; the run's id."""
    window.agent_controller.models = SingleModel(model)
    window.agent_controller.use_sandbox = False
    window.show_mode("agent")
    view = window.agent_view
    view.set_workspace(ws)
    view.header.mode_box.setCurrentIndex(view.header.mode_box.findData(ApprovalMode.FULL_AUTO))
    view.composer.edit.setPlainText(task)
    assert view.start()
    qtbot.waitUntil(lambda: view.finished is not None, timeout=15000)
    return view.history.run_id


def card_text(message) -> str:
    """The text of a message's first tool-call card, as the person reads it."""
    card = message.cards.itemAt(0).widget()
    return html.unescape(" ".join(label.text() for label in card.findChildren(QLabel)))


def select_row(window, conversation_id: str) -> None:
    """Click the sidebar row of `conversation_id`, as the person does."""
    row = window.sidebar.ids().index(conversation_id)
    window.sidebar.list.setCurrentRow(row)


def test_runs_are_listed_with_their_own_icon_and_a_click_switches_views(qtbot, open_window,
                                                                          tmp_path):
    window, _ = open_window()
    chat = window.store.create_conversation("Sourdough schedule")
    window.store.add_message(chat.id, "user", "when do I feed it?")
    window.controller.refresh_sidebar()
    ws = tmp_path / "project"
    ws.mkdir()
    run_id = agent_run(qtbot, window, ws, ScriptedModel([
        calls(call("write_file", path="a.txt", content="x\n"))]))
    assert window.sidebar.ids() == [run_id, chat.id]
    assert window.sidebar.kinds() == [AGENT_RUN, "chat"]
    assert window.sidebar.titles()[0] == "Write a.txt"
    run_item, chat_item = (window.sidebar.list.item(i) for i in range(2))
    assert not run_item.icon().isNull() and run_item.icon().cacheKey() != chat_item.icon().cacheKey()
    assert window.sidebar.list.currentItem() is run_item  # the run shown is the row highlighted

    select_row(window, chat.id)  # a chat clicked in agent mode
    assert window.modes.currentWidget() is not window.agent_view
    assert window.controller.current_id == chat.id
    assert len(window.chat_view.messages) == 1  # its message, not the run's
    assert window.sidebar.ids()[window.sidebar.list.currentRow()] == chat.id

    select_row(window, run_id)  # and the run, from chat mode
    assert window.modes.currentWidget() is window.agent_view
    assert window.agent_view.shown_id == run_id
    assert window.agent_view.timeline.task_label.text() == "Write a.txt"
    assert window.controller.current_id == chat.id  # the chat stays open behind it

    window.new_action.trigger()  # New Chat from agent mode shows the chat view
    assert window.modes.currentWidget() is not window.agent_view
    assert window.controller.current_id is None


def test_an_agent_run_reopens_after_a_restart(qtbot, open_window, tmp_path):
    window, _ = open_window()
    ws = tmp_path / "project"
    ws.mkdir()
    run_id = agent_run(qtbot, window, ws, ScriptedModel([
        calls(call("write_file", path="a.txt", content="from the agent\n"), text="Writing.")]))
    window.close()

    again, _ = open_window()  # the same data folder: as after a restart
    view = again.agent_view
    assert again.modes.currentWidget() is view and view.shown_id == run_id
    assert view.timeline is view.stored_timeline
    assert view.steps[1].text == "Writing."
    assert "+from the agent" in view.cards[1].diff_view.diff
    assert view.timeline.finish_title.text() == "Finished"
    assert view.workspace == ws.resolve()
    qtbot.waitUntil(lambda: view.header.undo_button.isEnabled(), timeout=10000)
    assert again.sidebar.ids()[again.sidebar.list.currentRow()] == run_id


def test_a_deleted_run_leaves_the_list_and_the_view(qtbot, open_window, tmp_path):
    window, _ = open_window()
    ws = tmp_path / "project"
    ws.mkdir()
    run_id = agent_run(qtbot, window, ws, ScriptedModel([]))
    window.sidebar.delete_requested.emit(run_id)  # what Delete… sends once confirmed
    assert run_id not in window.sidebar.ids() and window.store.conversation(run_id) is None
    assert window.agent_view.shown_id == "" and window.agent_view.timeline.is_empty


def test_a_chats_unreadable_tool_call_is_still_there_when_reopened(qtbot, open_window):
    raw = '<|tool_call>call:list_files{path:<|"|>.<tool_call|>'
    window, _ = open_window(replies=["Let me look."], parse_error=raw)
    window.controller.send("what is here?")
    qtbot.waitUntil(lambda: not window.controller.core.answering, timeout=5000)
    first = window.controller.current_id
    shown = card_text(window.chat_view.messages[-1])
    assert raw in shown and "unparsed tool call" in shown
    window.new_action.trigger()
    assert window.chat_view.messages == []
    select_row(window, first)  # reopened: the card is read back from the store
    assert card_text(window.chat_view.messages[-1]) == shown


def test_stopping_a_run_in_its_first_prefill_clears_the_progress_bar(qtbot, open_window, tmp_path):
    window, engine = open_window(prefill_progress=True)
    ws = tmp_path / "project"
    ws.mkdir()
    window.show_mode("agent")
    view = window.agent_view  # on the window's engine (EngineModelSource), as in the app
    view.set_workspace(ws)
    view.composer.edit.setPlainText("What is in this folder?")
    assert view.start()
    qtbot.waitUntil(lambda: window.status_line.progress.isVisible(), timeout=10000)
    assert window.status_line.progress.value() == 1
    view.header.stop_button.click()
    qtbot.waitUntil(lambda: view.finished is not None, timeout=10000)
    assert view.finished.reason is StopReason.STOPPED
    qtbot.waitUntil(lambda: not window.status_line.progress.isVisible(), timeout=3000)
