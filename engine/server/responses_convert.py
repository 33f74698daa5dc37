"""OpenAI Responses bodies to `ChatRequest`s (https://platform.openai.com/docs/api-reference/responses).

Contract:
- `input` is a string (one user message) or items: `message` (roles user, system, developer,
  assistant; parts `input_text`, `output_text`, `refusal`, `input_image` with a data or file URL,
  `input_audio`), `function_call` and `function_call_output` (paired by `call_id`). `reasoning`
  items are skipped (the chat template drops earlier thinking anyway); other item types are skipped
  with a note. `instructions` is the system prompt.
- `tools` of type "function" are declared; other types (web_search, namespace, local_shell, custom,
  ...) are ignored with a note. `tool_choice`: auto, none, required, or `{"type": "function",
  "name"}`; `text.format`: text, json_object or json_schema (constrained decoding).
- `reasoning.effort` other than "none"/"minimal" turns thinking on; the thinking comes back as a
  `reasoning` item with `reasoning_text` content.
- `max_output_tokens` caps the answer (thinking included); without it, `DEFAULT_MAX_OUTPUT_TOKENS`.
  `temperature`, `top_p` as in Chat. `store` (default true) keeps the response for
  `previous_response_id`; `parallel_tool_calls`, `include`, `prompt_cache_key`, `truncation`,
  `user`, `safety_identifier`, `service_tier` are accepted and ignored.
- Unsupported on purpose: `background`, `conversation`, `item_reference` items, file ids (400).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from engine.server import fields as f
from engine.server.conversation import (
    Call,
    ChatRequest,
    Message,
    Part,
    Tool,
    audio_part,
    image_part,
    text_part,
)
from engine.server.items import RequestError
from engine.server.openai_convert import arguments, response_format

# Without max_output_tokens: long enough for an agent's patch after its thinking, short enough that a
# model that never stops does not run to the end of a 262k context.
DEFAULT_MAX_OUTPUT_TOKENS = 16384
THINKING_OFF = (None, "none", "minimal")


@dataclass
class ResponsesRequest:
    chat: ChatRequest
    input: list[Message]  # this request's input items
    instructions: str = ""
    previous_response_id: str | None = None
    store: bool = True
    echo: dict = field(default_factory=dict)  # request fields the response object repeats
    earlier: list[Message] = field(default_factory=list)  # the stored conversation continued

    def with_history(self, earlier: list[Message]) -> ChatRequest:
        """The chat request with a stored conversation before this input (and the instructions
        first): `chat.messages` becomes the whole conversation."""
        self.earlier = list(earlier)
        head = [Message("system", "instructions", parts=[text_part(self.instructions)])]
        self.chat.messages = (head if self.instructions else []) + self.earlier + self.input
        return self.chat

    def conversation(self) -> list[Message]:
        """What a later request continues: earlier turns and this input, not the instructions
        (a response's instructions are not carried over)."""
        return self.earlier + self.input


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def parse_request(body: Any, allow_files: bool = True) -> ResponsesRequest:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    for name in ("background", "conversation"):
        if body.get(name):
            raise RequestError(f"'{name}' is not supported by this server", name)
    notes: list[str] = []
    instructions = f.get(body, "instructions", str, "")
    reasoning = f.get(body, "reasoning", dict, None)
    thinking = reasoning is not None and reasoning.get("effort", "medium") not in THINKING_OFF
    max_tokens = f.positive_int(body, "max_output_tokens") or DEFAULT_MAX_OUTPUT_TOKENS
    text = f.get(body, "text", dict, {})
    messages = _input(body.get("input"), allow_files, notes)
    tools = _tools(body, notes)
    chat = ChatRequest(
        messages=messages,
        settings=f.generation_settings(body, max_tokens, thinking),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), notes),
        output_format=response_format(text.get("format"), "text.format"),
        format_field="text.format",
        model=f.get(body, "model", str, ""),
        stream=f.get(body, "stream", bool, False),
        notes=notes,
    )
    echo = {
        "instructions": instructions or None,
        "max_output_tokens": f.positive_int(body, "max_output_tokens"),
        "parallel_tool_calls": f.get(body, "parallel_tool_calls", bool, True),
        "reasoning": {"effort": (reasoning or {}).get("effort"),
                      "summary": (reasoning or {}).get("summary")},
        "temperature": chat.settings.temperature,
        "top_p": chat.settings.top_p,
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [t for t in body.get("tools") or [] if isinstance(t, dict)
                  and t.get("type") == "function"],
        "truncation": f.get(body, "truncation", str, "disabled"),
        "metadata": f.get(body, "metadata", dict, {}),
        "user": f.get(body, "user", str, None),
    }
    request = ResponsesRequest(chat, messages, instructions,
                               f.get(body, "previous_response_id", str, None),
                               f.get(body, "store", bool, True), echo)
    request.with_history([])
    return request


