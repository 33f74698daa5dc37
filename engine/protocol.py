"""Commands sent to the engine thread and the events it sends back.

The engine thread (`engine.worker.EngineWorker`) owns the model and every MLX call. Callers put
commands on its queue with `submit(...)` and receive events through one callback, called on the
engine thread. A GUI forwards them to its own thread (the app does it with a queued Qt signal).

Every command that acts on a conversation is a `SessionCommand`: it names the conversation by
`session_id` (any string the caller picks). Events are frozen: the engine thread makes each one with
the `session_id` it belongs to ("" for engine-wide events) and, where it answers a command, that
command's `request_id`. An `ErrorEvent`'s `kind` says what went wrong without matching its text.
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
class SessionCommand(Command):
    """A command that acts on one conversation."""

    session_id: str


@dataclass
class LoadModel(Command):
    """Load a checkpoint (local folder or Hugging Face repo id); replaces the current model."""

    path: str
    drafter_path: str | None = None
    dtype: str | None = None


@dataclass
class OpenSession(SessionCommand):
    """Create (or reset) a conversation. `tools` are JSON-schema function declarations."""

    system_prompt: str = ""
    tools: list[dict] | None = None
    image_budget: int = 280
    context_length: int | None = None  # None: the model's own limit
    kv_bits: int | None = None  # 8 or 4: quantized keys and values in the full-attention layers


@dataclass
class CloseSession(SessionCommand):
    """Forget a conversation and what was prepared for it."""


@dataclass
class SendMessage(SessionCommand):
    """Add a user turn and generate the answer.

    `content` is a string or a list of items: {"type": "text", "text": ...},
    {"type": "image", "image": path or PIL.Image}, {"type": "audio", "audio": path or float32 array}.
    """

    content: str | list[dict]
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class SendToolResults(SessionCommand):
    """Answer the model's tool calls of the current turn and let it continue."""

    results: list[dict]  # [{"name": str, "response": Any}]
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class LoadHistory(SessionCommand):
    """Feed a conversation (user and assistant messages as the chat template takes them) without
    generating it. With `answer`, the model then answers its last user message, or the tool
    responses on its last assistant message."""

    messages: list[dict]
    answer: bool = False
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class PrepareMedia(SessionCommand):
    """Preprocess/embed a dropped image or audio file ahead of Send (work may be cached)."""

    item: dict


@dataclass
class StartVoiceTurn(SessionCommand):
    settings: GenerationSettings = field(default_factory=GenerationSettings)  # thinking flag


@dataclass
class AppendAudio(SessionCommand):
    """16 kHz mono float32 samples of the open voice turn, any length."""

    samples: np.ndarray


@dataclass
class PrepareVoiceAnswer(SessionCommand):
    """The person paused (hands-free): close the voice turn ahead and decode the answer's first tokens
    with `settings` until another command comes. Nothing is shown; an `EndVoiceTurn` with the same
    settings starts with them, more audio takes them back."""

    settings: GenerationSettings = field(default_factory=GenerationSettings)
    within_s: float | None = None  # the silence left before the turn ends: a slower close is not fed


@dataclass
class EndVoiceTurn(SessionCommand):
    """Close the voice turn (optional text after the audio) and generate the answer."""

    text: str = ""
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class Rollback(SessionCommand):
    """Return the conversation to the state just before user turn `turn` (0-based)."""

    turn: int


@dataclass
class Regenerate(SessionCommand):
    """Drop the last answer and generate it again."""

    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class WriteTitle(Command):
    """Write a short title for conversation `conversation_id` from `text` (its first exchange), in
    the background: the engine runs it only when no other command waits, in a throwaway session,
    and any other command stops it at once (then: TurnFinished "cancelled"). Answered by
    TitleWritten. Not a SessionCommand: the conversation's own session is left as it is."""

    conversation_id: str
    text: str


@dataclass
class Cancel(Command):
    """Stop the running prefill or generation of this session (or any, if None)."""

    session_id: str | None = None


@dataclass
class SaveSession(SessionCommand):
    """Write the conversation's cache to `path` (see `engine.session.persistence`)."""

    path: str


@dataclass
class LoadSession(SessionCommand):
    """Replace the conversation with the one saved at `path`; when that file cannot be read (missing, of
    another format or model), feed `fallback` (messages, as LoadHistory does) instead, if given."""

    path: str
    fallback: list[dict] | None = None


@dataclass
class Shutdown(Command):
    pass


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class Event:
    session_id: str = ""
    request_id: int = 0


@dataclass(frozen=True)
class TitleWritten(Event):
    """The title a WriteTitle asked for ("" when the model wrote none)."""

    title: str = ""


@dataclass(frozen=True)
class ModelLoaded(Event):
    """A model is ready. `has_vision` / `has_audio` are False for a text-only build (no images / audio)."""

    name: str = ""
    path: str = ""
    random_weights: bool = False
    has_drafter: bool = False
    has_vision: bool = True
    has_audio: bool = True
    context_length: int = 0
    memory_bytes: int = 0
    drafter_pays_off: bool = False  # drafting is faster on this device (a GPU): use_drafter default
    memory_note: str = ""  # macOS: what the GPU's wired-memory limit means and how to raise it


@dataclass(frozen=True)
class Progress(Event):
    """Long work in steps: `stage` is "load", "prefill", "image", "audio" or "download"."""

    stage: str = ""
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class Accepted(Event):
    """An answering command took effect: its prompt is in the conversation (for Regenerate: the new answer's
    first token is out, and the old answer is gone). Until this event, a Stop or a failure leaves the
    conversation exactly as it was, and the command ends with TurnFinished(reason="cancelled") or an
    ErrorEvent. After it, a Stop keeps what is there (the partial answer); a failure still takes the whole
    command back (ErrorEvent)."""


@dataclass(frozen=True)
class TextDelta(Event):
    """A piece of streamed output. `channel` is "answer" or "thinking"."""

    text: str = ""
    channel: str = "answer"


@dataclass(frozen=True)
class ToolCallEvent(Event):
    name: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParseErrorEvent(Event):
    """The model wrote something that does not parse (a broken tool call); `raw` keeps its text."""

    raw: str = ""
    message: str = ""


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class TurnFinished(Event):
    """`reason`: "stop" (end of turn), "tool_calls", "length", "cancelled", "error"."""

    reason: str = "stop"
    text: str = ""


@dataclass(frozen=True)
class ContextWarning(Event):
    used: int = 0
    limit: int = 0
    message: str = ""


@dataclass(frozen=True)
class SessionSaved(Event):
    path: str = ""


@dataclass(frozen=True)
class SessionEvicted(Event):
    """An idle conversation's caches were written to disk and dropped to stay within the memory budget;
    the next command for it reads them back (`engine.session_budget`)."""

    bytes_freed: int = 0
    path: str = ""
    message: str = ""


@dataclass(frozen=True)
class SessionReloaded(Event):
    """A conversation moved to disk was read back before its command ran."""

    seconds: float = 0.0
    message: str = ""


ERROR_KINDS = ("no_model", "bad_request", "too_long", "not_found", "internal")


@dataclass(frozen=True)
class ErrorEvent(Event):
    """A command failed. `kind` is one of ERROR_KINDS: "no_model" (none loaded), "bad_request" (the
    request cannot be carried out as asked), "too_long" (it does not fit in the context), "not_found"
    (it names something that does not exist), "internal" (a fault of the engine; `detail` holds the
    traceback). `message` is a sentence for the person."""

    message: str = ""
    detail: str = ""
    kind: str = "internal"
