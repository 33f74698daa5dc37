"""Typed events an `AgentRun` emits, and the approval decisions it takes back.

Events are frozen dataclasses holding plain Python values, delivered through one callback on the
run's own thread; a GUI forwards them to its thread (for example through a queued Qt signal).
Approval: on `ApprovalNeeded` the run waits until `AgentRun.decide(call_id, decision)` is called,
from any thread, including from inside the callback itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class StopReason(str, enum.Enum):
    """Why a run ended. Every stop but DONE is something the person is told about."""

    DONE = "done"  # the model answered without calling a tool
    STEP_LIMIT = "step_limit"
    TIME_LIMIT = "time_limit"
    REPEATED_CALL = "repeated_call"  # the loop breaker fired
    FORMAT_ERRORS = "format_errors"  # too many malformed calls in a row
    CONTEXT_FULL = "context_full"  # over budget even after shortening old observations
    STOPPED = "stopped"  # the person pressed stop
    ERROR = "error"  # the model adapter, git or a callback raised


@dataclass(frozen=True)
class StepStarted:
    step: int  # 1-based
    max_steps: int


@dataclass(frozen=True)
class ModelReplied:
    """The model's visible text and thinking for a step (may be empty when it only calls tools)."""

    step: int
    text: str
    thinking: str


@dataclass(frozen=True)
class ToolCallProposed:
    """A call the model made; a call that did not parse has arguments {"unparsed": raw text}."""

    step: int
    call_id: int
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ApprovalNeeded:
    """A write or a command waits for the person. `diff` is a unified diff for edits and writes."""

    call_id: int
    name: str
    kind: str  # "edit" or "run"
    summary: str  # one line: "Edit src/app.py" or the command
    diff: str | None = None
    command: str | None = None
    note: str = ""  # for a command: the sentence saying it runs unconfined, "" in a sandbox


@dataclass(frozen=True)
class CommandStarted:
    """A command starts now (after approval, if it needed one).

    `note` is "" when it runs in a sandbox; otherwise the sentence the person is shown (commands
    run unconfined on this system).
    """

    call_id: int
    command: str
    sandboxed: bool
    note: str = ""


@dataclass(frozen=True)
class CommandOutput:
    """A chunk of a running command's combined stdout/stderr, as it arrives."""

    call_id: int
    chunk: str


@dataclass(frozen=True)
class Observation:
    """The tool response that goes back to the model for one call.

    `format_hint` is True when the call could not be read (or named no tool, or had wrong
    arguments) and the response is the hint that shows the model the expected form.
    """

    call_id: int
    name: str
    response: dict[str, Any]
    ok: bool
    format_hint: bool = False


@dataclass(frozen=True)
class UndoPointMade:
    """The files after a step were saved as an undo point (see `app.agent.undo`)."""

    step: int
    point_id: str  # pass to `UndoPoints.restore`
    label: str
    changed: tuple[str, ...] = ()  # the paths the step changed (the first ones)

    @property
    def checkpoint_id(self) -> str:
        """The earlier name of `point_id`."""
        return self.point_id


CheckpointMade = UndoPointMade  # the earlier name


@dataclass(frozen=True)
class ContextShortened:
    step: int
    tokens_before: int
    tokens_after: int


@dataclass(frozen=True)
class Finished:
    """The end of a run.

    Attributes:
        message: shown to the person as is.
        tools_used: tool calls carried out (malformed ones not counted).
        files_changed: workspace paths the run changed (the first MAX_LISTED, see app.agent.undo).
        files_changed_total: how many paths it changed in all.
        notes: sentences the person should see with the result (commands ran unconfined, what
            undo could not cover), "" free.
    """

    reason: StopReason
    message: str
    steps: int
    answer: str = ""  # the model's last text
    tools_used: int = 0
    files_changed: tuple[str, ...] = ()
    files_changed_total: int = 0
    notes: tuple[str, ...] = ()

    @property
    def what_happened(self) -> str:
        """One sentence on what the run did, e.g. "No tool was used and no file changed."."""
        tools = "No tool was used" if not self.tools_used else (
            f"{self.tools_used} tool call{'s' if self.tools_used != 1 else ''} made"
        )
        n = self.files_changed_total
        files = "no file changed" if not n else f"{n} file{'s' if n != 1 else ''} changed"
        return f"{tools} and {files}."


AgentEvent = (
    StepStarted
    | ModelReplied
    | ToolCallProposed
    | ApprovalNeeded
    | CommandStarted
    | CommandOutput
    | Observation
    | UndoPointMade
    | ContextShortened
    | Finished
)


class DecisionKind(str, enum.Enum):
    ALLOW_ONCE = "allow_once"
    ALLOW_FOR_TASK = "allow_for_task"
    DENY = "deny"


@dataclass(frozen=True)
class Decision:
    """The person's answer to an `ApprovalNeeded`. A denial's message goes back to the model."""

    kind: DecisionKind
    message: str = field(default="")

    @classmethod
    def allow_once(cls) -> Decision:
        return cls(DecisionKind.ALLOW_ONCE)

    @classmethod
    def allow_for_task(cls) -> Decision:
        return cls(DecisionKind.ALLOW_FOR_TASK)

    @classmethod
    def deny(cls, message: str = "") -> Decision:
        return cls(DecisionKind.DENY, message)
