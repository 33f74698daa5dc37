"""The model the agent loop talks to, as a small Protocol.

The loop never sees tokens or templates. It hands the model a system prompt, the tool declarations
(OpenAI-style JSON-schema functions) and the task, then feeds back the tool responses of each step.
An adapter onto the engine session implements this; `app.agent.scripted.ScriptedModel` replays fixed
replies for tests.

Conversation shape used by `restart` (the chat template's shape, reference §6.1):
    {"role": "user", "content": str | list[dict]}
    {"role": "assistant", "content": str,
     "tool_calls": [{"type": "function", "function": {"name": str, "arguments": dict}}],
     "tool_responses": [{"name": str, "response": dict}]}
Tool responses sit on the assistant message that made the calls, as the Gemma 4 template renders
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from engine.inputs.types import ToolCall


@dataclass(frozen=True)
class Reply:
    """One model turn, already parsed.

    Attributes:
        text: visible answer text (thinking removed).
        thinking: the thought channel's text, "" when thinking is off.
        tool_calls: well-formed calls, in the order the model made them.
        parse_errors: the raw text of each call that did not parse.
        finish_reason: "stop", "tool_calls", "length" or "cancelled".
    """

    text: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    parse_errors: list[str] = field(default_factory=list)
    finish_reason: str = "stop"


class AgentModel(Protocol):
    """What the loop needs from a model. Calls come from the loop's own (worker) thread."""

    def begin(self, system_prompt: str, tools: list[dict], task: str | list[dict]) -> Reply:
        """Start a fresh conversation and return the first reply.

        Args:
            system_prompt: the agent's instructions.
            tools: JSON-schema function declarations, {"type": "function", "function": {...}}.
            task: the person's request: text, or content items (text, image, audio, video) as in chat.
        """
        ...

    def reply_to_tools(self, results: list[dict]) -> Reply:
        """Append the tool responses of the last reply ({"name", "response"} each) and continue."""
        ...

    def restart(self, system_prompt: str, tools: list[dict], messages: list[dict]) -> Reply:
        """Replace the conversation with `messages` (shortened by the loop) and continue after them.

        The last message is the assistant turn whose tool responses are to be answered. An adapter
        that cannot do this raises NotImplementedError; the run then stops with CONTEXT_FULL.
        """
        ...

    def cancel(self) -> None:
        """Stop a reply in progress; may be called from any thread. The reply returns early."""
        ...
