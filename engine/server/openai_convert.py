"""OpenAI Chat Completions bodies to `ChatRequest`s, and turn outputs to OpenAI's response shapes.

Contract (https://platform.openai.com/docs/api-reference/chat):
- Messages: `system`/`developer` messages anywhere (see `conversation` for where they go); `user`
  content is a string or parts `text`, `image_url` (data URL, file URL or absolute path),
  `input_audio` (base64 wav/mp3/flac/ogg) and `video_url`/`input_video` (see
  `engine.server.video_parts`); `assistant` messages carry `content` and `tool_calls`;
  `tool` messages answer those calls by `tool_call_id`.
- `tools` of type "function" are declared; other tool types are ignored with a note.
  `tool_choice`: "auto", "none", "required" or `{"type": "function", "function": {"name"}}`
  (the last two by constrained decoding). `response_format`: "text", "json_object" or
  "json_schema" (`json_schema.schema`), enforced by constrained decoding.
- Thinking is on with `reasoning_effort` other than "none"/"minimal" or
  `chat_template_kwargs.enable_thinking`; thinking text comes back as `reasoning_content`.
- `prompt_tokens` is the conversation's whole prompt; `prompt_tokens_details.cached_tokens` is the
  part served from a kept cache (the rest was prefilled for this request).
"""

from __future__ import annotations

import json
import secrets
import time
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
from engine.server.video_parts import VIDEO_PART_TYPES, video_part
from engine.server.stops import MAX_STOP_CHARS, MAX_STOPS
from engine.server.turns import Done, Usage

FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "stop_sequence": "stop",
    "cancelled": "stop",
}


def parse_request(body: Any, allow_files: bool = True) -> ChatRequest:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = f.get(body, "model", str, "")
    messages = f.get(body, "messages", list, required=True)
    if f.get(body, "n", int, 1) != 1:
        raise RequestError("'n' must be 1: this server generates one choice", "n")
    thinking = _thinking(body)
    notes: list[str] = []
    tools = _tools(body, notes)
    max_tokens = f.positive_int(body, "max_completion_tokens") or f.positive_int(body, "max_tokens")
    return ChatRequest(
        messages=[_message(m, f"messages[{i}]", allow_files) for i, m in enumerate(messages)],
        settings=f.generation_settings(body, max_tokens, thinking),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), notes),
        output_format=response_format(body.get("response_format"), "response_format"),
        stop=f.string_list(body, "stop", MAX_STOPS, MAX_STOP_CHARS),
        model=model,
        stream=f.get(body, "stream", bool, False),
        notes=notes,
    )


def include_usage(body: dict) -> bool:
    options = f.get(body, "stream_options", dict, {})
    return bool(f.get(options, "include_usage", bool, False, "stream_options"))


def _thinking(body: dict) -> bool:
    kwargs = f.get(body, "chat_template_kwargs", dict, {})
    if "enable_thinking" in kwargs:
        return bool(f.get(kwargs, "enable_thinking", bool, False, "chat_template_kwargs"))
    effort = f.get(body, "reasoning_effort", str)
    return effort is not None and effort not in ("none", "minimal")


def _tools(body: dict, notes: list[str]) -> list[Tool]:
    out = []
    for i, tool in enumerate(f.get(body, "tools", list, [])):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise RequestError(f"'{where}' must be an object", where)
        if tool.get("type") != "function":
            notes.append(f"ignored tool of type {tool.get('type')!r}: only functions are run")
            continue
        fn = f.get(tool, "function", dict, required=True, where=where)
        out.append(Tool(
            name=f.get(fn, "name", str, required=True, where=f"{where}.function"),
            description=f.get(fn, "description", str, "", where=f"{where}.function"),
            parameters=f.get(fn, "parameters", dict, where=f"{where}.function"),
        ))
    return out


def _tool_choice(choice: Any, notes: list[str]) -> str:
    if choice is None:
        return "auto"
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        fn = f.get(choice, "function", dict, required=True, where="tool_choice")
        return f.get(fn, "name", str, required=True, where="tool_choice.function")
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        notes.append("tool_choice 'allowed_tools' is served as 'auto'")
        return "auto"
    raise RequestError(
        "'tool_choice' must be \"auto\", \"none\", \"required\" or a function to call",
        "tool_choice")


