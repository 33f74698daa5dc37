"""The agent loop: one model step at a time, tools run, observations fed back as tool responses.

Use:
    run = AgentRun(model, "/path/to/project", "make the tests pass", data_dir=app_data,
                   on_event=handle, mode=ApprovalMode.ASK)
    result = run.run()           # blocks; call it on a worker thread
    run.decide(call_id, Decision.allow_once())   # from any thread, on ApprovalNeeded
    run.stop()                   # from any thread
    run.checkpoints.undo_last()  # after the run, or restore(checkpoint_id)

A step: the model replies; every tool call in the reply is checked, approved if needed, and run;
malformed calls get a format hint; the workspace is snapshotted (a checkpoint when anything
changed); then the limits and the context budget are checked before the next step. A reply with no
tool calls ends the run. Every other end (limits, loop breaker, format errors, full context, stop,
model error) is reported in `Finished` with a message for the person; none is silent.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from app.agent import tools
from app.agent.checkpoints import Checkpoints
from app.agent.context import TokenCounter, Transcript, approx_tokens
from app.agent.events import (
    AgentEvent, ApprovalNeeded, CheckpointMade, ContextShortened, Decision, Finished, ModelReplied,
    Observation, StepStarted, StopReason, ToolCallProposed,
)
from app.agent.executor import Executor
from app.agent.guards import FormatGuard, LoopBreaker, hint_response
from app.agent.model import AgentModel, Reply
from app.agent.permissions import ApprovalMode, Permissions
from app.agent.prompt import SYSTEM_PROMPT
from app.agent.runner import KILL_GRACE_S, CommandRunner
from app.agent.workspace import Workspace


@dataclass(frozen=True)
class Limits:
    max_steps: int = 30
    max_wall_s: float = 1800.0  # checked between steps
    context_budget: int = 24_000  # tokens, as counted by the run's token counter
    repeat_limit: int = 3
    max_format_hints: int = 3


class _Stop(Exception):
    def __init__(self, reason: StopReason, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class AgentRun:
    """One task in one workspace. Not reusable: make a new one per task."""

    def __init__(
        self, model: AgentModel, workspace: str | Path, task: str | list[dict], *,
        data_dir: str | Path, on_event: Callable[[AgentEvent], None],
        mode: ApprovalMode = ApprovalMode.ASK, limits: Limits = Limits(),
        count_tokens: TokenCounter = approx_tokens, system_prompt: str = SYSTEM_PROMPT,
        use_sandbox: bool | None = None, kill_grace_s: float = KILL_GRACE_S,
    ) -> None:
        self.model, self.task, self.limits, self.count_tokens = model, task, limits, count_tokens
        self.workspace = Workspace(workspace)
        self.checkpoints = Checkpoints(self.workspace.root, data_dir)
        self.runner = CommandRunner(self.workspace.root, use_sandbox=use_sandbox, kill_grace_s=kill_grace_s)
        self.transcript = Transcript(system_prompt, tools.DECLARATIONS)
        self._emit = on_event
        self._executor = Executor(
            tools.Toolbox(self.workspace, self.checkpoints), self.runner, Permissions(mode), self._ask, on_event
        )
        self._ids = itertools.count(1)
        self._decisions: dict[int, Decision] = {}
        self._cond = threading.Condition()
        self._stopped = False

    # ---------------------------------------------------------------- control, any thread

    def decide(self, call_id: int, decision: Decision) -> None:
        """Answer an `ApprovalNeeded` event."""
        with self._cond:
            self._decisions[call_id] = decision
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop the run: cancels the model's reply, kills a running command, ends a wait."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self.model.cancel()
        self.runner.cancel()

    # ---------------------------------------------------------------- the loop

    def run(self) -> Finished:
        step, answer, started = 0, "", time.monotonic()
        try:
            self._checkpoint(0, "Before the task")
            self.transcript.add_task(self.task)
            breaker, guard = LoopBreaker(self.limits.repeat_limit), FormatGuard(self.limits.max_format_hints)
            send: Callable[[], Reply] = lambda: self.model.begin(
                self.transcript.system_prompt, self.transcript.tools, self.task
            )
            while True:
                step += 1
                self._emit(StepStarted(step, self.limits.max_steps))
                reply = send()
                answer = reply.text
                self._check_stopped()
                self._emit(ModelReplied(step, reply.text, reply.thinking))
                if not reply.tool_calls and not reply.parse_errors:
                    return self._finish(StopReason.DONE, "The model finished the task.", step, answer)
                results = self._do_step(step, reply, breaker, guard)
                self._checkpoint(step, f"Step {step}")
                send = self._next_send(step, started, results)
        except _Stop as stop:
            return self._finish(stop.reason, stop.message, step, answer)
        except Exception as exc:  # the adapter's or git's failure must reach the person, not vanish
            return self._finish(StopReason.MODEL_ERROR, f"The run failed: {type(exc).__name__}: {exc}", step, answer)

    def _do_step(self, step: int, reply: Reply, breaker: LoopBreaker, guard: FormatGuard) -> list[dict]:
        message = self.transcript.add_step(reply.text, reply.tool_calls)
        results: list[dict] = message["tool_responses"]
        good = bad = False
        repeated = None
        for call in reply.tool_calls:
            self._check_stopped()
            call_id = next(self._ids)
            self._emit(ToolCallProposed(step, call_id, call.name, dict(call.arguments)))
            if breaker.fires(call):
                repeated = call.name
                response, ok = {"error": "The same call was made again; the run is stopped."}, False
            else:
                outcome = self._executor.execute(call_id, call)
                response, ok = outcome.response, outcome.ok
                good, bad = good or outcome.well_formed, bad or not outcome.well_formed
            results.append({"name": call.name, "response": response})
            self._emit(Observation(call_id, call.name, response, ok))
            if repeated:
                break
        for raw in reply.parse_errors:
            bad = True
            name = m.group(1) if (m := re.search(r"call:\s*([A-Za-z_]\w*)", raw)) else "invalid_call"
            response = hint_response(raw)
            results.append({"name": name, "response": response})
            self._emit(Observation(next(self._ids), name, response, False))
        guard.record_step(good, bad)
        if repeated:
            raise _Stop(StopReason.REPEATED_CALL, f"Stopped: the model called {repeated} with the same "
                        f"arguments {self.limits.repeat_limit} times in a row.")
        if guard.exhausted:
            raise _Stop(StopReason.FORMAT_ERRORS, f"Stopped: the model's tool calls could not be read "
                        f"{guard.bad_steps} steps in a row, even with format hints.")
        return results

    def _next_send(self, step: int, started: float, results: list[dict]) -> Callable[[], Reply]:
        """Check the limits and the budget; return how to ask for the next step."""
        self._check_stopped()
        if step >= self.limits.max_steps:
            raise _Stop(StopReason.STEP_LIMIT, f"Stopped at the step limit ({self.limits.max_steps} steps).")
        elapsed = time.monotonic() - started
        if elapsed >= self.limits.max_wall_s:
            raise _Stop(StopReason.TIME_LIMIT, f"Stopped at the time limit ({self.limits.max_wall_s:.0f} s; "
                        f"{elapsed:.0f} s used).")
        before = self.transcript.tokens(self.count_tokens)
        if before <= self.limits.context_budget:
            return lambda: self.model.reply_to_tools(results)
        if not self.transcript.fit(self.limits.context_budget, self.count_tokens):
            raise _Stop(StopReason.CONTEXT_FULL, f"Stopped: the conversation needs more than the context "
                        f"budget ({self.limits.context_budget} tokens) even with old outputs dropped.")
        self._emit(ContextShortened(step, before, self.transcript.tokens(self.count_tokens)))
        t = self.transcript
        return lambda: self.model.restart(t.system_prompt, t.tools, t.messages)

    # ---------------------------------------------------------------- helpers

    def _ask(self, request: ApprovalNeeded) -> Decision:
        self._emit(request)
        with self._cond:
            while request.call_id not in self._decisions and not self._stopped:
                self._cond.wait()
            if request.call_id not in self._decisions:
                raise _Stop(StopReason.STOPPED, "Stopped by the user.")
            return self._decisions.pop(request.call_id)

    def _check_stopped(self) -> None:
        if self._stopped:
            raise _Stop(StopReason.STOPPED, "Stopped by the user.")

    def _checkpoint(self, step: int, label: str) -> None:
        made = self.checkpoints.snapshot(label)
        if made is None and step == 0:
            made = self.checkpoints.list()[0]  # unchanged since an earlier run: that is the baseline
        if made is not None:
            self._emit(CheckpointMade(step, made.id, made.label))

    def _finish(self, reason: StopReason, message: str, steps: int, answer: str) -> Finished:
        try:
            self._checkpoint(steps, f"Step {steps} (stopped)")  # a stop mid-step may have changed files
        except Exception as exc:
            message += f" (The last checkpoint failed: {exc})"
        finished = Finished(reason, message, steps, answer)
        self._emit(finished)
        return finished
