"""The agent's timeline: the task, notes, and a finish banner saying plainly why the run ended."""

from __future__ import annotations

import pytest

from app.agent import Finished, StopReason
from app.ui.agent.timeline import FINISH_TITLES, AgentTimeline


@pytest.mark.parametrize("reason", list(StopReason))
def test_every_way_a_run_ends_has_a_title_and_a_tone(qtbot, reason):
    timeline = AgentTimeline()
    qtbot.addWidget(timeline)
    timeline.add_finish(Finished(reason, "What happened.", 1), used="3 s")
    title, tone = FINISH_TITLES[reason]
    assert timeline.finish_title.text() == title
    assert timeline.finish_banner.property("tone") == tone
    assert timeline.finish_detail.text() == "What happened.  ·  1 step in 3 s"


def test_the_task_notes_and_a_cleared_timeline(qtbot):
    timeline = AgentTimeline()
    qtbot.addWidget(timeline)
    timeline.show()
    assert timeline.empty_state.isVisible()
    timeline.add_task("fix <the> bug", ["shot.png"])
    assert "&lt;the&gt;" in timeline.task_label.text() and not timeline.empty_state.isVisible()
    note = timeline.add_note("The format hint went back to the model.", error=True)
    assert note.objectName() == "CallError"
    timeline.add_finish(Finished(StopReason.DONE, "Done.", 2), used="")
    assert timeline.finish_detail.text() == "Done.  ·  2 steps"
    timeline.clear()
    assert timeline.task_label is None and timeline.finish_banner is None
    timeline.add_task("", ["a.png", "b.png"])
    assert "attached files" in timeline.task_label.text()
