"""Commands sent to the engine thread and the events it sends back.

The engine thread (`engine.worker.EngineWorker`) owns the model and every MLX call. Callers put
commands on its queue with `submit(...)` and receive events through one callback, called on the
engine thread. A GUI forwards them to its own thread (the app does it with a queued Qt signal).

Every command that concerns a conversation names it by `session_id` (any string the caller picks).
Every event carries the `session_id` it belongs to ("" for engine-wide events) and, where it answers
a command, that command's `request_id`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_request_ids = itertools.count(1)


def _next_id() -> int:
    return next(_request_ids)


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class GenerationSettings:
    """How one answer is generated. `temperature == 0` is greedy."""

    temperature: float = 1.0
    top_p: float = 0.95
    top_k: int = 64
    min_p: float = 0.0
    max_tokens: int = 1024
    enable_thinking: bool = False
    # None: use the MTP drafter where it pays off (a GPU). On MLX's CPU backend a (K+1)-token verify
    # costs about K+1 decode steps, so drafting slows decoding there (docs/benchmarks.md).
    use_drafter: bool | None = None
    seed: int | None = None
    # Constrained decoding as plain data (`engine.decode.grammar`): {"type": "json_schema", "schema":
    # {...}}, {"type": "json_object"} or {"type": "tool_call", "tools": [...], "name": optional}.
    # Left out of the hash (a dict is not hashable); equality still compares it.
    constraint: dict | None = field(default=None, hash=False)


# ---------------------------------------------------------------- commands


@dataclass
class Command:
    request_id: int = field(default_factory=_next_id, kw_only=True)


@dataclass
class LoadModel(Command):
    """Load a checkpoint (local folder or Hugging Face repo id); replaces the current model."""

    path: str
    drafter_path: str | None = None
    dtype: str | None = None


@dataclass
class OpenSession(Command):
    """Create (or reset) a conversation. `tools` are JSON-schema function declarations."""

    session_id: str
    system_prompt: str = ""
    tools: list[dict] | None = None
    image_budget: int = 280
    context_length: int | None = None  # None: the model's own limit


@dataclass
class CloseSession(Command):
    session_id: str


@dataclass
class SendMessage(Command):
    """Add a user turn and generate the answer.

    `content` is a string or a list of items: {"type": "text", "text": ...},
    {"type": "image", "image": path or PIL.Image}, {"type": "audio", "audio": path or float32 array}.
    """

    session_id: str
    content: str | list[dict]
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class SendToolResults(Command):
    """Answer the model's tool calls of the current turn and let it continue."""

    session_id: str
    results: list[dict]  # [{"name": str, "response": Any}]
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class LoadHistory(Command):
    """Feed a conversation (user and assistant messages as the chat template takes them) without
    generating it. With `answer`, the model then answers its last user message, or the tool
    responses on its last assistant message."""

    session_id: str
    messages: list[dict]
    answer: bool = False
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class PrepareMedia(Command):
    """Preprocess/embed a dropped image or audio file ahead of Send (work may be cached)."""

    session_id: str
    item: dict


@dataclass
class StartVoiceTurn(Command):
    session_id: str
    settings: GenerationSettings = field(default_factory=GenerationSettings)  # thinking flag


@dataclass
class AppendAudio(Command):
    """16 kHz mono float32 samples of the open voice turn, any length."""

    session_id: str
    samples: np.ndarray


@dataclass
class EndVoiceTurn(Command):
    """Close the voice turn (optional text after the audio) and generate the answer."""

    session_id: str
    text: str = ""
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class Rollback(Command):
    """Return the conversation to the state just before user turn `turn` (0-based)."""

    session_id: str
    turn: int


@dataclass
class Regenerate(Command):
    """Drop the last answer and generate it again."""

    session_id: str
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class Cancel(Command):
    """Stop the running prefill or generation of this session (or any, if None)."""

    session_id: str | None = None


@dataclass
class SaveSession(Command):
    session_id: str
    path: str


@dataclass
class LoadSession(Command):
    session_id: str
    path: str


@dataclass
class Shutdown(Command):
    pass


# ---------------------------------------------------------------- events


@dataclass
class Event:
    session_id: str = ""
    request_id: int = 0


@dataclass
class ModelLoaded(Event):
    name: str = ""
    path: str = ""
    random_weights: bool = False
    has_drafter: bool = False
    context_length: int = 0
    memory_bytes: int = 0


@dataclass
class Progress(Event):
    """Long work in steps: `stage` is "load", "prefill", "image", "audio" or "download"."""

    stage: str = ""
    done: int = 0
    total: int = 0


@dataclass
class TextDelta(Event):
    """A piece of streamed output. `channel` is "answer" or "thinking"."""

    text: str = ""
    channel: str = "answer"


@dataclass
class ToolCallEvent(Event):
    name: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParseErrorEvent(Event):
    """The model wrote something that does not parse (a broken tool call); `raw` keeps its text."""

    raw: str = ""
    message: str = ""


@dataclass
class TurnStats(Event):
    prompt_tokens: int = 0
    prefill_seconds: float = 0.0
    generated_tokens: int = 0
    decode_tokens_per_second: float = 0.0
    time_to_first_token: float = 0.0
    context_used: int = 0
    context_length: int = 0
    drafted: int = 0
    accepted: int = 0
    target_forwards: int = 0
    memory_bytes: int = 0  # memory the engine holds after the turn (MLX active memory)


@dataclass
class TurnFinished(Event):
    """`reason`: "stop" (end of turn), "tool_calls", "length", "cancelled", "error"."""

    reason: str = "stop"
    text: str = ""


@dataclass
class ContextWarning(Event):
    used: int = 0
    limit: int = 0
    message: str = ""


@dataclass
class SessionSaved(Event):
    path: str = ""


@dataclass
class ErrorEvent(Event):
    message: str = ""
    detail: str = ""
