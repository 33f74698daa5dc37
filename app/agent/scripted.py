"""A model that replays fixed replies, for tests and demos without weights.

Each call to `begin`, `reply_to_tools` or `restart` returns the next scripted `Reply` and records
what the loop sent, so tests can assert on the tool responses the model would have seen. When the
script runs out, the model answers with a plain "done" text reply, which ends a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.agent.model import Reply
from engine.inputs.types import ToolCall


def call(name: str, **arguments: Any) -> ToolCall:
    """Shorthand for a well-formed tool call."""
    return ToolCall(name=name, arguments=arguments)


def calls(*tool_calls: ToolCall, text: str = "") -> Reply:
    """A reply that makes the given tool calls."""
    return Reply(text=text, tool_calls=list(tool_calls), finish_reason="tool_calls")


@dataclass
class ScriptedModel:
    """Replays `replies` in order.

    Attributes:
        replies: the replies to give, one per model turn.
        received: what the loop sent: ("begin", task), ("tools", results), ("restart", messages).
        cancelled: set when `cancel` was called.
    """

    replies: list[Reply]
    received: list[tuple[str, Any]] = field(default_factory=list)
    cancelled: bool = False
    system_prompt: str = ""
    tools: list[dict] = field(default_factory=list)

    def begin(self, system_prompt: str, tools: list[dict], task: str | list[dict]) -> Reply:
        self.system_prompt, self.tools = system_prompt, tools
        self.received.append(("begin", task))
        return self._next()

    def reply_to_tools(self, results: list[dict]) -> Reply:
        self.received.append(("tools", results))
        return self._next()

    def restart(self, system_prompt: str, tools: list[dict], messages: list[dict]) -> Reply:
        self.received.append(("restart", messages))
        return self._next()

    def cancel(self) -> None:
        self.cancelled = True

    def tool_results(self) -> list[dict]:
        """Every tool response the model was sent, flattened, in order."""
        out: list[dict] = []
        for kind, payload in self.received:
            if kind == "tools":
                out.extend(payload)
            elif kind == "restart":
                out.extend(payload[-1].get("tool_responses", []))
        return out

    def _next(self) -> Reply:
        if not self.replies:
            return Reply(text="done", finish_reason="stop")
        return self.replies.pop(0)
