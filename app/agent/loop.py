"""The agent loop: one model step at a time, tools run, observations fed back as tool responses.

Use:
    run = AgentRun(model, "/path/to/project", "make the tests pass", data_dir=app_data,
                   on_event=handle, mode=ApprovalMode.ASK)
    result = run.run()           # blocks; call it on a worker thread
    run.decide(call_id, Decision.allow_once())   # from any thread, on ApprovalNeeded
    run.stop()                   # from any thread
    run.undo.undo_last()         # after the run, or restore(point_id); `run.checkpoints` is
                                 # the earlier name of `run.undo`

A step: the model replies; every tool call in the reply is checked, approved if needed, and run;
malformed calls get a format hint (and the run goes on); what the step changed becomes an undo
point (`app.agent.undo`); then the limits and the context budget are checked before the next step.
A reply with no tool calls ends the run. Every other end (limits, loop breaker, format errors, full
context, stop, an error) is reported in `Finished` with a message for the person; none is silent.
`Finished` also says how many tools were used and which files changed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from app.agent import tools
from app.agent.context import TokenCounter, Transcript, approx_tokens
from app.agent.control import Limits, RunControl, RunStopped
from app.agent.events import (
    AgentEvent,
    ApprovalNeeded,
    ContextShortened,
    Decision,
    Finished,
    ModelReplied,
    Observation,
    StepStarted,
    StopReason,
    ToolCallProposed,
    UndoPointMade,
)
from app.agent.executor import Executor
from app.agent.guards import FormatGuard, LoopBreaker, guess_name, hint_response
from app.agent.model import AgentModel, Reply
from app.agent.permissions import ApprovalMode, Permissions
from app.agent.prompt import SYSTEM_PROMPT
from app.agent.runner import KILL_GRACE_S, CommandRunner
from app.agent.undo import MAX_LISTED, UndoPoints
from app.agent.workspace import Workspace

MAX_CHANGED_TRACKED = 10_000  # paths a run remembers as changed, for its summary


class AgentRun:
    """One task in one workspace. Not reusable: make a new one per task.

    Raises (on construction): NotADirectoryError for a missing workspace folder, UndoError when
    the undo store cannot be made (for example inside the workspace).
    """

    def __init__(
        self,
        model: AgentModel,
        workspace: str | Path,
        task: str | list[dict],
        *,
        data_dir: str | Path,
        on_event: Callable[[AgentEvent], None],
        mode: ApprovalMode = ApprovalMode.ASK,
        limits: Limits | None = None,
        count_tokens: TokenCounter = approx_tokens,
        system_prompt: str = SYSTEM_PROMPT,
        use_sandbox: bool | None = None,
        kill_grace_s: float = KILL_GRACE_S,
    ) -> None:
        self.model, self.task, self.count_tokens = model, task, count_tokens
        self.limits = limits or Limits()
        self.workspace = Workspace(workspace)
        self.undo = UndoPoints(self.workspace.root, data_dir)
        self.runner = CommandRunner(
            self.workspace.root, use_sandbox=use_sandbox, kill_grace_s=kill_grace_s
        )
        self.transcript = Transcript(system_prompt, tools.DECLARATIONS)
        self._emit = on_event
        self._control = RunControl()
        self._executor = Executor(
            tools.Toolbox(self.workspace, self.undo),
            self.runner,
            Permissions(mode),
            self._ask,
            on_event,
            self._control,
        )
        self._ids = itertools.count(1)
        self._started = False
        self._waited_s = 0.0
        self._tools_used = 0
        self._changed: set[str] = set()

    @property
    def checkpoints(self) -> UndoPoints:
        """The earlier name of `undo`."""
        return self.undo

    # ---------------------------------------------------------------- control, any thread

    def decide(self, call_id: int, decision: Decision) -> None:
        """Answer an `ApprovalNeeded` event."""
        self._control.decide(call_id, decision)

    def stop(self) -> None:
        """Stop the run: cancels the model's reply, kills a running command, ends a wait."""
        self._control.stop()
        self.model.cancel()
        self.runner.cancel()

    # ---------------------------------------------------------------- the loop

    def run(self) -> Finished:
        """Run the task to its end; returns the same `Finished` that was emitted last."""
        if self._started:
            raise RuntimeError("an AgentRun runs once; make a new one for the next task")
        self._started = True
        step, answer, started = 0, "", time.monotonic()
        try:
            self._mark(0, "Before the task")
            self.transcript.add_task(self.task)
            breaker = LoopBreaker(self.limits.repeat_limit)
            guard = FormatGuard(self.limits.max_format_hints)
            t = self.transcript
            send: Callable[[], Reply] = partial(
                self.model.begin, t.system_prompt, t.tools, self.task
            )
            while True:
                step += 1
                self._emit(StepStarted(step, self.limits.max_steps))
                reply = send()
                answer = reply.text
                self._control.check()
                self._emit(ModelReplied(step, reply.text, reply.thinking))
                if not reply.tool_calls and not reply.parse_errors:
                    self.transcript.add_step(reply.text, [])
                    return self._finish(
                        StopReason.DONE, "The model finished its answer.", step, answer
                    )
                results = self._do_step(step, reply, breaker, guard)
                if self._mark(step, f"Step {step}"):
                    breaker.workspace_changed()
                send = self._next_send(step, started, results)
        except RunStopped as stop:
            return self._finish(stop.reason, stop.message, step, answer)
        except Exception as exc:  # an adapter's or undo's failure must reach the person
            return self._finish(
                StopReason.ERROR, f"The run failed: {_sentence(exc)}", step, answer
            )

    def _do_step(
        self, step: int, reply: Reply, breaker: LoopBreaker, guard: FormatGuard
    ) -> list[dict]:
        message = self.transcript.add_step(reply.text, reply.tool_calls)
        results: list[dict] = message["tool_responses"]
        good = bad = False
        repeated = None
        for call in reply.tool_calls:
            self._control.check()
            call_id = next(self._ids)
            self._emit(ToolCallProposed(step, call_id, call.name, dict(call.arguments)))
            if breaker.fires(call):
                repeated = call.name
                response, ok = {"error": "The same call was made again; the run is stopped."}, False
                hint = False
            else:
                outcome = self._executor.execute(call_id, call)
                response, ok = outcome.response, outcome.ok
                good, bad = good or outcome.well_formed, bad or not outcome.well_formed
                self._tools_used += outcome.well_formed
                hint = not outcome.well_formed
            results.append({"name": call.name, "response": response})
            self._emit(Observation(call_id, call.name, response, ok, format_hint=hint))
            if repeated:
                break
        for raw in reply.parse_errors:
            bad = True
            call_id, name, response = next(self._ids), guess_name(raw), hint_response(raw)
            self._emit(ToolCallProposed(step, call_id, name, {"unparsed": raw}))
            results.append({"name": name, "response": response})
            self._emit(Observation(call_id, name, response, False, format_hint=True))
        guard.record_step(good, bad)
        if repeated:
            raise RunStopped(
                StopReason.REPEATED_CALL,
                f"Stopped: the model called {repeated} with the same arguments "
                f"{self.limits.repeat_limit} times without getting anywhere.",
            )
        if guard.exhausted:
            raise RunStopped(
                StopReason.FORMAT_ERRORS,
                f"Stopped: the model's tool calls could not be read "
                f"{guard.bad_steps} steps in a row, even with format hints.",
            )
        return results

    def _next_send(self, step: int, started: float, results: list[dict]) -> Callable[[], Reply]:
        """Check the limits and the budget; return how to ask for the next step."""
        self._control.check()
        self.limits.check(step, time.monotonic() - started - self._waited_s)
        before = self.transcript.tokens(self.count_tokens)
        if before <= self.limits.context_budget:
            return partial(self.model.reply_to_tools, results)
        if not self.transcript.fit(self.limits.context_budget, self.count_tokens):
            raise RunStopped(
                StopReason.CONTEXT_FULL,
                f"Stopped: the conversation needs more than the context "
                f"budget ({self.limits.context_budget} tokens) even with old outputs dropped.",
            )
        self._emit(ContextShortened(step, before, self.transcript.tokens(self.count_tokens)))
        t = self.transcript
        return partial(self._restart, t)

    # ---------------------------------------------------------------- helpers

    def _restart(self, t: Transcript) -> Reply:
        try:
            return self.model.restart(t.system_prompt, t.tools, t.messages)
        except NotImplementedError:
            raise RunStopped(
                StopReason.CONTEXT_FULL,
                "Stopped: the conversation is over the context budget and this model cannot "
                "continue from a shortened one.",
            ) from None

    def _ask(self, request: ApprovalNeeded) -> Decision:
        asked = time.monotonic()
        try:
            self._emit(request)
            return self._control.wait_for(request.call_id)
        finally:
            self._waited_s += time.monotonic() - asked  # the person's time is not the run's

    def _mark(self, step: int, label: str) -> bool:
        """Close the step's changes into an undo point; True when the step changed anything."""
        changed = self.undo.pending()
        for rel in changed:
            if len(self._changed) < MAX_CHANGED_TRACKED:
                self._changed.add(rel)
        made = self.undo.mark(label)
        if made is None and step == 0:
            # Nothing recorded yet: the newest point (of an earlier run) is the baseline.
            made = self.undo.list()[0]
        if made is not None:
            self._emit(UndoPointMade(step, made.id, made.label, made.changed))
        return bool(changed)

    def _finish(self, reason: StopReason, message: str, steps: int, answer: str) -> Finished:
        try:
            # A stop in the middle of a step may have changed files.
            self._mark(steps, f"End of run (step {steps})")
        except Exception as exc:
            message += f" (Saving the last undo point failed: {_sentence(exc)})"
        notes = list(self.undo.notes)
        if self._executor.commands_run and self.runner.note:
            notes.insert(0, self.runner.note)
        self.runner.close()
        changed = sorted(self._changed)
        finished = Finished(
            reason, message, steps, answer, self._tools_used, tuple(changed[:MAX_LISTED]),
            len(changed), tuple(notes),
        )  # fmt: skip
        self._emit(finished)
        return finished


def _sentence(exc: Exception) -> str:
    """An exception as the person reads it: its message, never a class name."""
    text = str(exc).strip()
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return text or "something unexpected went wrong"
