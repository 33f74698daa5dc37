"""The agent view's parts on their own: the diff view, the command output pane, the approval bar."""

from __future__ import annotations

import difflib

from app.agent import ApprovalNeeded, DecisionKind
from app.ui.agent.approval_bar import ApprovalBar
from app.ui.agent.call_widget import describe, planned_diff
from app.ui.agent.command_output_view import MAX_HEIGHT_PX, CommandOutputView
from app.ui.agent.diff_view import DiffView


def test_diff_view_counts_and_colours_lines(qtbot):
    view = DiffView()
    qtbot.addWidget(view)
    old, new = ["a\n", "b\n", "c\n"], ["a\n", "B\n", "c\n", "d\n"]
    view.set_diff("".join(difflib.unified_diff(old, new, "a/x", "b/x")))
    assert (view.added, view.removed) == (2, 1) and view.caption() == "+2 −1"
    text = view.toPlainText()
    assert "--- a/x" not in text and "+B" in text and "-b" in text and "@@" in text
    view.set_diff("")
    assert view.toPlainText() == "(no change)"


def test_command_output_keeps_chunks_exact_and_grows_to_a_limit(qtbot):
    out = CommandOutputView()
    qtbot.addWidget(out)
    for chunk in ["li", "ne 1\nline", " 2\n", "\n", "end"]:
        out.append(chunk)
    assert out.text == "line 1\nline 2\n\nend"
    assert out.chars_received == len("line 1\nline 2\n\nend")
    small = out.height()
    out.append("\n".join(f"row {i}" for i in range(200)))
    assert small < out.height() <= MAX_HEIGHT_PX


def test_approval_bar_answers_once(qtbot):
    request = ApprovalNeeded(7, "run_command", "run", "make test", command="make test")
    bar = ApprovalBar(request)
    qtbot.addWidget(bar)
    with qtbot.waitSignal(bar.decided) as got:
        bar.task_button.click()
    assert got.args[0] == 7 and got.args[1].kind is DecisionKind.ALLOW_FOR_TASK
    bar.deny_button.click()  # hidden now; a second answer is ignored
    assert bar.decision.kind is DecisionKind.ALLOW_FOR_TASK
    assert "this command allowed" in bar.verdict.text()


def test_deny_with_return_in_the_message_field(qtbot):
    bar = ApprovalBar(ApprovalNeeded(3, "edit_file", "edit", "Edit a.py", diff=""))
    qtbot.addWidget(bar)
    bar.message_edit.setText("use the helper instead")
    bar.message_edit.returnPressed.emit()
    assert bar.decision.kind is DecisionKind.DENY
    assert bar.decision.message == "use the helper instead"


def test_calls_are_described_plainly():
    assert (
        describe("read_file", {"path": "a.py", "start_line": 3, "end_line": 9})
        == "Read a.py (lines 3–9)"
    )
    assert describe("search", {"pattern": "TODO"}) == "Search for text “TODO”"
    assert describe("", {"unparsed": "call:oops{"}) == "A tool call that could not be read"
    assert "+new" in planned_diff("edit_file", {"path": "a", "old_text": "old", "new_text": "new"})


def test_an_edit_not_asked_about_shows_its_planned_change(qtbot):
    from app.ui.agent.call_widget import AgentCallWidget

    edit = AgentCallWidget(
        1, "edit_file", {"path": "a.py", "old_text": "x = 1", "new_text": "x = 2"}
    )
    write = AgentCallWidget(2, "write_file", {"path": "b.py", "content": "a\nb\n"})
    qtbot.addWidget(edit)
    qtbot.addWidget(write)
    assert edit.caption.text() == "+1 −1" and "+x = 2" in edit.diff_view.diff
    assert write.caption.text() == "2 lines written"
