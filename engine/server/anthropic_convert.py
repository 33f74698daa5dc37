"""Anthropic Messages bodies to `TurnRequest`s, and turn outputs to the Messages response shape.

Contract (https://docs.anthropic.com/en/api/messages):
- `system` is a string or text blocks. `messages` alternate user/assistant; content is a string or
  blocks: `text`, `image` (source `base64`, or `url` naming a local file: remote URLs are refused)
  and `tool_result` in user messages; `text`, `tool_use` (and `thinking`, which the chat template
  drops from history anyway) in assistant messages.
- A user message of `tool_result` blocks answers the previous assistant message's `tool_use`
  blocks by id and becomes one tool-results turn. Text beside tool results in one user message is
  refused (400): Gemma continues its own turn after tool results, so a user turn cannot follow
  them before the model has answered.
- `tools` (`name`, `description`, `input_schema`) become function declarations; `tool_choice`
  "auto" and "none" are accepted. `thinking: {"type": "enabled"}` turns thinking on.
- Usage: `input_tokens` is the part of the prompt prefilled for this request,
  `cache_read_input_tokens` the part served from a kept cache (their sum is the whole prompt).
"""

from __future__ import annotations

import secrets
from typing import Any

from engine.server import fields as f
from engine.server.items import (
    RequestError,
    SessionKey,
    ToolResultsTurn,
    ConversationItem,
    TurnRequest,
    UserTurn,
    assistant_turn,
    canonical_json,
)
from engine.server.media import image_ref
from engine.server.turns import Usage

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "stop_sequence": "stop_sequence",
    "cancelled": "end_turn",
}
MAX_STOP_SEQUENCES = 16


def parse_request(body: Any, allow_files: bool = True) -> TurnRequest:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = f.get(body, "model", str, "")
    max_tokens = f.positive_int(body, "max_tokens")
    if max_tokens is None:
        raise RequestError("'max_tokens' is required", "max_tokens")
    messages = f.get(body, "messages", list, required=True)
    thinking = f.get(body, "thinking", dict, {}).get("type") == "enabled"
    system = _system(body.get("system"))
    tools = _tools(body)
    turns = _messages(messages, allow_files)
    key = SessionKey(system, canonical_json(tools) if tools else "", thinking)
    top_k = f.positive_int(body, "top_k")
    settings = f.generation_settings(body, max_tokens, thinking, top_k)
    stop = f.string_list(body, "stop_sequences", MAX_STOP_SEQUENCES, 256)
    return TurnRequest(key, turns, settings, stop, model, f.get(body, "stream", bool, False))


def _system(value: Any) -> str:
    if value is None or isinstance(value, str):
        return (value or "").strip()
    if isinstance(value, list):
        texts = []
        for i, block in enumerate(value):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise RequestError(f"'system[{i}]' must be a text block", f"system[{i}]")
            texts.append(f.get(block, "text", str, required=True, where=f"system[{i}]"))
        return "\n\n".join(t.strip() for t in texts if t.strip())
    raise RequestError("'system' must be a string or an array of text blocks", "system")


def _tools(body: dict) -> list[dict]:
    tools = f.get(body, "tools", list, [])
    choice = f.get(body, "tool_choice", dict, {"type": "auto"})
    if choice.get("type") not in ("auto", "none"):
        raise RequestError(
            '\'tool_choice.type\' must be "auto" or "none": the model decides '
            "itself whether to call a tool",
            "tool_choice",
        )
    out = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise RequestError(f"'{where}' must be an object", where)
        name = f.get(tool, "name", str, required=True, where=where)
        fn = {
            "name": name,
            "parameters": f.get(tool, "input_schema", dict, required=True, where=where),
        }
        if tool.get("description"):
            fn["description"] = f.get(tool, "description", str, where=where)
        out.append({"type": "function", "function": fn})
    return [] if choice.get("type") == "none" else out


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


def _messages(messages: list, allow_files: bool) -> list[ConversationItem]:
    turns: list[ConversationItem] = []
    call_names: dict[str, str] = {}
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise RequestError(f"'{where}' must be an object", where)
        role = m.get("role")
        blocks = _blocks(m.get("content"), f"{where}.content")
        if role == "assistant":
            texts, calls = [], []
            call_names = {}
            for j, b in enumerate(blocks):
                bw = f"{where}.content[{j}]"
                if b["type"] == "text":
                    texts.append(f.get(b, "text", str, required=True, where=bw))
                elif b["type"] == "tool_use":
                    name = f.get(b, "name", str, required=True, where=bw)
                    calls.append((name, f.get(b, "input", dict, {}, where=bw)))
                    call_names[f.get(b, "id", str, required=True, where=bw)] = name
                elif b["type"] not in ("thinking", "redacted_thinking"):
                    raise RequestError(
                        f"'{bw}.type' {b['type']!r} is not supported in an assistant message",
                        f"{bw}.type",
                    )
            turns.append(assistant_turn("".join(texts), calls))
        elif role == "user":
            results = [b for b in blocks if b["type"] == "tool_result"]
            if results and len(results) != len(blocks):
                raise RequestError(
                    f"'{where}': text or media beside tool_result blocks is not "
                    "supported; send them in the next user message",
                    where,
                )
            if results:
                turns.append(
                    ToolResultsTurn(
                        tuple(
                            _tool_result(b, f"{where}.content[{j}]", call_names)
                            for j, b in enumerate(results)
                        )
                    )
                )
            else:
                turns.append(_user_turn(blocks, f"{where}.content", allow_files))
        else:
            raise RequestError(
                f"'{where}.role' must be user or assistant, got {role!r}", f"{where}.role"
            )
    return turns


def _tool_result(block: dict, where: str, call_names: dict[str, str]) -> tuple[str, str]:
    use_id = f.get(block, "tool_use_id", str, required=True, where=where)
    if use_id not in call_names:
        raise RequestError(
            f"'{where}.tool_use_id' {use_id!r} answers no tool_use of the "
            "assistant message before it",
            f"{where}.tool_use_id",
        )
    content = block.get("content", "")
    if isinstance(content, list):
        parts = []
        for k, b in enumerate(content):
            if not isinstance(b, dict) or b.get("type") != "text":
                raise RequestError(
                    f"'{where}.content[{k}]': only text is supported in tool results",
                    f"{where}.content[{k}]",
                )
            parts.append(f.get(b, "text", str, required=True, where=f"{where}.content[{k}]"))
        content = "".join(parts)
    elif not isinstance(content, str):
        raise RequestError(f"'{where}.content' must be a string or text blocks", f"{where}.content")
    response: Any = {"error": content} if block.get("is_error") else content
    return call_names[use_id], canonical_json(response)


def _user_turn(blocks: list[dict], where: str, allow_files: bool) -> UserTurn:
    key, loaders = [], []
    for j, b in enumerate(blocks):
        bw = f"{where}[{j}]"
        if b["type"] == "text":
            text = f.get(b, "text", str, required=True, where=bw)
            key.append(("text", text))
            loaders.append(lambda t=text: {"type": "text", "text": t})
        elif b["type"] == "image":
            digest, load = image_ref(_image_url(b, bw), f"{bw}.source", allow_files)
            key.append(("image", digest))
            loaders.append(lambda load=load: {"type": "image", "image": load()})
        else:
            raise RequestError(
                f"'{bw}.type' must be text, image or tool_result, got {b['type']!r}", f"{bw}.type"
            )
    if len(key) == 1 and key[0][0] == "text":
        text = key[0][1]
        return UserTurn((("text", text.strip()),), lambda: text)
    return UserTurn(tuple(key), lambda: [load() for load in loaders])


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
