"""The one conversion every API shares: neutral messages to engine turns, tools, and constraints.

Each front (`openai_convert`, `anthropic_convert`, `responses_convert`) reads its own JSON into a
`ChatRequest` of neutral `Message`s; `turn_request(chat)` makes the `TurnRequest` the engine runs.

Contract (how Gemma's format is reached):
- System messages before the conversation form the system prompt (joined by a blank line). A system
  message later on is rendered where it stands: as text at the end of the user turn before it, as
  one more tool response named "system" after tool results, or at the start of the next user turn
  after an answer. The system prompt (and so the kept session) stays the same when a client adds
  reminders mid-conversation.
- User messages become user turns (text, images, audio, video). A user message right after tool results
  (text a client sends beside them) is given to the model as one more tool response named "user":
  Gemma continues its own turn after tool results, so a user turn cannot come before it answers.
- Consecutive assistant messages are one assistant turn (text and tool calls). Tool results answer
  the tool calls of the assistant turn before them by id; consecutive ones are one tool-results turn.
- Tools are function declarations. `tool_choice` "none" declares none; "required" forces a call of
  any declared tool, a name forces a call of that tool; both by constrained decoding, as does an
  `output_format` ({"type": "json_schema", "schema"} or {"type": "json_object"}). A forced call wins
  over an output format. What cannot be enforced is a 400 that names it.
- `notes` collects what a front accepted but ignored (e.g. tool types other than functions); routes
  return them to the client.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.decode.grammar import ConstraintError, check_spec
from engine.protocol import GenerationSettings
from engine.server.items import (
    AssistantTurn,
    ConversationItem,
    RequestError,
    SessionKey,
    ToolResultsTurn,
    TurnRequest,
    UserTurn,
    assistant_turn,
    canonical_json,
)
from engine.server.media import audio_ref, image_ref


@dataclass
class Part:
    """A piece of a user or system message: text, or an image or audio clip loaded when fed."""

    kind: str  # "text", "image", "audio", "video"
    text: str = ""
    digest: str = ""
    # image: a PIL image; audio: a list of 16 kHz clips; video: a list of content items
    load: Callable[[], Any] | None = None
    size: int = 0  # bytes of the encoded media the loader holds


@dataclass
class Call:
    name: str
    arguments: dict
    id: str = ""


@dataclass
class Message:
    role: str  # "system", "user", "assistant", "tool"
    where: str  # the field it came from, for error messages
    parts: list[Part] = field(default_factory=list)  # system and user
    text: str = ""  # assistant
    calls: list[Call] = field(default_factory=list)  # assistant
    call_id: str = ""  # tool
    result: Any = ""  # tool: a string or a JSON value


@dataclass
class Tool:
    name: str
    description: str = ""
    parameters: dict | None = None

    def declaration(self) -> dict:
        fn: dict[str, Any] = {"name": self.name}
        if self.description:
            fn["description"] = self.description
        if self.parameters is not None:
            fn["parameters"] = self.parameters
        return {"type": "function", "function": fn}


@dataclass
class ChatRequest:
    messages: list[Message]
    settings: GenerationSettings
    tools: list[Tool] = field(default_factory=list)
    tool_choice: str = "auto"  # "auto", "none", "required", or the name of a tool to call
    output_format: dict | None = None
    format_field: str = "response_format"  # where the front read `output_format` (for errors)
    stop: list[str] = field(default_factory=list)
    model: str = ""
    stream: bool = False
    notes: list[str] = field(default_factory=list)


def text_part(text: str) -> Part:
    return Part("text", text=text)


def image_part(url: Any, where: str, allow_files: bool) -> Part:
    """An image from a data URL, a file:// URL or an absolute path (see `engine.server.media`)."""
    digest, load = image_ref(url, where, allow_files)
    return Part("image", digest=digest, load=load, size=len(url))


def audio_part(data: Any, fmt: Any, where: str) -> Part:
    digest, load = audio_ref(data, fmt, where)
    return Part("audio", digest=digest, load=load, size=len(data))


def message_bytes(m: Message) -> int:
    """About how much memory a message holds (texts and encoded media)."""
    calls = sum(len(c.name) + len(json.dumps(c.arguments)) for c in m.calls)
    result = len(m.result) if isinstance(m.result, str) else len(json.dumps(m.result))
    return sum(len(p.text) + p.size for p in m.parts) + len(m.text) + calls + result


def system_text(parts: list[Part]) -> str:
    return "".join(p.text for p in parts if p.kind == "text").strip()


def user_turn(parts: list[Part]) -> UserTurn:
    """A user turn; its key compares what the model sees (texts, media digests)."""
    if len(parts) == 1 and parts[0].kind == "text":
        text = parts[0].text
        return UserTurn((("text", text.strip()),), lambda: text)
    key = tuple((p.kind, p.text if p.kind == "text" else p.digest) for p in parts)
    return UserTurn(key, lambda: _content(parts))


def _content(parts: list[Part]) -> list[dict]:
    out: list[dict] = []
    for p in parts:
        if p.kind == "text":
            out.append({"type": "text", "text": p.text})
        elif p.kind == "image":
            out.append({"type": "image", "image": p.load()})
        elif p.kind == "video":
            out.extend(p.load())
        else:
            out.extend({"type": "audio", "audio": clip} for clip in p.load())
    return out


