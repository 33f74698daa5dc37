"""The run's transcript and the context budget.

The loop keeps the conversation as chat messages (the shape in `app.agent.model`). Before each step
it measures the whole prompt (system prompt, tool declarations and messages rendered as JSON, which
is close to but not exactly what the template renders) with the token counter it was given.

The rule when over budget: observations older than the newest `keep_recent` steps are shortened,
oldest first, one at a time, until the prompt fits. Shortening keeps only the first
`SHORT_OBSERVATION_CHARS` characters of an observation's text and adds a note that it was shortened.
If shortening every old observation is not enough, they are dropped (replaced by a one-line note);
then the recent observations are shortened too, the newest last. If it still does not fit, the run
stops with CONTEXT_FULL. The task and the model's own calls are never changed.

Media in the task (an image, a voice recording) is not rendered to text: each item counts as
MEDIA_ITEM_TOKENS, the default image budget (an audio clip is 25 tokens a second, so a 10 s clip
is about as much). A video (a screen recording) counts VIDEO_ITEM_TOKENS, the most the engine makes
of one: 32 frames of 70 soft tokens with their timestamps and markers, and 2 minutes of sound.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.inputs.types import ToolCall

SHORT_OBSERVATION_CHARS = 300
KEEP_RECENT_STEPS = 2
SHORTENED = "[shortened to save context: read the file or run the command again for all of it]"
DROPPED = "[dropped to save context]"
MEDIA_ITEM_TOKENS = 280
VIDEO_ITEM_TOKENS = 32 * (70 + 8) + 120 * 25

TokenCounter = Callable[[str], int]


def approx_tokens(text: str) -> int:
    """A rough counter (4 characters a token) for when no tokenizer is given."""
    return len(text) // 4 + 1


@dataclass
class Transcript:
    system_prompt: str
    tools: list[dict]
    messages: list[dict] = field(default_factory=list)

    def add_task(self, task: str | list[dict]) -> None:
        self.messages.append({"role": "user", "content": task})

    def add_step(self, text: str, calls: list[ToolCall]) -> dict:
        message: dict[str, Any] = {"role": "assistant", "content": text, "tool_responses": []}
        if calls:
            message["tool_calls"] = [
                {"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in calls
            ]
        self.messages.append(message)
        return message

    def render(self) -> str:
        """The prompt as text for counting; media items become {"type": ...} stubs."""
        messages = [dict(m, content=_text_only(m["content"])) for m in self.messages]
        return json.dumps(
            {"system": self.system_prompt, "tools": self.tools, "messages": messages},
            ensure_ascii=False,
            default=str,
        )

    def tokens(self, count: TokenCounter) -> int:
        media = sum(
            VIDEO_ITEM_TOKENS if item.get("type") == "video" else MEDIA_ITEM_TOKENS
            for m in self.messages
            if isinstance(m["content"], list)
            for item in m["content"]
            if item.get("type") != "text"
        )
        return count(self.render()) + media

    def fit(self, budget: int, count: TokenCounter, keep_recent: int = KEEP_RECENT_STEPS) -> bool:
        """Shorten old observations by the module's rule until the prompt fits; True if it fits."""
        if self.tokens(count) <= budget:
            return True
        steps = [m for m in self.messages if m["role"] == "assistant"]
        split = max(0, len(steps) - keep_recent)
        passes = ((steps[:split], _shorten), (steps[:split], _drop), (steps[split:], _shorten))
        for messages, replace in passes:
            for message in messages:
                for item in message["tool_responses"]:
                    item["response"] = replace(item["response"])
                    if self.tokens(count) <= budget:
                        return True
        return False


def _text_only(content: str | list[dict]) -> str | list[dict]:
    if isinstance(content, str):
        return content
    return [item if item.get("type") == "text" else {"type": item.get("type")} for item in content]


def _shorten(response: dict) -> dict:
    if response.get("note") in (SHORTENED, DROPPED):
        return response
    text = json.dumps(response, ensure_ascii=False, default=str)
    if len(text) <= SHORT_OBSERVATION_CHARS:
        return response
    return {"note": SHORTENED, "start": text[:SHORT_OBSERVATION_CHARS]}


def _drop(response: dict) -> dict:
    return {"note": DROPPED}
