"""Safety nets for small models: the loop breaker and the format-hint counter.

Loop breaker: the same call (same tool name and the same arguments) stops the run when it is made
`limit` times in a row, or `limit` times while the workspace has not changed (so a model circling
between two or three reads is caught too). A change to the workspace (a new undo point) resets the
second count, so running the tests again after each edit is never caught.

Format hints: a call that does not parse, names no known tool, or has wrong arguments gets a hint
back that shows the expected format. After `max_hints` steps in a row with only such calls, the run
stops; one well-formed call resets the count.
"""

from __future__ import annotations

import json
import re

from engine.inputs.types import ToolCall

REPEAT_LIMIT = 3
MAX_FORMAT_HINTS = 3

FORMAT_HINT = (
    "That tool call could not be read. Call a tool in exactly this form, one call per block: "
    '<|tool_call>call:read_file{path:<|"|>main.py<|"|>}<tool_call|> '
    "Use only the declared tools and their argument names."
)


def call_key(call: ToolCall) -> str:
    """A canonical text for a call, equal for equal calls."""
    return call.name + json.dumps(call.arguments, sort_keys=True, ensure_ascii=False, default=str)


class LoopBreaker:
    """Counts identical calls: in a row, and since the workspace last changed."""

    def __init__(self, limit: int = REPEAT_LIMIT) -> None:
        if limit < 2:
            raise ValueError("the repeat limit must be at least 2")
        self.limit = limit
        self._last: str | None = None
        self._in_a_row = 0
        self._since_change: dict[str, int] = {}

    def fires(self, call: ToolCall) -> bool:
        """Record `call`; True when it is the `limit`-th identical one by either count."""
        key = call_key(call)
        self._in_a_row = self._in_a_row + 1 if key == self._last else 1
        self._last = key
        self._since_change[key] = self._since_change.get(key, 0) + 1
        return self._in_a_row >= self.limit or self._since_change[key] >= self.limit

    def workspace_changed(self) -> None:
        self._since_change.clear()


class FormatGuard:
    """Counts steps in a row whose calls were all malformed."""

    def __init__(self, max_hints: int = MAX_FORMAT_HINTS) -> None:
        self.max_hints = max_hints
        self.bad_steps = 0

    def record_step(self, any_good: bool, any_bad: bool) -> None:
        if any_good:
            self.bad_steps = 0
        elif any_bad:
            self.bad_steps += 1

    @property
    def exhausted(self) -> bool:
        """True once more malformed steps came in a row than hints may be given."""
        return self.bad_steps > self.max_hints


def hint_response(raw: str, problem: str = "") -> dict:
    """The tool response for a malformed call."""
    response = {"error": problem or "the tool call did not parse", "hint": FORMAT_HINT}
    if raw:
        response["your_call"] = raw[:300]
    return response


def guess_name(raw: str) -> str:
    """The tool name in a malformed call's text, to label the hint's tool response."""
    match = re.search(r"call:\s*([A-Za-z_]\w*)", raw)
    return match.group(1) if match else "invalid_call"
