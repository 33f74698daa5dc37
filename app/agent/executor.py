"""Carry out one tool call: check it, ask for approval when needed, run it, and build the response.

`Executor.execute(call_id, call)` returns the tool response for the model and whether the call was
well formed (for the format-hint counter). It never raises for a problem the model can act on: a
bad argument, a refused path, a missing passage, a denial or a failed command all come back as an
"error" in the response. Approval goes through the `ask` callable that `AgentRun` provides.

Read tools run through `RunControl.call_stoppable`, so Stop ends a read or a search at once. Writes
go through the undo recorder (`Toolbox.apply`), and every command runs inside
`UndoPoints.watching()`, so what it changes can be taken back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import os

from app.agent import tools
from app.agent.control import RunControl
from app.agent.events import (
    ApprovalNeeded,
    CommandOutput,
    CommandStarted,
    Decision,
    DecisionKind,
)
from app.agent.files import ToolError
from app.agent.guards import hint_response
from app.agent.permissions import Permissions
from app.agent.runner import CommandRunner
from engine.inputs.types import ToolCall

Ask = Callable[[ApprovalNeeded], Decision]


@dataclass(frozen=True)
class Outcome:
    response: dict
    ok: bool  # the tool did what was asked
    well_formed: bool  # the call named a real tool with valid arguments


def _denied(decision: Decision) -> dict:
    response = {"error": "The user denied this action. Do not try it again the same way."}
    if decision.message:
        response["user_message"] = decision.message
    return response


class Executor:
    def __init__(
        self,
        toolbox: tools.Toolbox,
        runner: CommandRunner,
        permissions: Permissions,
        ask: Ask,
        emit: Callable[[object], None],
        control: RunControl | None = None,
    ) -> None:
        self.toolbox = toolbox
        self.runner = runner
        self.permissions = permissions
        self.ask = ask
        self.emit = emit
        self.control = control or RunControl()
        self.commands_run = 0

    def execute(self, call_id: int, call: ToolCall) -> Outcome:
        try:
            args = tools.check(call)
        except ToolError as exc:
            return Outcome(hint_response("", str(exc)), ok=False, well_formed=False)
        kind = tools.KINDS[call.name]
        try:
            if kind == "read":
                response = self.control.call_stoppable(
                    lambda cancel: self.toolbox.run_read(call.name, args, cancel)
                )
                return Outcome(response, ok=True, well_formed=True)
            if kind == "edit":
                return self._edit(call_id, call.name, args)
            return self._run(call_id, args)
        except ToolError as exc:
            return Outcome({"error": str(exc)}, ok=False, well_formed=True)
        except OSError as exc:
            return Outcome({"error": os_error_sentence(exc)}, ok=False, well_formed=True)

    def _approved(self, request: ApprovalNeeded) -> Decision:
        if not self.permissions.needs_approval(request.kind, request.command or ""):
            return Decision.allow_once()
        decision = self.ask(request)
        if decision.kind is DecisionKind.ALLOW_FOR_TASK:
            self.permissions.grant_for_task(request.kind, request.command or "")
        return decision

    def _edit(self, call_id: int, name: str, args: dict) -> Outcome:
        change = self.toolbox.plan_change(name, args)
        verb = "Create" if change.old is None else ("Edit" if name == "edit_file" else "Overwrite")
        request = ApprovalNeeded(
            call_id, name, "edit", f"{verb} {change.shown}", diff=change.diff()
        )
        decision = self._approved(request)
        if decision.kind is DecisionKind.DENY:
            return Outcome(_denied(decision), ok=False, well_formed=True)
        return Outcome(self.toolbox.apply(change), ok=True, well_formed=True)

    def _run(self, call_id: int, args: dict) -> Outcome:
        command = args["command"]
        if not command.strip():
            raise ToolError("command is empty")
        note = self.runner.note
        request = ApprovalNeeded(
            call_id, "run_command", "run", command, command=command, note=note
        )
        decision = self._approved(request)
        if decision.kind is DecisionKind.DENY:
            return Outcome(_denied(decision), ok=False, well_formed=True)
        self.emit(CommandStarted(call_id, command, self.runner.sandbox.confined, note))
        self.commands_run += 1
        with self.toolbox.undo.watching():
            result = self.runner.run(
                command,
                tools.command_timeout(args),
                lambda chunk: self.emit(CommandOutput(call_id, chunk)),
            )
        ok = result.exit_code == 0
        return Outcome(result.as_response(), ok=ok, well_formed=True)


def os_error_sentence(exc: OSError) -> str:
    """A file system error as a sentence for the model and the person."""
    what = (exc.strerror or "the file system refused").rstrip(".")
    where = f" ({os.path.basename(exc.filename)})" if exc.filename else ""
    return f"The file system said: {what.lower()}{where}."