def response_format(value: Any, where: str) -> dict | None:
    """Chat's `response_format` (and, with `where` "text.format", Responses' flat one)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RequestError(f"'{where}' must be an object", where)
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        holder = value if "schema" in value else f.get(value, "json_schema", dict, required=True,
                                                       where=where)
        schema = holder.get("schema")
        if not isinstance(schema, (dict, bool)):
            raise RequestError(f"'{where}' needs a JSON schema object in 'schema'", where)
        return {"type": "json_schema", "schema": schema}
    raise RequestError(f"'{where}.type' must be text, json_object or json_schema", f"{where}.type")


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
                raise RequestError(f"'{where}[{j}]' must be a text part here", f"{where}[{j}]")
            key = part["type"]
            texts.append(f.get(part, key, str, required=True, where=f"{where}[{j}]"))
        return "".join(texts)
    raise RequestError(f"'{where}' must be a string or an array of text parts", where)


def _message(m: Any, where: str, allow_files: bool) -> Message:
    if not isinstance(m, dict):
        raise RequestError(f"'{where}' must be an object", where)
    role = m.get("role")
    if role in ("system", "developer"):
        return Message("system", where, parts=[text_part(_text_of(m.get("content"),
                                                                   f"{where}.content"))])
    if role == "user":
        return Message("user", where, parts=_user_parts(m.get("content"), f"{where}.content",
                                                        allow_files))
    if role == "assistant":
        calls = []
        for j, c in enumerate(f.get(m, "tool_calls", list, [], where)):
            cw = f"{where}.tool_calls[{j}]"
            if not isinstance(c, dict):
                raise RequestError(f"'{cw}' must be an object", cw)
            fn = f.get(c, "function", dict, required=True, where=cw)
            name = f.get(fn, "name", str, required=True, where=f"{cw}.function")
            calls.append(Call(name, arguments(fn.get("arguments"), f"{cw}.function.arguments"),
                              str(c.get("id", ""))))
        return Message("assistant", where, text=_text_of(m.get("content"), f"{where}.content"),
                       calls=calls)
    if role == "tool":
        return Message("tool", f"{where}.tool_call_id",
                       call_id=f.get(m, "tool_call_id", str, required=True, where=where),
                       result=_text_of(m.get("content"), f"{where}.content"))
    raise RequestError(
        f"'{where}.role' must be system, developer, user, assistant or tool, got {role!r}",
        f"{where}.role",
    )


def arguments(raw: Any, where: str) -> dict:
    """Tool-call arguments given as a JSON object or the JSON text of one."""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except json.JSONDecodeError as e:
        raise RequestError(f"'{where}' is not valid JSON: {e}", where) from e
    if not isinstance(value, dict):
        raise RequestError(f"'{where}' must be a JSON object", where)
    return value


def _user_parts(content: Any, where: str, allow_files: bool) -> list[Part]:
    if isinstance(content, str):
        return [text_part(content)]
    if not isinstance(content, list) or not content:
        raise RequestError(f"'{where}' must be a string or a non-empty array of parts", where)
    parts = []
    for j, part in enumerate(content):
        pw = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append(text_part(f.get(part, "text", str, required=True, where=pw)))
        elif kind == "image_url":
            ref = f.get(part, "image_url", dict, required=True, where=pw)
            parts.append(image_part(ref.get("url"), f"{pw}.image_url.url", allow_files))
        elif kind == "input_audio":
            ref = f.get(part, "input_audio", dict, required=True, where=pw)
            parts.append(audio_part(ref.get("data"), ref.get("format"), f"{pw}.input_audio"))
        elif kind in VIDEO_PART_TYPES:
            parts.append(video_part(part, pw, allow_files))
        else:
            raise RequestError(
                f"'{pw}.type' must be text, image_url, input_audio or video_url, got {kind!r}",
                f"{pw}.type",
            )
    return parts


# ---------------------------------------------------------------- responses


def new_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def call_id() -> str:
    return "call_" + secrets.token_hex(12)


def tool_call(index: int, name: str, arguments: dict) -> dict:
    return {
        "index": index,
        "id": call_id(),
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
    }


def usage_dict(u: Usage) -> dict:
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
    }


def completion(
    cid: str, model: str, text: str, reasoning: str, calls: list[dict], done: Done
) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": FINISH[done.reason]}
        ],
        "usage": usage_dict(done.usage),
    }


def chunk(
    cid: str, model: str, delta: dict, finish: str | None = None, usage: Usage | None = None
) -> dict:
    out: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": []
        if usage
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage is not None:
        out["usage"] = usage_dict(usage)
    return out
