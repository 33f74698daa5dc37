"""A chat request in a form both APIs share, and comparable across requests.

Contract:
- `SessionKey` is what a live engine session is opened with (system prompt, tools, thinking, image
  budget): two requests can share a session's cache only when their keys are equal.
- A conversation is a list of turns: `UserTurn`, `AssistantTurn`, `ToolResultsTurn`. Equality
  compares only what the model saw: user text and media digests (never the decoded media), the
  assistant's answer text (trimmed, as the chat template trims it) and its tool calls, tool results.
  `UserTurn.build()` decodes the media lazily, so a long history is hashed, not decoded.
- `TurnRequest` is one parsed request: key, turns, generation settings and stop strings.
- `template_messages(turns)` gives turns as the chat template's messages (tool results go on the
  assistant message that asked for them), for feeding a history the server holds no session for.
- `RequestError` is a client error (HTTP 400) whose message says what is wrong and where.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.protocol import GenerationSettings


class RequestError(ValueError):
    """A request the server will not serve; `param` names the offending field when known."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


def canonical_json(value: Any) -> str:
    """One spelling per value, so arguments compare equal however a client orders its keys."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class SessionKey:
    system_prompt: str = ""
    tools_json: str = ""  # canonical JSON of the engine tool list ("" for none)
    enable_thinking: bool = False
    image_budget: int = 280

    @property
    def tools(self) -> list[dict] | None:
        return json.loads(self.tools_json) if self.tools_json else None


@dataclass(frozen=True)
class UserTurn:
    # (("text", str) | ("image", digest) | ("audio", digest) | ("video", digest), ...)
    key: tuple
    build: Callable[[], str | list[dict]] = field(compare=False, repr=False, default=lambda: "")


@dataclass(frozen=True)
class AssistantTurn:
    text: str
    calls: tuple[tuple[str, str], ...] = ()  # (name, canonical JSON of the arguments)


@dataclass(frozen=True)
class ToolResultsTurn:
    results: tuple[tuple[str, str], ...]  # (name, canonical JSON of the response)

    def engine_results(self) -> list[dict]:
        return [{"name": n, "response": json.loads(r)} for n, r in self.results]


ConversationItem = UserTurn | AssistantTurn | ToolResultsTurn


def assistant_turn(text: str | None, calls: list[tuple[str, Any]]) -> AssistantTurn:
    return AssistantTurn((text or "").strip(), tuple((n, canonical_json(a)) for n, a in calls))


@dataclass
class TurnRequest:
    key: SessionKey
    turns: list[ConversationItem]
    settings: GenerationSettings
    stop: list[str] = field(default_factory=list)
    model: str = ""
    stream: bool = False

    def check_shape(self) -> None:
        """The last turn must be something the model answers: a user turn or tool results."""
        if not self.turns:
            raise RequestError("the request has no messages to answer", "messages")
        if isinstance(self.turns[-1], AssistantTurn):
            raise RequestError(
                "the last message is the assistant's; continuing a given assistant message is not "
                "supported: end with a user message or tool results",
                "messages",
            )
        for i, t in enumerate(self.turns):
            if isinstance(t, ToolResultsTurn) and (
                i == 0
                or not isinstance(self.turns[i - 1], AssistantTurn)
                or not self.turns[i - 1].calls
            ):
                raise RequestError(
                    f"tool results at message turn {i} do not follow an "
                    "assistant message with tool calls",
                    "messages",
                )


def template_messages(turns: list[ConversationItem]) -> list[dict]:
    """Turns as the chat template's messages; decodes the media of user turns."""
    out: list[dict] = []
    for t in turns:
        if isinstance(t, UserTurn):
            out.append({"role": "user", "content": t.build()})
        elif isinstance(t, AssistantTurn):
            msg: dict = {"role": "assistant", "content": t.text}
            if t.calls:
                msg["tool_calls"] = [{"function": {"name": n, "arguments": json.loads(a)}}
                                     for n, a in t.calls]
            out.append(msg)
        elif isinstance(t, ToolResultsTurn) and out and out[-1]["role"] == "assistant":
            out[-1].setdefault("tool_responses", []).extend(t.engine_results())
    return out
