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


@dataclass(frozen=True)
class CommandOutput:
    """A chunk of a running command's combined stdout/stderr, as it arrives."""

    call_id: int
    chunk: str


@dataclass(frozen=True)
class Observation:
    """The tool response that goes back to the model for one call."""

    call_id: int
    name: str
    response: dict[str, Any]
    ok: bool


@dataclass(frozen=True)
class CheckpointMade:
    step: int
    checkpoint_id: str  # shadow-git commit id; pass to `Checkpoints.restore`
    label: str


@dataclass(frozen=True)
class ContextShortened:
    step: int
    tokens_before: int
    tokens_after: int


@dataclass(frozen=True)
class Finished:
    reason: StopReason
    message: str  # shown to the person as is
    steps: int
    answer: str = ""  # the model's last text


AgentEvent = (
    StepStarted
    | ModelReplied
    | ToolCallProposed
    | ApprovalNeeded
    | CommandOutput
    | Observation
    | CheckpointMade
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
