"""Undo from the agent view, answering its real confirmation dialogs: what the dialog promises
(the person's later edits are kept), the exact bytes back, what undo left alone, and failures said
in a sentence."""

from __future__ import annotations

from dialogs import answer_message_box
from test_agent_view import open_agent, run_task, wait_finished

from app.agent import ScriptedModel, UndoError
from app.agent.scripted import call, calls
from app.ui.agent.controller import undo_failure


def test_undo_restores_the_exact_bytes(qtbot, tmp_path):
    original = b"line one\r\n\x00\xff binary tail"
    view, ws = open_agent(qtbot, tmp_path, ScriptedModel([
        calls(call("write_file", path="data.bin", content="overwritten\n")),
        calls(call("write_file", path="new.txt", content="new\n")),
    ]))
    (ws / "data.bin").write_bytes(original)
    run_task(qtbot, view)
    wait_finished(qtbot, view)
    qtbot.waitUntil(
        lambda: len(view.checkpoints) == 3 and view.header.undo_button.isEnabled(), timeout=10000
    )
    seen = answer_message_box("Undo")
    view.header.undo_button.click()
    assert seen and "left as they are" in seen[0] and "lost" not in seen[0]
    qtbot.waitUntil(
        lambda: not (ws / "new.txt").exists() and len(view.checkpoints) == 2, timeout=10000
    )
    assert (ws / "data.bin").read_bytes() == b"overwritten\n"
    before_task = view.header.checkpoint_menu.actions()[-1]
    assert before_task.text().startswith("Before the task")
    seen = answer_message_box("Go Back")
    before_task.trigger()
    assert "later checkpoints are removed" in seen[0]
    qtbot.waitUntil(lambda: len(view.checkpoints) == 1, timeout=10000)
    assert (ws / "data.bin").read_bytes() == original
    assert not view.header.undo_button.isEnabled()


def test_cancel_in_the_dialog_changes_nothing(qtbot, tmp_path):
    view, ws = open_agent(qtbot, tmp_path, ScriptedModel([
        calls(call("write_file", path="a.txt", content="agent\n"))]))
    run_task(qtbot, view)
    wait_finished(qtbot, view)
    qtbot.waitUntil(lambda: view.header.undo_button.isEnabled(), timeout=10000)
    seen = answer_message_box("Cancel")
    view.header.undo_button.click()
    assert seen  # the dialog was shown and answered
    assert not view.undo.busy and view.header.undo_button.isEnabled()
    qtbot.wait(100)
    assert (ws / "a.txt").read_text() == "agent\n" and len(view.checkpoints) == 2


def test_the_persons_later_edits_are_kept_and_listed(qtbot, tmp_path):
    view, ws = open_agent(qtbot, tmp_path, ScriptedModel([
        calls(call("write_file", path="a.txt", content="agent a\n"),
              call("write_file", path="b.txt", content="agent b\n"))]))
    run_task(qtbot, view)
    wait_finished(qtbot, view)
    qtbot.waitUntil(lambda: view.header.undo_button.isEnabled(), timeout=10000)
    (ws / "b.txt").write_text("my own edit\n")  # the person works on after the run
    answer_message_box("Undo")
    view.header.undo_button.click()
    qtbot.waitUntil(lambda: not (ws / "a.txt").exists(), timeout=10000)
    assert (ws / "b.txt").read_text() == "my own edit\n"
    labels = view.timeline.column.findChildren(type(view.header.state_label))
    notes = [label.text() for label in labels if label.objectName() == "AgentNote"]
    assert any(n.startswith("↩ The files are back") and "1 file put back." in n for n in notes)
    assert "Left your later edits alone: b.txt." in notes


def test_checkpoints_of_earlier_runs_can_be_undone_later(qtbot, tmp_path):
    view, ws = open_agent(qtbot, tmp_path, ScriptedModel([
        calls(call("write_file", path="a.txt", content="agent\n"))]))
    (ws / "a.txt").write_text("mine\n")
    run_task(qtbot, view)
    wait_finished(qtbot, view)
    view.close()
    again, _ = open_agent(qtbot, tmp_path, ScriptedModel([]))  # as after a restart
    assert again.workspace == ws.resolve()
    qtbot.waitUntil(lambda: again.header.undo_button.isEnabled(), timeout=10000)
    answer_message_box("Undo")
    again.header.undo_button.click()
    qtbot.waitUntil(lambda: len(again.checkpoints) == 1, timeout=10000)  # listed after the undo
    assert (ws / "a.txt").read_text() == "mine\n"


def test_undo_failures_are_sentences():
    assert undo_failure(UndoError("nothing to undo: there is no earlier undo point")) == (
        "Undo did not happen: nothing to undo: there is no earlier undo point. "
        "The files are as they were."
    )
    disk = undo_failure(OSError(28, "No space left on device"))
    assert disk.startswith("Undo did not happen: a file could not be read or written")
    assert "(no space left on device)" in disk
    unexpected = undo_failure(KeyError("x"))
    assert "KeyError" not in unexpected and "'x'" not in unexpected
