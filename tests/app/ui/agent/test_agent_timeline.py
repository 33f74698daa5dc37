"""The agent's timeline: the task, notes, a finish banner saying plainly why the run ended and
what it did, the empty state, and a stored run shown again from its records."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.agent import ApprovalMode, Decision, Finished, StopReason
from app.agent.events import (
    ApprovalNeeded,
    CommandOutput,
    CommandStarted,
    ModelReplied,
    Observation,
    StepStarted,
    ToolCallProposed,
    UndoPointMade,
)
from app.agent.run_record import Decided, to_record
from app.ui.agent.timeline import FINISH_TITLES, UNFINISHED_NOTE, AgentTimeline, empty_text


def busy(reason: StopReason, message: str = "What happened.", steps: int = 1) -> Finished:
    return Finished(reason, message, steps, tools_used=2, files_changed=("a.py",),
                    files_changed_total=1)


@pytest.mark.parametrize("reason", list(StopReason))
def test_every_way_a_run_ends_has_a_title_and_a_tone(qtbot, reason):
    timeline = AgentTimeline()
    qtbot.addWidget(timeline)
    timeline.add_finish(busy(reason), used="3 s")
    title, tone = FINISH_TITLES[reason]
    assert timeline.finish_title.text() == title
    assert timeline.finish_banner.property("tone") == tone
    assert timeline.finish_detail.text() == (
        "What happened. 2 tool calls made and 1 file changed.  ·  1 step in 3 s"
    )


def test_a_run_that_did_nothing_says_so_and_is_not_green(qtbot):
    timeline = AgentTimeline()
    qtbot.addWidget(timeline)
    timeline.add_finish(Finished(StopReason.DONE, "The model finished its answer.", 1), used="")
    assert timeline.finish_title.text() == "Answered without using a tool"
    assert timeline.finish_banner.property("tone") == "quiet"  # no tone of its own: grey
    assert "No tool was used and no file changed." in timeline.finish_detail.text()
    assert timeline.finish_notes == []
    read_only = Finished(StopReason.DONE, "Done.", 2, tools_used=1)
    timeline.add_finish(read_only, used="")
    assert timeline.finish_banner.property("tone") == "done"
    assert "1 tool call made and no file changed." in timeline.finish_detail.text()


def test_the_banner_names_the_changed_files_and_the_notes(qtbot):
    timeline = AgentTimeline()
    qtbot.addWidget(timeline)
    files = tuple(f"src/f{i}.py" for i in range(8))
    finished = Finished(StopReason.DONE, "Done.", 3, tools_used=9, files_changed=files,
                        files_changed_total=12,
                        notes=("Commands run without a sandbox on this system.",))
    timeline.add_finish(finished, used="0:42")
    changed, note = [label.text() for label in timeline.finish_notes]
    assert changed == "Changed: " + ", ".join(files[:6]) + " and 6 more"
    assert note == "⚠ Commands run without a sandbox on this system."


def test_the_task_notes_and_a_cleared_timeline(qtbot):
    timeline = AgentTimeline()
    qtbot.addWidget(timeline)
    timeline.show()
    assert timeline.empty_state.isVisible() and timeline.is_empty
    timeline.add_task("fix <the> bug", ["shot.png"])
    assert "&lt;the&gt;" in timeline.task_label.text() and not timeline.empty_state.isVisible()
    note = timeline.add_note("Undo did not happen.", error=True)
    assert note.objectName() == "CallError"
    timeline.add_finish(Finished(StopReason.DONE, "Done.", 2), used="")
    timeline.clear()
    assert timeline.task_label is None and timeline.finish_banner is None
    assert timeline.empty_state.isVisible() and timeline.finished is None
    timeline.add_task("", ["a.png", "b.png"])
    assert "attached files" in timeline.task_label.text()


def test_the_empty_state_follows_the_folder_and_the_mode():
    assert empty_text(None, ApprovalMode.ASK).startswith("Open a folder")
    for mode in ApprovalMode:
        text = empty_text(Path("/work/weather-app"), mode)
        assert "Open a folder" not in text and "weather-app" in text
    assert "ask you first" in empty_text(Path("/p"), ApprovalMode.ASK)
    assert "nothing asks first" in empty_text(Path("/p"), ApprovalMode.FULL_AUTO)


def test_a_stored_run_is_shown_again_with_its_answers_and_nothing_waiting(qtbot):
    events = [
        StepStarted(1, 10),
        ModelReplied(1, "I'll fix it.", ""),
        ToolCallProposed(1, 1, "edit_file", {"path": "a.py", "old_text": "-", "new_text": "+"}),
        ApprovalNeeded(1, "edit_file", "edit", "Edit a.py", diff="--- a/a.py\n+++ b/a.py\n-x\n+y"),
        Decided(1, Decision.allow_once()),
        Observation(1, "edit_file", {"ok": True}, ok=True),
        ToolCallProposed(1, 2, "run_command", {"command": "make"}),
        ApprovalNeeded(2, "run_command", "run", "make", command="make", note="No sandbox."),
        Decided(2, Decision.deny("not now")),
        ToolCallProposed(1, 3, "run_command", {"command": "ls"}),
        CommandStarted(3, "ls", sandboxed=False, note="No sandbox."),
        CommandOutput(3, "a.py\n"),
        ToolCallProposed(1, 4, "write_file", {"path": "b.py", "content": "x"}),
        ApprovalNeeded(4, "write_file", "edit", "Write b.py", diff="+x"),
        UndoPointMade(1, "abcdef123456", "Step 1", ("a.py",)),
    ]
    timeline = AgentTimeline()
    qtbot.addWidget(timeline)
    timeline.show()
    timeline.replay("Fix a.py", ["screen.png"], [to_record(e) for e in events])
    assert "Fix a.py" in timeline.task_label.text()
    assert timeline.steps[1].text == "I'll fix it."
    edit, denied, ran, unanswered = (timeline.cards[i] for i in (1, 2, 3, 4))
    assert "+y" in edit.diff_view.diff and edit.approval.verdict.text() == "✓ Approved"
    assert denied.approval.verdict.text() == "✕ Denied — “not now”"
    assert ran.output_view.text == "a.py\n" and ran.note_label.text() == "⚠ No sandbox."
    assert unanswered.approval.verdict.text() == "Not answered: the run ended first."
    assert all(not c.approval.controls.isVisibleTo(timeline) for c in (edit, denied, unanswered))
    assert timeline.steps[1].checkpoint_label.text() == "◆ checkpoint abcdef1"
    notes = [w.text() for w in timeline.column.findChildren(type(timeline.task_label))
             if w.objectName() == "AgentNote"]
    assert notes == [UNFINISHED_NOTE]  # no Finished record: Tandem closed during the run
    finished = busy(StopReason.DONE)
    timeline.replay("Fix a.py", [], [to_record(StepStarted(1, 10)),
                                     {**to_record(finished), "used": "0:07"},
                                     {"type": "FromANewerRelease"}])
    assert timeline.finished == finished and timeline.finish_detail.text().endswith("in 0:07")
    assert 2 not in timeline.cards  # the earlier run's cards are gone
