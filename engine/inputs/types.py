"""Small value types shared by the input pipeline, the output parser, the session and the agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One call the model made: `call:NAME{...}` parsed into a name and its arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
