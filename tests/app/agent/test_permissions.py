import pytest

from app.agent.permissions import ApprovalMode, Permissions


def test_reading_is_free_in_every_mode():
    for mode in ApprovalMode:
        assert not Permissions(mode).needs_approval("read")


def test_modes():
    ask, edits, auto = (Permissions(m) for m in ApprovalMode)
    assert ask.needs_approval("edit") and ask.needs_approval("run", "ls")
    assert not edits.needs_approval("edit") and edits.needs_approval("run", "ls")
    assert not auto.needs_approval("edit") and not auto.needs_approval("run", "ls")
    assert Permissions("auto_edits").mode is ApprovalMode.AUTO_EDITS


def test_allow_for_task_covers_edits_and_the_same_command_only():
    p = Permissions(ApprovalMode.ASK)
    p.grant_for_task("edit")
    assert not p.needs_approval("edit")
    p.grant_for_task("run", "pytest -q")
    assert not p.needs_approval("run", "pytest -q")
    assert p.needs_approval("run", "rm -rf /")


def test_unknown_kinds_are_errors():
    with pytest.raises(ValueError, match="unknown tool kind"):
        Permissions().needs_approval("delete")
    with pytest.raises(ValueError, match="only edits and commands"):
        Permissions().grant_for_task("read")
    with pytest.raises(ValueError):
        Permissions("sometimes")  # type: ignore[arg-type]
