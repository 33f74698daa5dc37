"""The loop end to end with a scripted model: real files, real commands, real checkpoints."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from app.agent.control import Limits
from app.agent.events import (
    ApprovalNeeded,
    CheckpointMade,
    CommandOutput,
    CommandStarted,
    ContextShortened,
    Decision,
    Finished,
    Observation,
    StepStarted,
    StopReason,
    ToolCallProposed,
    UndoPointMade,
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


# ---------------------------------------------------------------- attacks by a hostile model


def _spy_git(tmp_path: Path, monkeypatch) -> Path:
    """A `git` first on PATH that leaves a mark when anything runs it."""
    spy = tmp_path / "spy-bin"
    spy.mkdir()
    mark = tmp_path / "git-ran"
    (spy / "git").write_text(f"#!/bin/sh\necho \"$@\" >> {mark}\n")
    (spy / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{spy}:{os.environ['PATH']}")
    return mark


def test_no_write_can_plant_a_git_config_and_undo_runs_no_git(
    ws: Path, data_dir: Path, tmp_path: Path, monkeypatch
):
    subprocess.run(["git", "init", "-q", "vendored"], cwd=ws, check=True)
    git_mark = _spy_git(tmp_path, monkeypatch)
    evil = '[core]\n\tfsmonitor = "touch ../pwned"\n'
    planted = [
        "tools/.git/HEAD", "tools/.git/objects/x", "tools/.git/refs/x", "tools/.git/config",
        ".GIT/notes", "a/b/c/.Git/config", "vendored/.git/config", "vendored/.git/hooks/pre-commit",
        ".g\u200cit/config", "tools/\uff0egit/config", "tools/.git./config", ".git",
    ]  # fmt: skip
    model = ScriptedModel(
        [calls(*(call("write_file", path=p, content=evil) for p in planted)),
         calls(call("write_file", path="ok.txt", content="fine\n"))]
    )  # fmt: skip
    run, events = make_run(model, ws, data_dir, mode=ApprovalMode.AUTO_EDITS)
    assert run.run().reason is StopReason.DONE
    errors = [r["response"].get("error", "") for r in model.tool_results()]
    assert all(".git folder; not writable" in e for e in errors[:-1]), errors
    assert (ws / "ok.txt").read_text() == "fine\n"
    assert [p.label for p in run.undo.list()] == ["Step 2", "Before the task"]  # nothing written
    run.undo.undo_last()
    assert not git_mark.exists() and not (ws / "pwned").exists()
    assert not (ws / "tools").exists() and not (ws / "a").exists() and not (ws / "ok.txt").exists()
    assert "fsmonitor" not in (ws / "vendored" / ".git" / "config").read_text()


def test_undo_of_a_run_keeps_files_a_gitignore_edit_uncovered(ws: Path, data_dir: Path):
    (ws / ".gitignore").write_text(".env\nbuild/\n")
    (ws / ".env").write_text("TOKEN=mine\n")
    (ws / "build").mkdir()
    (ws / "build" / "model.bin").write_bytes(b"\x07" * 4096)
    model = ScriptedModel(
        [calls(call("write_file", path=".gitignore", content="")),
         calls(call("run_command", command="echo > .gitignore && touch new.txt"))]
    )  # fmt: skip
    run, events = make_run(model, ws, data_dir)
    run.run()
    run.undo.undo_last()
    run.undo.undo_last()
    assert (ws / ".gitignore").read_text() == ".env\nbuild/\n"
    assert (ws / ".env").read_text() == "TOKEN=mine\n"
    assert (ws / "build" / "model.bin").read_bytes() == b"\x07" * 4096
    assert not (ws / "new.txt").exists()


def test_a_repo_made_by_a_command_does_not_break_later_undo(ws: Path, data_dir: Path):
    (ws / "a.txt").write_text("a\n")
    model = ScriptedModel(
        [calls(call("run_command", command="git init -q sub && cargo_new=1 && git init -q .")),
         calls(call("edit_file", path="a.txt", old_text="a", new_text="b")),
         calls(call("write_file", path="sub/x.txt", content="x"))]
    )  # fmt: skip
    run, events = make_run(model, ws, data_dir)
    assert run.run().reason is StopReason.DONE
    assert [e.step for e in of(events, UndoPointMade)] == [0, 1, 2, 3]
    run.undo.undo_last()
    run.undo.undo_last()
    assert (ws / "a.txt").read_text() == "a\n" and not (ws / "sub" / "x.txt").exists()


def test_a_link_swapped_in_after_approval_does_not_redirect_the_write(
    ws: Path, data_dir: Path, tmp_path: Path
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "sub").mkdir()
    (ws / "sub" / "f.txt").write_text("mine\n")

    def swap_then_allow(event):
        (ws / "sub").rename(ws / "sub-moved")
        (ws / "sub").symlink_to(outside)  # as a background command could do
        (outside / "f.txt").write_text("mine\n")
        return Decision.allow_once()

    model = ScriptedModel([calls(call("write_file", path="sub/f.txt", content="evil\n"))])
    run, events = make_run(model, ws, data_dir, decide=swap_then_allow, mode=ApprovalMode.ASK)
    run.run()
    (observation,) = of(events, Observation)
    assert not observation.ok and "outside the workspace" in observation.response["error"]
    assert (outside / "f.txt").read_text() == "mine\n"


def test_a_hard_link_to_an_outside_file_is_broken_not_followed(
    ws: Path, data_dir: Path, tmp_path: Path
):
    outside = tmp_path / "secret.txt"
    outside.write_text("password = 1\n")
    os.link(outside, ws / "link.txt")
    model = ScriptedModel(
        [calls(call("edit_file", path="link.txt", old_text="1", new_text="2"))]
    )
    run, events = make_run(model, ws, data_dir)
    run.run()
    (observation,) = of(events, Observation)
    assert "hard links" in observation.response["note"]
    assert outside.read_text() == "password = 1\n"
    assert (ws / "link.txt").read_text() == "password = 2\n"
    run.undo.undo_last()
    assert (ws / "link.txt").read_text() == "password = 1\n"
    assert outside.read_text() == "password = 1\n"


def test_stop_ends_a_read_that_blocks(ws: Path, data_dir: Path, monkeypatch):
    from app.agent import files

    release = threading.Event()

    def stuck(*args, **kwargs):
        release.wait()  # a read that never returns (a hung network mount, say)
        return {}

    monkeypatch.setattr(files, "read_file", stuck)
    (ws / "a.txt").write_text("a")
    model = ScriptedModel([calls(call("read_file", path="a.txt"))])
    run, events = make_run(model, ws, data_dir)
    results: list = []
    worker = threading.Thread(target=lambda: results.append(run.run()), daemon=True)
    worker.start()
    for _ in range(3000):
        if of(events, ToolCallProposed):
            break
        time.sleep(0.01)
    run.stop()
    worker.join(30)  # not a speed check: without the fix the run never ends
    release.set()
    assert not worker.is_alive() and results[0].reason is StopReason.STOPPED


def test_a_fifo_is_refused_by_every_file_tool(ws: Path, data_dir: Path):
    os.mkfifo(ws / "pipe")
    model = ScriptedModel(
        [calls(call("read_file", path="pipe"), call("write_file", path="pipe", content="x"),
               call("edit_file", path="pipe", old_text="a", new_text="b"),
               call("search", pattern="x"))]
    )  # fmt: skip
    run, events = make_run(model, ws, data_dir)
    assert run.run().reason is StopReason.DONE
    read, write, edit, search = model.tool_results()
    for result in (read, write, edit):
        assert "FIFO" in result["response"]["error"]
    assert search["response"]["total"] == 0


def test_the_result_says_what_happened(ws: Path, data_dir: Path):
    quiet = make_run(ScriptedModel([Reply(text="Hello.")]), ws, data_dir)[0].run()
    assert quiet.tools_used == 0 and quiet.files_changed == ()
    assert quiet.what_happened == "No tool was used and no file changed."
    busy = make_run(
        ScriptedModel([calls(call("list_dir"), call("write_file", path="d/a.txt", content="a"))]),
        ws, data_dir,
    )[0].run()  # fmt: skip
    assert busy.tools_used == 2 and busy.files_changed == ("d", "d/a.txt")
    assert busy.what_happened == "2 tool calls made and 2 files changed."


def test_unconfined_commands_are_said_plainly(ws: Path, data_dir: Path):
    model = ScriptedModel([calls(call("run_command", command="echo hi"))])
    run, events = make_run(model, ws, data_dir, decide=lambda e: Decision.allow_once(),
                           mode=ApprovalMode.ASK)  # fmt: skip
    result = run.run()
    (asked,) = of(events, ApprovalNeeded)
    (started,) = of(events, CommandStarted)
    assert asked.note.startswith("Commands run without a sandbox")
    assert not started.sandboxed and started.note == asked.note
    assert result.notes[0] == asked.note