class _Turns:
    """Builds the turn list message by message (see the module docstring)."""

    def __init__(self) -> None:
        self.system: list[str] = []
        self.turns: list[ConversationItem] = []
        self.user_parts: list[Part] | None = None  # parts of the last turn, when it is a user turn
        self.pending_system: list[Part] = []
        self.call_names: dict[str, str] = {}
        self.answered: set[str] = set()

    def add(self, m: Message) -> None:
        if m.role == "system":
            self._system(m)
        elif m.role == "user":
            if isinstance(self._last, ToolResultsTurn):
                text = "".join(p.text if p.kind == "text" else f"[{p.kind} omitted]"
                               for p in m.parts)
                self._add_result("user", text)
            else:
                self._user(self.pending_system + m.parts)
                self.pending_system = []
        elif m.role == "assistant":
            self._assistant(m)
        elif m.role == "tool":
            self._tool(m)
        else:
            raise RequestError(f"'{m.where}.role' {m.role!r} is not a known role", f"{m.where}.role")

    @property
    def _last(self) -> ConversationItem | None:
        return self.turns[-1] if self.turns else None

    def _system(self, m: Message) -> None:
        text = system_text(m.parts)
        if not self.turns:
            if text:
                self.system.append(text)
        elif not text:
            return
        elif isinstance(self._last, UserTurn):
            self._user(self.user_parts + [text_part("\n\n" + text)], replace=True)
        elif isinstance(self._last, ToolResultsTurn):
            self._add_result("system", text)
        else:
            self.pending_system.append(text_part(text + "\n\n"))

    def _user(self, parts: list[Part], replace: bool = False) -> None:
        if not parts:
            return
        if replace:
            self.turns.pop()
        self.turns.append(user_turn(parts))
        self.user_parts = parts

    def _assistant(self, m: Message) -> None:
        calls = [(c.name, c.arguments) for c in m.calls]
        last = self._last
        if isinstance(last, AssistantTurn):  # one turn, however many messages carry it
            self.turns[-1] = assistant_turn(
                f"{last.text}{m.text}", [(n, json.loads(a)) for n, a in last.calls] + calls)
        else:
            self.turns.append(assistant_turn(m.text, calls))
            self.call_names, self.answered = {}, set()
        for c in m.calls:
            if c.id:
                self.call_names[c.id] = c.name
        self.user_parts = None

    def _tool(self, m: Message) -> None:
        name = self.call_names.get(m.call_id)
        if name is None or m.call_id in self.answered:
            raise RequestError(
                f"'{m.where}' answers the tool call {m.call_id!r}, which is not an unanswered "
                "call of the assistant message before it", m.where)
        self.answered.add(m.call_id)
        self._add_result(name, m.result)

    def _add_result(self, name: str, result: Any) -> None:
        entry = (name, canonical_json(result))
        if isinstance(self._last, ToolResultsTurn):
            self.turns[-1] = ToolResultsTurn(self._last.results + (entry,))
        else:
            self.turns.append(ToolResultsTurn((entry,)))
        self.user_parts = None

    def finish(self) -> tuple[str, list[ConversationItem]]:
        if self.pending_system:
            self._user([text_part(system_text(self.pending_system))])
        return "\n\n".join(self.system), self.turns


def build_turns(messages: list[Message]) -> tuple[str, list[ConversationItem]]:
    """(system prompt, turns) for these messages."""
    turns = _Turns()
    for m in messages:
        turns.add(m)
    return turns.finish()


def constraint_of(chat: ChatRequest, declared: list[dict]) -> dict | None:
    """The constraint spec the request asks for (None: free output), checked to be enforceable."""
    choice = chat.tool_choice
    spec: dict | None = None
    param = "tool_choice"
    if choice not in ("auto", "none"):
        if not declared:
            raise RequestError("'tool_choice' asks for a tool call, but no tool is declared", param)
        spec = {"type": "tool_call", "tools": declared}
        if choice != "required":
            if choice not in {t.name for t in chat.tools}:
                raise RequestError(f"'tool_choice' names the tool {choice!r}, which is not declared",
                                   param)
            spec["name"] = choice
    elif chat.output_format is not None:
        spec, param = chat.output_format, chat.format_field
    if spec is None:
        return None
    try:
        check_spec(spec, chat.settings.enable_thinking)
    except ConstraintError as e:
        raise RequestError(str(e), param) from e
    return spec


def turn_request(chat: ChatRequest) -> TurnRequest:
    """The engine's view of a request (see the module docstring)."""
    system, turns = build_turns(chat.messages)
    declared = [] if chat.tool_choice == "none" else [t.declaration() for t in chat.tools]
    names = [t.name for t in chat.tools]
    if len(set(names)) != len(names):
        raise RequestError("two tools have the same name", "tools")
    key = SessionKey(system, canonical_json(declared) if declared else "",
                     chat.settings.enable_thinking)
    settings = dataclasses.replace(chat.settings, constraint=constraint_of(chat, declared))
    return TurnRequest(key, turns, settings, chat.stop, chat.model, chat.stream)
