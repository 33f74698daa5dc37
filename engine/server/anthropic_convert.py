"""Anthropic Messages bodies to `ChatRequest`s, and turn outputs to the Messages response shape.

Contract (https://docs.anthropic.com/en/api/messages):
- `system` is a string or text blocks. `messages` are user, assistant and (mid-conversation)
  system messages; content is a string or blocks: `text`, `image` (source `base64`, or `url` naming a
  local file: remote URLs are refused) and `tool_result` in user messages; `text`, `tool_use` (and
  `thinking`, which the chat template drops from history anyway) in assistant messages. Where system
  messages and text beside tool results go is `conversation`'s contract.
- A `tool_result` answers a `tool_use` of the assistant message before it by id. Its content is text;
  an image or other block in it reaches the model as a short placeholder ("[image omitted]").
- `tools` with an `input_schema` become function declarations; server tools (a `type` such as
  "web_search_20250305") are ignored with a note. `tool_choice`: auto, none, any (a call is forced),
  tool (that tool is called). `output_config.format` (or `output_format`) of type json_schema is
  enforced by constrained decoding.
- `thinking.type`: "enabled" and "adaptive" turn thinking on, "disabled" (or none) off.
- Unknown fields (`cache_control`, `context_management`, `metadata`, `output_config.effort`, ...)
  are accepted and ignored.
- Usage: `input_tokens` is the part of the prompt prefilled for this request,
  `cache_read_input_tokens` the part served from a kept cache (their sum is the whole prompt).
"""

from __future__ import annotations

import secrets
from typing import Any

from engine.server import fields as f
from engine.server.conversation import (
    Call,
    ChatRequest,
    Message,
    Part,
    Tool,
    image_part,
    text_part,
)
from engine.server.items import RequestError
from engine.server.turns import Usage

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "stop_sequence": "stop_sequence",
    "cancelled": "end_turn",
}
MAX_STOP_SEQUENCES = 16
THINKING_TYPES = {"enabled": True, "adaptive": True, "disabled": False}


