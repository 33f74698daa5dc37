"""The coding agent's view driven by a scripted model: real files, commands and checkpoints, no weights."""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer

from app.agent import ApprovalMode, Reply, ScriptedModel, StopReason
from app.agent.scripted import call, calls
from app.store import Store
from app.ui.agent.controller import AgentController
from app.ui.agent.model_source import SingleModel
from app.ui.agent.view import AgentView
from app.ui.settings import Key, Settings

PY = sys.executable


class SlowModel(ScriptedModel):
    """A scripted model that takes `delay` seconds per reply, as a real one does."""

    delay: float = 0.0

    def _next(self) -> Reply:
        time.sleep(self.delay)
        return super()._next()


def open_agent(qtbot, tmp_path: Path, model, mode=ApprovalMode.FULL_AUTO, max_steps=10):
    """An AgentView on `model`, with a workspace folder (returned) and its own data folder."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    ws = tmp_path / "project"
    ws.mkdir(exist_ok=True)
    settings = Settings(QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_value(Key.AGENT_APPROVAL_MODE, mode.value)
    settings.set_value(Key.AGENT_MAX_STEPS, max_steps)
    store = Store(data)
    controller = AgentController(data, SingleModel(model), use_sandbox=False, kill_grace_s=0.2)
    view = AgentView(settings, store, controller)
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    view.set_workspace(ws)
    return view, ws


def run_task(qtbot, view, text="do it", timeout=15000):
    view.composer.edit.setPlainText(text)
    assert view.start()


def wait_finished(qtbot, view, timeout=15000):
    qtbot.waitUntil(lambda: view.finished is not None, timeout=timeout)
    return view.finished


def test_a_run_shows_its_steps_and_the_finish_reason(qtbot, tmp_path):
    model = ScriptedModel(
        [
            calls(call("list_dir", path="."), text="Let me look at the project."),
            calls(call("read_file", path="notes.txt")),
            Reply(text="The notes say **hello**."),
        ]
    )
    view, ws = open_agent(qtbot, tmp_path, model)
    (ws / "notes.txt").write_text("hello\n")
    run_task(qtbot, view, "What do the notes say?")
    assert view.timeline.task_label.text() == "What do the notes say?"
    assert not view.composer.text  # the task moved from the box to the column
    finished = wait_finished(qtbot, view)
    assert finished.reason is StopReason.DONE
    assert sorted(view.steps) == [1, 2, 3]
    assert view.steps[1].text == "Let me look at the project."
    first, second = view.cards.values()
    assert first.title.text() == "List ." and second.title.text() == "Read notes.txt"
    assert second.observation.ok and "hello" in second.result_body.text()
    assert not second.result_open  # observations are collapsed until opened
    second.result_toggle.click()
    assert second.result_open
    assert view.timeline.finish_title.text() == "Finished"
    assert view.timeline.finish_banner.isVisibleTo(view)
    assert "Step 3 of 10" in view.header.limits_label.text()
    assert not view.header.stop_button.isVisibleTo(view)


def test_approve_shows_the_diff_then_writes(qtbot, tmp_path):
    model = ScriptedModel([calls(call("write_file", path="app.py", content="print('hi')\n"))])
    view, ws = open_agent(qtbot, tmp_path, model, mode=ApprovalMode.ASK)
    run_task(qtbot, view)
    qtbot.waitUntil(lambda: any(c.approval for c in view.cards.values()), timeout=10000)
    card = next(iter(view.cards.values()))
    assert view.header.state_label.text() == "Waiting for you"
    assert "+print('hi')" in card.diff_view.diff and card.caption.text() == "+1 −0"
    assert not (ws / "app.py").exists()  # nothing is written before the person says so
    card.approval.approve_button.click()
    assert wait_finished(qtbot, view).reason is StopReason.DONE
    assert (ws / "app.py").read_text() == "print('hi')\n"
    assert card.approval.verdict.text() == "✓ Approved"


def test_deny_sends_the_message_back_to_the_model(qtbot, tmp_path):
    model = ScriptedModel(
        [
            calls(call("edit_file", path="a.txt", old_text="one", new_text="two")),
            Reply(text="Understood, leaving it."),
        ]
    )
    view, ws = open_agent(qtbot, tmp_path, model, mode=ApprovalMode.ASK)
    (ws / "a.txt").write_text("one\n")
    run_task(qtbot, view)
    qtbot.waitUntil(lambda: any(c.approval for c in view.cards.values()), timeout=10000)
    card = next(iter(view.cards.values()))
    assert "-one" in card.diff_view.diff and "+two" in card.diff_view.diff
    card.approval.message_edit.setText("keep it as one, it is a name")
    card.approval.deny_button.click()
    wait_finished(qtbot, view)
    seen = model.tool_results()[0]["response"]
    assert seen["user_message"] == "keep it as one, it is a name"
    assert (ws / "a.txt").read_text() == "one\n"
    assert "keep it as one" in card.approval.verdict.text()
    assert card.error_label.isVisibleTo(view)


def test_command_output_streams_into_the_view(qtbot, tmp_path):
    script = (
        "import time\nfor i in range(3):\n    print('line', i, flush=True)\n    time.sleep(0.4)\n"
    )
    model = ScriptedModel([calls(call("run_command", command=f"{PY} -u slow.py"))])
    view, ws = open_agent(qtbot, tmp_path, model)
    (ws / "slow.py").write_text(script)
    run_task(qtbot, view)
    qtbot.waitUntil(
        lambda: (
            1 in view.cards
            and view.cards[1].output_view is not None
            and "line 0" in view.cards[1].output_view.text
        ),
        timeout=10000,
    )
    card = view.cards[1]
    assert card.observation is None  # still running: the output came before the result
    wait_finished(qtbot, view)
    assert [ln for ln in card.output_view.text.splitlines()] == ["line 0", "line 1", "line 2"]
    assert card.caption.text() == "exit 0"


def test_stop_kills_the_command_and_says_so(qtbot, tmp_path):
    model = ScriptedModel([calls(call("run_command", command="echo started; sleep 30"))])
    view, _ = open_agent(qtbot, tmp_path, model)
    run_task(qtbot, view)
    qtbot.waitUntil(
        lambda: (
            1 in view.cards
            and view.cards[1].output_view is not None
            and "started" in view.cards[1].output_view.text
        ),
        timeout=10000,
    )
    began = time.monotonic()
    view.header.stop_button.click()
    finished = wait_finished(qtbot, view, timeout=10000)
    assert time.monotonic() - began < 5
    assert finished.reason is StopReason.STOPPED
    assert view.timeline.finish_title.text() == "Stopped by you"
    assert view.header.state_label.text() == "Ready"


def test_no_folder_no_start(qtbot, tmp_path):
    view, _ = open_agent(qtbot, tmp_path, ScriptedModel([]))
    view.workspace = None
    view.composer.edit.setPlainText("do something")
    assert not view.start()
    assert "Open a folder" in view.composer.error_label.text()


def test_a_dropped_screenshot_goes_with_the_task(qtbot, tmp_path):
    from PIL import Image

    shot = tmp_path / "screen.png"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(shot)
    model = ScriptedModel([Reply(text="The header is red.")])
    view, _ = open_agent(qtbot, tmp_path, model)
    view.composer.files_offered.emit([str(shot)])
    assert len(view.composer.chips) == 1
    run_task(qtbot, view, "why does this screen look wrong?")
    wait_finished(qtbot, view)
    kind, task = model.received[0]
    assert kind == "begin" and task[0]["type"] == "image" and Path(task[0]["image"]).exists()
    assert task[1] == {"type": "text", "text": "why does this screen look wrong?"}


def test_the_gui_stays_responsive_while_the_run_works(qtbot, tmp_path):
    model = SlowModel([calls(call("run_command", command="sleep 0.6")), Reply(text="ok")])
    model.delay = 0.6
    view, _ = open_agent(qtbot, tmp_path, model)
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: ticks.append(time.monotonic()))
    heartbeat.start()
    busy_from = time.monotonic()
    run_task(qtbot, view)
    wait_finished(qtbot, view)
    heartbeat.stop()
    during = [t for t in ticks if t >= busy_from]
    assert len(during) >= 20  # ~180 expected over ~1.8 s; a blocked GUI thread gives ~0
    gaps = [b - a for a, b in itertools.pairwise(during)]
    assert max(gaps) < 0.4  # each reply and the command take 0.6 s in one piece


@pytest.mark.parametrize("mode", list(ApprovalMode))
def test_the_mode_is_remembered(qtbot, tmp_path, mode):
    view, _ = open_agent(qtbot, tmp_path, ScriptedModel([]), mode=mode)
    assert view.mode is mode


def test_stop_while_an_approval_waits(qtbot, tmp_path):
    model = ScriptedModel([calls(call("write_file", path="a.txt", content="x\n"))])
    view, ws = open_agent(qtbot, tmp_path, model, mode=ApprovalMode.ASK)
    run_task(qtbot, view)
    qtbot.waitUntil(lambda: 1 in view.cards and view.cards[1].approval is not None, timeout=10000)
    view.stop()
    assert wait_finished(qtbot, view).reason is StopReason.STOPPED
    assert view.cards[1].approval.verdict.text() == "Not answered: the run ended first."
    assert not (ws / "a.txt").exists()


def test_the_window_has_the_agent_view_and_gives_it_drops_and_esc(qtbot, open_window, tmp_path):
    from PIL import Image
    from PySide6.QtGui import QKeySequence
    from media_drops import drop_files

    window, _ = open_window()
    agent_action = next(a for a in window.view_menu.actions() if a.text() == "Coding Agent")
    assert agent_action.shortcut() == QKeySequence("Ctrl+2")
    agent_action.trigger()
    view = window.agent_view
    assert window.modes.currentWidget() is view
    shot = tmp_path / "screen.png"
    Image.new("RGB", (40, 30), (0, 90, 200)).save(shot)
    drop_files(window, [shot])  # anywhere in the window while the agent is shown
    assert len(view.composer.chips) == 1 and not window.composer.chips
    window.agent_controller.models = SingleModel(
        ScriptedModel([calls(call("run_command", command="echo started; sleep 30"))])
    )
    window.agent_controller.use_sandbox = False
    (tmp_path / "project").mkdir()
    view.set_workspace(tmp_path / "project")
    view.header.mode_box.setCurrentIndex(
        view.header.mode_box.findData(ApprovalMode.FULL_AUTO.value)
    )
    run_task(qtbot, view)
    qtbot.waitUntil(
        lambda: (
            1 in view.cards
            and view.cards[1].output_view is not None
            and "started" in view.cards[1].output_view.text
        ),
        timeout=10000,
    )
    window.stop_action.trigger()  # Esc
    assert wait_finished(qtbot, view).reason is StopReason.STOPPED


def test_a_run_that_cannot_start_says_why(qtbot, tmp_path):
    view, _ = open_agent(qtbot, tmp_path, ScriptedModel([]))
    view.set_workspace(tmp_path)  # holds the app's data folder, where checkpoints are kept
    run_task(qtbot, view)
    finished = wait_finished(qtbot, view)
    assert finished.reason is StopReason.ERROR
    assert view.timeline.finish_title.text() == "The run failed"
    assert finished.message == (
        f"The run could not start: {tmp_path.name} holds Tandem's own data folder, where the "
        "undo copies are kept. Choose a folder that does not contain it."
    )
    assert finished.message in view.timeline.finish_detail.text()


def test_the_reply_shows_while_it_is_written(qtbot, tmp_path):
    model = SlowModel([Reply(text="Hello there.")])
    model.delay = 0.5
    view, _ = open_agent(qtbot, tmp_path, model)
    view.show_partial("ignored: no run", "text")
    run_task(qtbot, view)
    qtbot.waitUntil(lambda: 1 in view.steps, timeout=5000)
    view.show_partial("Hel", "text")
    view.show_partial("lo", "text")
    assert view.steps[1].text == "Hello" and view.steps[1].status.text() == "Writing…"
    wait_finished(qtbot, view)
    assert view.steps[1].text == "Hello there."  # the whole reply replaces the preview


def test_an_unreadable_call_gets_a_note_and_the_run_goes_on(qtbot, tmp_path):
    bad = '<|tool_call>call:read_file{path:<|"|>notes.txt<tool_call|>'
    model = ScriptedModel([
        Reply(text="Reading it.", parse_errors=[bad], finish_reason="stop"),
        calls(call("read_file", path="notes.txt")),
        Reply(text="It says hello."),
    ])
    view, ws = open_agent(qtbot, tmp_path, model)
    (ws / "notes.txt").write_text("hello\n")
    run_task(qtbot, view)
    finished = wait_finished(qtbot, view)
    assert finished.reason is StopReason.DONE and finished.steps == 3
    unread = view.cards[1]
    assert unread.title.text() == "A tool call that could not be read"
    assert unread.note_label.isVisibleTo(view) and "the run went on" in unread.note_label.text()
    assert unread.state_label.property("state") == "hint"
    assert not unread.error_label.isVisibleTo(view)  # not shown as a failure
    assert "expected form" in unread.note_label.text() and "<|" not in unread.note_label.text()
    assert model.tool_results()[0]["response"]["hint"]  # the model got the hint
    assert view.cards[2].observation.ok and not view.cards[2].note_label.isVisibleTo(view)


def test_a_call_with_wrong_arguments_says_what_was_wrong(qtbot, tmp_path):
    model = ScriptedModel([calls(call("read_file", file="x.txt")), Reply(text="ok")])
    view, _ = open_agent(qtbot, tmp_path, model)
    run_task(qtbot, view)
    wait_finished(qtbot, view)
    card = view.cards[1]
    assert card.observation.format_hint
    assert card.note_label.text().startswith("This call could not be carried out as written (")


def test_a_reply_that_did_nothing_is_not_a_green_finish(qtbot, tmp_path):
    view, _ = open_agent(qtbot, tmp_path, ScriptedModel([Reply(text="Sure, I can help.")]))
    run_task(qtbot, view)
    wait_finished(qtbot, view)
    assert view.timeline.finish_title.text() == "Answered without using a tool"
    assert view.timeline.finish_banner.property("tone") == "quiet"
    assert "No tool was used and no file changed." in view.timeline.finish_detail.text()


def test_a_run_that_changed_files_names_them(qtbot, tmp_path):
    model = ScriptedModel([calls(call("write_file", path="a.txt", content="x\n"))])
    view, _ = open_agent(qtbot, tmp_path, model)
    run_task(qtbot, view)
    wait_finished(qtbot, view)
    assert view.timeline.finish_banner.property("tone") == "done"
    assert "1 tool call made and 1 file changed." in view.timeline.finish_detail.text()
    assert view.timeline.finish_notes[0].text() == "Changed: a.txt"


def test_commands_without_a_sandbox_say_so_at_every_turn(qtbot, tmp_path):
    model = ScriptedModel([calls(call("run_command", command="echo hi")), Reply(text="ok")])
    view, _ = open_agent(qtbot, tmp_path, model, mode=ApprovalMode.ASK)  # use_sandbox=False
    run_task(qtbot, view)
    qtbot.waitUntil(lambda: 1 in view.cards and view.cards[1].approval is not None, timeout=10000)
    card = view.cards[1]
    note = card.approval.note_label
    assert note.isVisibleTo(view) and "without a sandbox" in note.text()
    card.approval.approve_button.click()
    finished = wait_finished(qtbot, view)
    assert "without a sandbox" in card.note_label.text() and card.note_label.isVisibleTo(view)
    assert not note.isVisibleTo(view)  # the question's note went with the question
    assert any("without a sandbox" in n for n in finished.notes)
    assert any("without a sandbox" in label.text() for label in view.timeline.finish_notes)


def test_the_empty_state_stops_asking_for_a_folder_once_one_is_open(qtbot, tmp_path):
    view, ws = open_agent(qtbot, tmp_path, ScriptedModel([]))
    empty = view.live_timeline.empty_state
    assert empty.isVisible() and "Open a folder" not in empty.text() and ws.name in empty.text()
    view.header.mode_box.setCurrentIndex(view.header.mode_box.findData(ApprovalMode.ASK.value))
    assert "ask you first" in empty.text()
    assert view.header.state_label.text() == "Ready"


def test_runs_are_stored_and_reopen_after_a_restart(qtbot, tmp_path):
    model = ScriptedModel([
        calls(call("write_file", path="a.txt", content="agent\n"), text="Writing it."),
        calls(call("run_command", command="echo done")),
        Reply(text="All done."),
    ])
    view, ws = open_agent(qtbot, tmp_path, model, mode=ApprovalMode.ASK)
    shown: list[str] = []
    view.run_shown.connect(shown.append)
    run_task(qtbot, view, "Write a.txt")
    run_id = view.history.run_id
    assert shown == [run_id] and view.store.conversation(run_id).title == "Write a.txt"
    qtbot.waitUntil(lambda: 1 in view.cards and view.cards[1].approval is not None, timeout=10000)
    view.cards[1].approval.approve_button.click()
    qtbot.waitUntil(lambda: 2 in view.cards and view.cards[2].approval is not None, timeout=10000)
    view.cards[2].approval.message_edit.setText("no commands please")
    view.cards[2].approval.deny_button.click()
    wait_finished(qtbot, view)
    view.close()

    again, _ = open_agent(qtbot, tmp_path, ScriptedModel([]))  # as after a restart
    assert again.timeline.is_empty
    assert again.open_run(run_id)
    timeline = again.timeline
    assert timeline is again.stored_timeline and again.shown_id == run_id
    assert "Write a.txt" in timeline.task_label.text()
    assert timeline.steps[1].text == "Writing it."
    write, command = timeline.cards[1], timeline.cards[2]
    assert "+agent" in write.diff_view.diff and write.approval.verdict.text() == "✓ Approved"
    assert command.approval.verdict.text() == "✕ Denied — “no commands please”"
    assert timeline.steps[1].checkpoint_label.isVisibleTo(again)  # its undo point
    assert timeline.finish_title.text() == "Finished"
    qtbot.waitUntil(lambda: again.header.undo_button.isEnabled(), timeout=10000)
    assert not again.open_run("no such run")


def test_opening_a_stored_run_opens_its_folder(qtbot, tmp_path):
    view, ws = open_agent(qtbot, tmp_path, ScriptedModel([Reply(text="Hi.")]))
    run_task(qtbot, view)
    wait_finished(qtbot, view)
    other = tmp_path / "other"
    other.mkdir()
    view.set_workspace(other)
    run_id = view.history.run_id
    view.history.run_id = None  # read back from the store, as in a later session
    assert view.open_run(run_id)
    assert view.workspace == ws.resolve()


def test_a_run_that_cannot_be_saved_does_not_start(qtbot, tmp_path):
    model = ScriptedModel([calls(call("write_file", path="a.txt", content="x"))])
    view, ws = open_agent(qtbot, tmp_path, model)
    view.store.close()  # every write fails now
    view.composer.edit.setPlainText("do it")
    assert not view.start()
    assert view.composer.error_label.text().startswith("The run could not be saved")
    assert not view.controller.running and not (ws / "a.txt").exists()


def test_deleting_the_running_run_stops_it_and_keeps_nothing(qtbot, tmp_path):
    view, _ = open_agent(qtbot, tmp_path, ScriptedModel([
        calls(call("run_command", command="echo started; sleep 30"))]))
    run_task(qtbot, view)
    run_id = view.history.run_id
    qtbot.waitUntil(lambda: 1 in view.cards and view.cards[1].output_view is not None
                    and "started" in view.cards[1].output_view.text, timeout=10000)
    view.store.delete_conversation(run_id)
    view.forget_run(run_id)
    assert wait_finished(qtbot, view).reason is StopReason.STOPPED
    assert view.timeline.is_empty and view.shown_id == ""
    assert view.store.agent_records(run_id) == [] and view.store.conversation(run_id) is None