def _tools(body: dict, notes: list[str]) -> list[Tool]:
    out, ignored = [], []
    for i, tool in enumerate(f.get(body, "tools", list, [])):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise RequestError(f"'{where}' must be an object", where)
        if tool.get("type") != "function":
            ignored.append(str(tool.get("type")))
            continue
        out.append(Tool(
            name=f.get(tool, "name", str, required=True, where=where),
            description=f.get(tool, "description", str, "", where=where),
            parameters=f.get(tool, "parameters", dict, where=where),
        ))
    if ignored:
        notes.append(f"ignored tools of type {', '.join(sorted(set(ignored)))}: this server runs "
                     "function tools only")
    return out


def _tool_choice(choice: Any, notes: list[str]) -> str:
    if choice is None or choice in ("auto", "none", "required"):
        return choice or "auto"
    if isinstance(choice, dict) and choice.get("type") == "function":
        return f.get(choice, "name", str, required=True, where="tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("type"), str):
        notes.append(f"tool_choice {choice['type']!r} is served as 'auto'")
        return "auto"
    raise RequestError("'tool_choice' must be auto, none, required or a function to call",
                       "tool_choice")


def _input(value: Any, allow_files: bool, notes: list[str]) -> list[Message]:
    if isinstance(value, str):
        return [Message("user", "input", parts=[text_part(value)])]
    if not isinstance(value, list):
        raise RequestError("'input' must be a string or an array of items", "input")
    out, skipped = [], []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise RequestError(f"'{where}' must be an object", where)
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            out.append(_message(item, where, allow_files))
        elif kind == "function_call":
            out.append(Message("assistant", where, calls=[Call(
                f.get(item, "name", str, required=True, where=where),
                arguments(item.get("arguments"), f"{where}.arguments"),
                f.get(item, "call_id", str, required=True, where=where))]))
        elif kind == "function_call_output":
            out.append(Message("tool", f"{where}.call_id",
                               call_id=f.get(item, "call_id", str, required=True, where=where),
                               result=_output_text(item.get("output"), f"{where}.output")))
        elif kind == "reasoning":
            continue
        elif kind == "item_reference":
            raise RequestError(f"'{where}': item references are not supported; send the items",
                               where)
        else:
            skipped.append(str(kind))
    if skipped:
        notes.append(f"skipped input items of type {', '.join(sorted(set(skipped)))}")
    return out


def _message(item: dict, where: str, allow_files: bool) -> Message:
    role = item.get("role")
    content = item.get("content")
    parts = ([text_part(content)] if isinstance(content, str)
             else _parts(content, f"{where}.content", allow_files))
    if role in ("system", "developer"):
        return Message("system", where, parts=[text_part("".join(
            p.text for p in parts if p.kind == "text"))])
    if role == "user":
        return Message("user", where, parts=parts)
    if role == "assistant":
        return Message("assistant", where, text="".join(p.text for p in parts))
    raise RequestError(f"'{where}.role' must be user, system, developer or assistant, got "
                       f"{role!r}", f"{where}.role")


def _parts(content: Any, where: str, allow_files: bool) -> list[Part]:
    if not isinstance(content, list):
        raise RequestError(f"'{where}' must be a string or an array of parts", where)
    parts = []
    for j, part in enumerate(content):
        pw = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append(text_part(f.get(part, "text", str, required=True, where=pw)))
        elif kind == "refusal":
            parts.append(text_part(f.get(part, "refusal", str, required=True, where=pw)))
        elif kind == "input_image":
            if part.get("file_id"):
                raise RequestError(f"'{pw}.file_id': file ids are not supported; send the image "
                                   "as a data URL", f"{pw}.file_id")
            parts.append(image_part(part.get("image_url"), f"{pw}.image_url", allow_files))
        elif kind == "input_audio":
            audio = part.get("input_audio", part)
            parts.append(audio_part(audio.get("data"), audio.get("format"), f"{pw}.input_audio"))
        else:
            raise RequestError(f"'{pw}.type' must be input_text, input_image or input_audio, got "
                               f"{kind!r}", f"{pw}.type")
    return parts


def _output_text(output: Any, where: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        texts = []
        for part in output:
            if isinstance(part, dict) and part.get("type") in ("input_text", "output_text"):
                texts.append(str(part.get("text", "")))
            elif isinstance(part, dict):
                texts.append(f"[{str(part.get('type', 'part')).removeprefix('input_')} omitted]")
        return "".join(texts)
    raise RequestError(f"'{where}' must be a string or an array of parts", where)