def parse_request(body: Any, allow_files: bool = True, counting: bool = False) -> ChatRequest:
    """The request; with `counting` (count_tokens), `max_tokens` is not required."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = f.get(body, "model", str, "")
    max_tokens = f.positive_int(body, "max_tokens")
    if max_tokens is None and not counting:
        raise RequestError("'max_tokens' is required", "max_tokens")
    messages = f.get(body, "messages", list, required=True)
    thinking = _thinking(body)
    notes: list[str] = []
    system = _system(body.get("system"), "system")
    out = [Message("system", "system", parts=[text_part(system)])] if system else []
    for i, m in enumerate(messages):
        out.extend(_message(m, f"messages[{i}]", allow_files))
    return ChatRequest(
        messages=out,
        settings=f.generation_settings(body, max_tokens, thinking, f.positive_int(body, "top_k")),
        tools=_tools(body, notes),
        tool_choice=_tool_choice(body),
        output_format=_output_format(body),
        format_field="output_config.format",
        stop=f.string_list(body, "stop_sequences", MAX_STOP_SEQUENCES, 256),
        model=model,
        stream=f.get(body, "stream", bool, False),
        notes=notes,
    )


def _thinking(body: dict) -> bool:
    thinking = f.get(body, "thinking", dict, {})
    kind = thinking.get("type", "disabled")
    if kind not in THINKING_TYPES:
        raise RequestError("'thinking.type' must be enabled, adaptive or disabled", "thinking.type")
    return THINKING_TYPES[kind]


def _system(value: Any, where: str) -> str:
    if value is None or isinstance(value, str):
        return (value or "").strip()
    if isinstance(value, list):
        texts = []
        for i, block in enumerate(value):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise RequestError(f"'{where}[{i}]' must be a text block", f"{where}[{i}]")
            texts.append(f.get(block, "text", str, required=True, where=f"{where}[{i}]"))
        return "\n\n".join(t.strip() for t in texts if t.strip())
    raise RequestError(f"'{where}' must be a string or an array of text blocks", where)


def _tools(body: dict, notes: list[str]) -> list[Tool]:
    out = []
    for i, tool in enumerate(f.get(body, "tools", list, [])):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise RequestError(f"'{where}' must be an object", where)
        if tool.get("type") not in (None, "custom") and "input_schema" not in tool:
            notes.append(f"ignored server tool {tool.get('type')!r}: only client tools are run")
            continue
        out.append(Tool(
            name=f.get(tool, "name", str, required=True, where=where),
            description=f.get(tool, "description", str, "", where=where),
            parameters=f.get(tool, "input_schema", dict, required=True, where=where),
        ))
    return out


def _tool_choice(body: dict) -> str:
    choice = f.get(body, "tool_choice", dict, {"type": "auto"})
    kind = choice.get("type")
    if kind in ("auto", "none"):
        return kind
    if kind == "any":
        return "required"
    if kind == "tool":
        return f.get(choice, "name", str, required=True, where="tool_choice")
    raise RequestError("'tool_choice.type' must be auto, none, any or tool", "tool_choice.type")


def _output_format(body: dict) -> dict | None:
    config = f.get(body, "output_config", dict, {})
    where = "output_config.format"
    value = config.get("format")
    if value is None:
        value, where = body.get("output_format"), "output_format"
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") != "json_schema":
        raise RequestError(f"'{where}' must be an object of type json_schema", where)
    schema = value.get("schema")
    if not isinstance(schema, dict):
        raise RequestError(f"'{where}.schema' must be a JSON schema object", f"{where}.schema")
    return {"type": "json_schema", "schema": schema}


def _blocks(content: Any, where: str) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise RequestError(f"'{where}' must be a string or an array of content blocks", where)
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise RequestError(
                f"'{where}[{j}]' must be a content block with a 'type'", f"{where}[{j}]"
            )
    return content


def _message(m: Any, where: str, allow_files: bool) -> list[Message]:
    if not isinstance(m, dict):
        raise RequestError(f"'{where}' must be an object", where)
    role = m.get("role")
    if role == "system":
        return [Message("system", where, parts=[text_part(_system(m.get("content"),
                                                                  f"{where}.content"))])]
    blocks = _blocks(m.get("content"), f"{where}.content")
    if role == "assistant":
        texts, calls = [], []
        for j, b in enumerate(blocks):
            bw = f"{where}.content[{j}]"
            if b["type"] == "text":
                texts.append(f.get(b, "text", str, required=True, where=bw))
            elif b["type"] == "tool_use":
                calls.append(Call(f.get(b, "name", str, required=True, where=bw),
                                  f.get(b, "input", dict, {}, where=bw),
                                  f.get(b, "id", str, required=True, where=bw)))
            elif b["type"] not in ("thinking", "redacted_thinking"):
                raise RequestError(
                    f"'{bw}.type' {b['type']!r} is not supported in an assistant message",
                    f"{bw}.type",
                )
        return [Message("assistant", where, text="".join(texts), calls=calls)]
    if role == "user":
        # Tool results first: they answer the calls; what the client adds beside them follows.
        results = [Message("tool", f"{where}.content[{j}].tool_use_id",
                           call_id=f.get(b, "tool_use_id", str, required=True,
                                         where=f"{where}.content[{j}]"),
                           result=_tool_result(b, f"{where}.content[{j}]"))
                   for j, b in enumerate(blocks) if b["type"] == "tool_result"]
        rest = [(j, b) for j, b in enumerate(blocks) if b["type"] != "tool_result"]
        parts = [_user_part(b, f"{where}.content[{j}]", allow_files) for j, b in rest]
        return results + ([Message("user", where, parts=parts)] if parts else [])
    raise RequestError(
        f"'{where}.role' must be user, assistant or system, got {role!r}", f"{where}.role"
    )


def _tool_result(block: dict, where: str) -> Any:
    content = block.get("content", "")
    if isinstance(content, list):
        parts = []
        for k, b in enumerate(content):
            if isinstance(b, dict) and b.get("type") == "text":
                parts.append(f.get(b, "text", str, required=True, where=f"{where}.content[{k}]"))
            elif isinstance(b, dict) and isinstance(b.get("type"), str):
                parts.append(f"[{b['type']} omitted]")
            else:
                raise RequestError(f"'{where}.content[{k}]' must be a content block",
                                   f"{where}.content[{k}]")
        content = "".join(parts)
    elif not isinstance(content, str):
        raise RequestError(f"'{where}.content' must be a string or blocks", f"{where}.content")
    return {"error": content} if block.get("is_error") else content


def _user_part(block: dict, where: str, allow_files: bool) -> Part:
    if block["type"] == "text":
        return text_part(f.get(block, "text", str, required=True, where=where))
    if block["type"] == "image":
        return image_part(_image_url(block, where), f"{where}.source", allow_files)
    raise RequestError(
        f"'{where}.type' must be text, image or tool_result, got {block['type']!r}", f"{where}.type"
    )


def _image_url(block: dict, where: str) -> str:
    source = f.get(block, "source", dict, required=True, where=where)
    kind = source.get("type")
    if kind == "base64":
        media = f.get(source, "media_type", str, required=True, where=f"{where}.source")
        data = f.get(source, "data", str, required=True, where=f"{where}.source")
        return f"data:{media};base64,{data}"
    if kind == "url":
        return f.get(source, "url", str, required=True, where=f"{where}.source")
    raise RequestError(f"'{where}.source.type' must be base64 or url", f"{where}.source.type")


# ---------------------------------------------------------------- responses


def message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def tool_use_id() -> str:
    return "toolu_" + secrets.token_hex(12)


def usage_dict(u: Usage) -> dict:
    return {
        "input_tokens": u.prefilled_tokens,
        "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": 0,
    }


def message(
    mid: str,
    model: str,
    content: list[dict],
    stop_reason: str | None,
    stop_sequence: str | None,
    usage: Usage,
) -> dict:
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage_dict(usage),
    }
