import pytest

from app.agent.guards import FormatGuard, LoopBreaker, call_key, hint_response
from engine.inputs.types import ToolCall


def test_loop_breaker_fires_on_the_third_identical_call_in_a_row():
    b = LoopBreaker(3)
    a = ToolCall("read_file", {"path": "a", "start_line": 1})
    same = ToolCall("read_file", {"start_line": 1, "path": "a"})  # argument order does not matter
    assert call_key(a) == call_key(same)
    assert not b.fires(a) and not b.fires(same) and b.fires(a)


def test_a_different_call_and_a_change_in_between_reset_the_count():
    b = LoopBreaker(3)
    test, edit = (
        ToolCall("run_command", {"command": "pytest"}),
        ToolCall("edit_file", {"path": "x"}),
    )
    results = []
    for c in (test, test, edit, test, test, edit):
        results.append(b.fires(c))
        if c is edit:
            b.workspace_changed()
    assert results == [False] * 6
    with pytest.raises(ValueError):
        LoopBreaker(1)


def test_format_guard_counts_bad_steps_in_a_row():
    g = FormatGuard(max_hints=2)
    g.record_step(any_good=False, any_bad=True)
    g.record_step(any_good=False, any_bad=True)
    assert not g.exhausted
    g.record_step(any_good=True, any_bad=True)  # one good call resets
    assert g.bad_steps == 0
    for _ in range(3):
        g.record_step(any_good=False, any_bad=True)
    assert g.exhausted


def test_hint_shows_the_native_format_and_echoes_the_call():
    r = hint_response("call:read{", "bad")
    assert (
        r["error"] == "bad" and "<|tool_call>call:" in r["hint"] and r["your_call"] == "call:read{"
    )


def test_guess_name_labels_malformed_calls():
    from app.agent.guards import guess_name

    assert guess_name('<|tool_call>call:edit_file{path:"x"') == "edit_file"
    assert guess_name("gibberish") == "invalid_call"


def test_circling_between_calls_is_caught_until_the_workspace_changes():
    b = LoopBreaker(3)
    a, c = ToolCall("read_file", {"path": "a"}), ToolCall("read_file", {"path": "c"})
    assert [b.fires(x) for x in (a, c, a, c)] == [False] * 4
    assert b.fires(a)  # the third `a` with nothing changed in between
    b = LoopBreaker(3)
    test, edit = ToolCall("run_command", {"command": "pytest"}), ToolCall("edit_file", {"n": 1})
    for _ in range(5):
        assert not b.fires(test) and not b.fires(edit)
        b.workspace_changed()
