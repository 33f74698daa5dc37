"""One step of an agent run: the reply as it is written, its tool calls, its undo point."""

from __future__ import annotations

from app.agent import Decision, DecisionKind
from app.ui.agent.step_widget import AgentStepWidget


def test_a_step_shows_the_reply_as_written_then_the_final_one(qtbot):
    step = AgentStepWidget(2, 30)
    qtbot.addWidget(step)
    assert step.title.text() == "Step 2" and step.status.text() == "Working…"
    step.show_live("", "Considering the files")
    assert step.status.text() == "Thinking…" and not step.text_view.isVisibleTo(step)
    step.show_live("I will", "Considering the files")
    assert step.status.text() == "Writing…" and step.text == "I will"
    step.set_reply("I will read it.", "Considering the files")
    assert step.replied and step.status.text() == "" and step.text == "I will read it."
    step.mark_checkpoint("0123456789abcdef")
    assert step.checkpoint_label.text() == "◆ checkpoint 0123456"


def test_a_calls_decision_comes_out_of_the_step(qtbot):
    step = AgentStepWidget(1, 30)
    qtbot.addWidget(step)
    card = step.add_call(7, "run_command", {"command": "ls"})
    assert step.calls == {7: card}
    with qtbot.waitSignal(step.decided, timeout=1000) as decided:
        card.decided.emit(7, Decision(DecisionKind.ALLOW_ONCE))
    assert decided.args == [7, Decision(DecisionKind.ALLOW_ONCE)]
    step.end()
