"""The agent's header: folder, approval mode, run state, and the undo points menu."""

from __future__ import annotations

from pathlib import Path

from app.agent import ApprovalMode, UndoPoint
from app.ui.agent.header import STATES, AgentHeader, RunState


def test_mode_state_and_folder_are_shown(qtbot):
    header = AgentHeader()
    qtbot.addWidget(header)
    header.set_mode(ApprovalMode.FULL_AUTO.value)
    assert header.mode is ApprovalMode.FULL_AUTO
    header.set_mode("no such mode")
    assert header.mode is ApprovalMode.ASK  # the first, safest one
    assert set(STATES) == set(RunState)  # every state has its words
    for state, text in STATES.items():
        header.show_state(state)
        assert header.state_label.text() == text
        assert header.state_label.property("state") == state.value
    header.show_workspace(Path.home() / "code" / "project")
    assert header.workspace_name.text() == "project"
    assert header.workspace_path.text() == str(Path("~") / "code" / "project")
    header.enable(running=True, can_undo=False)
    assert not header.open_button.isEnabled() and not header.mode_box.isEnabled()
    assert not header.undo_button.isEnabled()


def test_the_newest_undo_point_is_now_and_older_ones_restore(qtbot):
    header = AgentHeader()
    qtbot.addWidget(header)
    points = [UndoPoint("c3", "After step 2", 1_700_000_300),
              UndoPoint("c2", "After step 1", 1_700_000_200),
              UndoPoint("c1", "Before the task", 1_700_000_100)]
    header.show_checkpoints(points)
    now, *older = header.checkpoint_menu.actions()
    assert now.text().endswith("(now)") and not now.isEnabled()
    assert all(a.isEnabled() for a in older) and older[-1].text().startswith("Before the task")
    with qtbot.waitSignal(header.restore_requested, timeout=1000) as restore:
        older[-1].trigger()
    assert restore.args == [points[2]]
