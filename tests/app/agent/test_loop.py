"""The loop end to end with a scripted model: real files, real commands, real checkpoints."""

import sys
import threading
import time
from pathlib import Path

from app.agent.control import Limits
from app.agent.events import (
    ApprovalNeeded,
    CheckpointMade,
    CommandOutput,
    ContextShortened,
    Decision,
    Finished,
    Observation,
    StepStarted,
    StopReason,
    ToolCallProposed,
)
from app.agent.loop import AgentRun
from app.agent.model import Reply
from app.agent.permissions import ApprovalMode
from app.agent.scripted import ScriptedModel, call, calls

PY = sys.executable
FAST_PYTEST = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {PY} -m pytest"  # no Qt plugin startup

MODULE = "def add(a, b):\n    return a - b\n"
TEST = (
    "from calc import add\n\n"
    "def test_add():\n    assert add(2, 3) == 5\n\n"
    "if __name__ == '__main__':\n    test_add()\n    print('all tests passed')\n"
)


def make_run(model, ws, data_dir, *, decide=None, mode=ApprovalMode.FULL_AUTO, **kwargs):
    """An AgentRun whose events are collected; `decide(event)` answers approval requests."""
    events: list = []
    holder: dict = {}

    def on_event(event):
        events.append(event)
        if isinstance(event, ApprovalNeeded):
            holder["run"].decide(event.call_id, decide(event))

    run = AgentRun(
        model,
        ws,
        "task",
        data_dir=data_dir,
        on_event=on_event,
        mode=mode,
        use_sandbox=False,
        kill_grace_s=0.2,
        **kwargs,
    )
    holder["run"] = run
    return run, events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_builds_a_small_project_to_passing_tests(ws: Path, data_dir: Path):
    model = ScriptedModel(
        [
            calls(
                call("write_file", path="calc.py", content=MODULE),
                call("write_file", path="test_calc.py", content=TEST),
            ),
            calls(call("run_command", command=f"{PY} test_calc.py")),
            calls(call("read_file", path="calc.py", start_line=2, end_line=2)),
            calls(
                call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b")
            ),
            calls(call("run_command", command=f"{PY} test_calc.py")),
            calls(call("run_command", command=f"{FAST_PYTEST} -q -p no:cacheprovider")),
            Reply(text="Fixed add; the tests pass."),
        ]
    )
    run, events = make_run(model, ws, data_dir)
    result = run.run()
    assert result.reason is StopReason.DONE and result.steps == 7
    assert result.answer == "Fixed add; the tests pass."
    assert (ws / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    seen = model.tool_results()
    assert (
        seen[2]["response"]["exit_code"] == 1 and "AssertionError" in seen[2]["response"]["output"]
    )
    assert seen[3]["response"]["content"] == "    return a - b\n"
    assert seen[-2]["response"] == {"exit_code": 0, "output": "all tests passed\n"}
    assert seen[-1]["response"]["exit_code"] == 0 and "1 passed" in seen[-1]["response"]["output"]
    assert "all tests passed" in "".join(e.chunk for e in of(events, CommandOutput))
    assert [e.step for e in of(events, StepStarted)] == [1, 2, 3, 4, 5, 6, 7]
    assert isinstance(events[-1], Finished)
    # The model was told about the tools and the system prompt.
    assert {t["function"]["name"] for t in model.tools} >= {"read_file", "edit_file", "run_command"}


def test_approval_shows_a_diff_and_a_denial_reaches_the_model(ws: Path, data_dir: Path):
    (ws / "a.py").write_text("x = 1\n")
    model = ScriptedModel(
        [
            calls(call("edit_file", path="a.py", old_text="x = 1", new_text="x = 2")),
            calls(call("run_command", command="rm -rf a.py")),
        ]
    )
    asked: list[ApprovalNeeded] = []

    def decide(event):
        asked.append(event)
        return (
            Decision.allow_once() if event.kind == "edit" else Decision.deny("never delete files")
        )

    result = make_run(model, ws, data_dir, decide=decide, mode=ApprovalMode.ASK)[0].run()
    assert result.reason is StopReason.DONE
    assert asked[0].kind == "edit" and "-x = 1" in asked[0].diff and "+x = 2" in asked[0].diff
    assert asked[1].kind == "run" and asked[1].command == "rm -rf a.py"
    denial = model.tool_results()[1]
    assert denial["name"] == "run_command"
    assert (
        denial["response"]["user_message"] == "never delete files"
        and "denied" in denial["response"]["error"]
    )
    assert (ws / "a.py").read_text() == "x = 2\n"


def test_allow_for_task_and_auto_edit_mode(ws: Path, data_dir: Path):
    model = ScriptedModel(
        [calls(call("write_file", path=f"f{i}.txt", content="x")) for i in range(3)]
        + [calls(call("run_command", command="true"))]
    )
    asked: list = []

    def decide(event):
        asked.append(event.kind)
        return Decision.allow_for_task()

    make_run(model, ws, data_dir, decide=decide, mode=ApprovalMode.ASK)[0].run()
    assert asked == ["edit", "run"]  # later writes were covered by "allow for this task"
    model = ScriptedModel(
        [calls(call("write_file", path="g.txt", content="x"), call("run_command", command="true"))]
    )
    asked.clear()
    make_run(model, ws, data_dir, decide=decide, mode=ApprovalMode.AUTO_EDITS)[0].run()
    assert asked == ["run"]


def test_escaping_paths_are_refused_and_reported_to_the_model(
    ws: Path, data_dir: Path, tmp_path: Path
):
    (tmp_path / "outside").mkdir()
    (ws / "link").symlink_to(tmp_path / "outside")
    model = ScriptedModel(
        [
            calls(
                call("write_file", path="../escape.txt", content="x"),
                call("write_file", path="link/escape.txt", content="x"),
                call("read_file", path="../appdata/x"),
            ),
        ]
    )
    result = make_run(model, ws, data_dir)[0].run()
    assert result.reason is StopReason.DONE
    errors = [r["response"]["error"] for r in model.tool_results()]
    assert len(errors) == 3 and all("outside the workspace" in e for e in errors)
    assert (
        not (tmp_path / "escape.txt").exists()
        and not (tmp_path / "outside" / "escape.txt").exists()
    )


def test_loop_breaker_stops_three_identical_calls(ws: Path, data_dir: Path):
    same = call("read_file", path="missing.txt")
    model = ScriptedModel([calls(same), calls(same), calls(same), calls(same)])
    run, events = make_run(model, ws, data_dir)
    result = run.run()
    assert result.reason is StopReason.REPEATED_CALL and result.steps == 3
    assert "read_file" in result.message and "3 times" in result.message
    assert len(model.replies) == 1  # the fourth reply was never asked for


def test_malformed_call_gets_a_hint_and_the_run_goes_on(ws: Path, data_dir: Path):
    bad = Reply(
        parse_errors=['<|tool_call>call:read_file{path:"a.py"<tool_call|>'],
        finish_reason="tool_calls",
    )
    model = ScriptedModel(
        [bad, calls(call("nonexistent_tool", x=1)), calls(call("list_dir")), Reply(text="ok")]
    )
    run, events = make_run(model, ws, data_dir)
    assert run.run().reason is StopReason.DONE
    proposed = of(events, ToolCallProposed)
    assert proposed[0].arguments == {"unparsed": bad.parse_errors[0]}
    assert [p.call_id for p in proposed] == [o.call_id for o in of(events, Observation)]
    first, second, third = model.tool_results()
    assert first["name"] == "read_file" and "<|tool_call>call:" in first["response"]["hint"]
    assert "no tool named 'nonexistent_tool'" in second["response"]["error"]
    assert third["response"]["entries"] == []


def test_format_hints_are_capped(ws: Path, data_dir: Path):
    bad = Reply(parse_errors=["call:???"], finish_reason="tool_calls")
    model = ScriptedModel([bad] * 10)
    result = make_run(model, ws, data_dir, limits=Limits(max_format_hints=2))[0].run()
    assert result.reason is StopReason.FORMAT_ERRORS and result.steps == 3
    assert len(model.tool_results()) == 2  # two hints went back, then the run stopped


def test_step_and_time_limits_stop_with_a_visible_reason(ws: Path, data_dir: Path):
    model = ScriptedModel([calls(call("list_dir", path=str(i % 2))) for i in range(10)])
    (ws / "0").mkdir(), (ws / "1").mkdir()
    result = make_run(model, ws, data_dir, limits=Limits(max_steps=4))[0].run()
    assert (
        result.reason is StopReason.STEP_LIMIT and result.steps == 4 and "4 steps" in result.message
    )
    model = ScriptedModel([calls(call("run_command", command="sleep 0.3"))] * 5)
    result = make_run(model, ws, data_dir, limits=Limits(max_wall_s=0.2))[0].run()
    assert (
        result.reason is StopReason.TIME_LIMIT
        and result.steps == 1
        and "time limit" in result.message
    )


def test_context_budget_shortens_old_observations_and_restarts(ws: Path, data_dir: Path):
    (ws / "big.txt").write_text("word " * 2000)
    model = ScriptedModel(
        [
            calls(call("read_file", path="big.txt")),
            calls(call("list_dir")),
            calls(call("list_dir", path=".")),
        ]
    )
    run, events = make_run(model, ws, data_dir, limits=Limits(context_budget=2000))
    assert run.run().reason is StopReason.DONE
    shortened = of(events, ContextShortened)
    assert shortened and shortened[0].tokens_after <= 2000 < shortened[0].tokens_before
    restarts = [payload for kind, payload in model.received if kind == "restart"]
    assert restarts and restarts[0][0] == {"role": "user", "content": "task"}
    assert "shortened" in restarts[0][1]["tool_responses"][0]["response"]["note"]


def test_context_full_stops(ws: Path, data_dir: Path):
    model = ScriptedModel([calls(call("list_dir"))] * 3)
    result = make_run(model, ws, data_dir, limits=Limits(context_budget=50))[0].run()
    assert result.reason is StopReason.CONTEXT_FULL and "50 tokens" in result.message


def test_stop_during_a_command_kills_it_and_reports(ws: Path, data_dir: Path):
    model = ScriptedModel([calls(call("run_command", command="sleep 30"))])
    run, events = make_run(model, ws, data_dir)
    threading.Timer(0.5, run.stop).start()
    result = run.run()
    assert model.cancelled
    assert result.reason is StopReason.STOPPED
    assert "stopped by the user" in of(events, Observation)[0].response["error"]


def test_stop_while_waiting_for_approval(ws: Path, data_dir: Path):
    model = ScriptedModel([calls(call("write_file", path="a.txt", content="x"))])
    run = AgentRun(model, ws, "t", data_dir=data_dir, on_event=lambda e: None, use_sandbox=False)
    threading.Timer(0.3, run.stop).start()
    result = run.run()
    assert result.reason is StopReason.STOPPED and not (ws / "a.txt").exists()


def test_model_errors_end_the_run_visibly(ws: Path, data_dir: Path):
    class Broken(ScriptedModel):
        def reply_to_tools(self, results):
            raise RuntimeError("engine died")

    result = make_run(Broken([calls(call("list_dir"))]), ws, data_dir)[0].run()
    assert result.reason is StopReason.ERROR and "engine died" in result.message


def test_undo_after_a_run_restores_bytes_even_after_a_deleting_command(ws: Path, data_dir: Path):
    (ws / "keep.bin").write_bytes(b"\x00\x01binary\r\n")
    (ws / "notes.txt").write_text("original\n")
    model = ScriptedModel(
        [
            calls(call("edit_file", path="notes.txt", old_text="original", new_text="edited")),
            calls(call("run_command", command="rm keep.bin && echo new > made.txt")),
        ]
    )
    run, events = make_run(model, ws, data_dir)
    run.run()
    made = of(events, CheckpointMade)
    assert [c.step for c in made] == [0, 1, 2]
    assert not (ws / "keep.bin").exists()
    run.checkpoints.undo_last()  # undo step 2: the command
    assert (ws / "keep.bin").read_bytes() == b"\x00\x01binary\r\n" and not (
        ws / "made.txt"
    ).exists()
    assert (ws / "notes.txt").read_text() == "edited\n"
    run.checkpoints.restore(made[0].checkpoint_id)  # back to before the task
    assert (ws / "notes.txt").read_text() == "original\n"


def test_a_gui_thread_can_answer_approvals(ws: Path, data_dir: Path):
    """The run on a worker thread waits; the answer comes from another thread, as from a GUI."""
    import queue

    inbox: queue.Queue = queue.Queue()
    model = ScriptedModel([calls(call("write_file", path="a.txt", content="hello"))])
    run = AgentRun(model, ws, "t", data_dir=data_dir, on_event=inbox.put, use_sandbox=False)
    worker = threading.Thread(target=run.run)
    worker.start()
    seen = []
    while not seen or not isinstance(seen[-1], Finished):
        event = inbox.get(timeout=10)
        seen.append(event)
        if isinstance(event, ApprovalNeeded):
            assert not (ws / "a.txt").exists()
            run.decide(event.call_id, Decision.allow_once())
    worker.join(10)
    assert (ws / "a.txt").read_text() == "hello"
    names = [type(e).__name__ for e in seen]
    assert (
        names.index("ToolCallProposed") < names.index("ApprovalNeeded") < names.index("Observation")
    )


def test_a_model_that_cannot_restart_stops_with_context_full(ws: Path, data_dir: Path):
    class NoRestart(ScriptedModel):
        def restart(self, system_prompt, tools, messages):
            raise NotImplementedError

    (ws / "big.txt").write_text("word " * 2000)
    model = NoRestart([calls(call("read_file", path="big.txt")), calls(call("list_dir"))])
    result = make_run(model, ws, data_dir, limits=Limits(context_budget=2000))[0].run()
    assert result.reason is StopReason.CONTEXT_FULL and "cannot continue" in result.message


def test_loop_breaker_catches_a_model_circling_between_reads(ws: Path, data_dir: Path):
    (ws / "a.py").write_text("a\n")
    a, b = call("read_file", path="a.py"), call("list_dir", path=".")
    model = ScriptedModel([calls(a), calls(b), calls(a), calls(b), calls(a), calls(b)])
    result = make_run(model, ws, data_dir)[0].run()
    assert result.reason is StopReason.REPEATED_CALL and result.steps == 5


def test_editing_and_testing_in_turns_is_not_a_loop(ws: Path, data_dir: Path):
    test = call("run_command", command="cat n.txt")
    script = []
    for i in range(4):
        script += [calls(call("write_file", path="n.txt", content=str(i))), calls(test)]
    result = make_run(ScriptedModel(script), ws, data_dir)[0].run()
    assert result.reason is StopReason.DONE and result.steps == 9


def test_a_run_runs_once(ws: Path, data_dir: Path):
    import pytest

    run = make_run(ScriptedModel([]), ws, data_dir)[0]
    assert run.run().reason is StopReason.DONE
    with pytest.raises(RuntimeError, match="runs once"):
        run.run()


def test_waiting_for_the_person_does_not_count_against_the_time_limit(ws: Path, data_dir: Path):
    def slow_person(event):
        time.sleep(0.5)
        return Decision.allow_once()

    model = ScriptedModel([calls(call("write_file", path="a.txt", content="x"))])
    limits = Limits(max_wall_s=0.4)
    result = make_run(model, ws, data_dir, decide=slow_person, mode=ApprovalMode.ASK, limits=limits)
    assert result[0].run().reason is StopReason.DONE
