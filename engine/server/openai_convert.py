"""OpenAI Chat Completions bodies to `TurnRequest`s, and turn outputs to OpenAI's response shapes.

Contract (https://platform.openai.com/docs/api-reference/chat):
- Messages: leading `system`/`developer` messages form the system prompt (joined by a blank line);
  `user` content is a string or parts `text`, `image_url` (data URL, file URL or absolute path) and
  `input_audio` (base64 wav/mp3/flac/ogg) and `video_url` (engine.server.video_parts); `assistant` messages carry `content` and `tool_calls`;
  consecutive `tool` messages answer the previous assistant message's calls by `tool_call_id` and
  become one tool-results turn (Gemma's `<|tool_response>` inside the model's turn).
- `tools` (type "function") go to the session as declarations; `tool_choice` "auto" and "none"
  are accepted ("none" declares no tools), others are refused: the engine cannot force a call.
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
from engine.server.media import audio_ref, image_ref
from engine.server.video_parts import VIDEO_PART_TYPES, video_ref
from engine.server.stops import MAX_STOP_CHARS, MAX_STOPS
from engine.server.turns import Done, Usage

FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "stop_sequence": "stop",
    "cancelled": "stop",
}


def parse_request(body: Any, allow_files: bool = True) -> TurnRequest:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = f.get(body, "model", str, "")
    messages = f.get(body, "messages", list, required=True)
    if f.get(body, "n", int, 1) != 1:
        raise RequestError("'n' must be 1: this server generates one choice", "n")
    thinking = _thinking(body)
    tools = _tools(body)
    system, turns = _messages(messages, allow_files)
    key = SessionKey(system, canonical_json(tools) if tools else "", thinking)
    max_tokens = f.positive_int(body, "max_completion_tokens") or f.positive_int(body, "max_tokens")
    settings = f.generation_settings(body, max_tokens, thinking)
    stop = f.string_list(body, "stop", MAX_STOPS, MAX_STOP_CHARS)
    stream = f.get(body, "stream", bool, False)
    return TurnRequest(key, turns, settings, stop, model, stream)


def include_usage(body: dict) -> bool:
    options = f.get(body, "stream_options", dict, {})
    return bool(f.get(options, "include_usage", bool, False, "stream_options"))


def _thinking(body: dict) -> bool:
    kwargs = f.get(body, "chat_template_kwargs", dict, {})
    if "enable_thinking" in kwargs:
        return bool(f.get(kwargs, "enable_thinking", bool, False, "chat_template_kwargs"))
    effort = f.get(body, "reasoning_effort", str)
    return effort is not None and effort not in ("none", "minimal")


def _tools(body: dict) -> list[dict]:
    tools = f.get(body, "tools", list, [])
    choice = body.get("tool_choice", "auto")
    if choice not in ("auto", "none"):
        raise RequestError(
            '\'tool_choice\' must be "auto" or "none": the model decides itself '
            "whether to call a tool",
            "tool_choice",
        )
    out = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise RequestError(f"'{where}' must be an object with type \"function\"", where)
        fn = f.get(tool, "function", dict, required=True, where=where)
        f.get(fn, "name", str, required=True, where=f"{where}.function")
        f.get(fn, "parameters", dict, where=f"{where}.function")
        out.append({"type": "function", "function": fn})
    return [] if choice == "none" else out


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise RequestError(f"'{where}[{j}]' must be a text part here", f"{where}[{j}]")
            texts.append(f.get(part, "text", str, required=True, where=f"{where}[{j}]"))
        return "".join(texts)
    raise RequestError(f"'{where}' must be a string or an array of text parts", where)


def _messages(messages: list, allow_files: bool) -> tuple[str, list[ConversationItem]]:
    system: list[str] = []
    turns: list[ConversationItem] = []
    call_names: dict[str, str] = {}
    pending: list[tuple[str, str]] = []

    def flush_tools() -> None:
        if pending:
            turns.append(ToolResultsTurn(tuple(pending)))
            pending.clear()

    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise RequestError(f"'{where}' must be an object", where)
        role = m.get("role")
        if role != "tool":
            flush_tools()
        if role in ("system", "developer"):
            if turns:
                raise RequestError(
                    f"'{where}': system messages must come before the conversation", where
                )
            system.append(_text_of(m.get("content"), f"{where}.content").strip())
        elif role == "user":
            turns.append(_user_turn(m.get("content"), f"{where}.content", allow_files))
        elif role == "assistant":
            calls = []
            call_names = {}
            for j, c in enumerate(f.get(m, "tool_calls", list, [], where)):
                cw = f"{where}.tool_calls[{j}]"
                fn = (
                    f.get(c, "function", dict, required=True, where=cw)
                    if isinstance(c, dict)
                    else None
                )
                if fn is None:
                    raise RequestError(f"'{cw}' must be an object", cw)
                name = f.get(fn, "name", str, required=True, where=f"{cw}.function")
                calls.append((name, _arguments(fn.get("arguments"), f"{cw}.function.arguments")))
                call_names[str(c.get("id", ""))] = name
            turns.append(assistant_turn(_text_of(m.get("content"), f"{where}.content"), calls))
        elif role == "tool":
            call_id = f.get(m, "tool_call_id", str, required=True, where=where)
            if call_id not in call_names:
                raise RequestError(
                    f"'{where}.tool_call_id' {call_id!r} answers no tool call of the "
                    "assistant message before it",
                    f"{where}.tool_call_id",
                )
            text = _text_of(m.get("content"), f"{where}.content")
            pending.append((call_names[call_id], canonical_json(text)))
        else:
            raise RequestError(
                f"'{where}.role' must be system, developer, user, assistant or tool, got {role!r}",
                f"{where}.role",
            )
    flush_tools()
    return "\n\n".join(s for s in system if s), turns


def _arguments(raw: Any, where: str) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except json.JSONDecodeError as e:
        raise RequestError(f"'{where}' is not valid JSON: {e}", where) from e
    if not isinstance(value, dict):
        raise RequestError(f"'{where}' must be a JSON object", where)
    return value


def _user_turn(content: Any, where: str, allow_files: bool) -> UserTurn:
    if isinstance(content, str):
        return UserTurn((("text", content.strip()),), lambda: content)
    if not isinstance(content, list) or not content:
        raise RequestError(f"'{where}' must be a string or a non-empty array of parts", where)
    key, loaders = [], []
    for j, part in enumerate(content):
        pw = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = f.get(part, "text", str, required=True, where=pw)
            key.append(("text", text))
            loaders.append(lambda t=text: {"type": "text", "text": t})
        elif kind == "image_url":
            ref = f.get(part, "image_url", dict, required=True, where=pw)
            digest, load = image_ref(ref.get("url"), f"{pw}.image_url.url", allow_files)
            key.append(("image", digest))
            loaders.append(lambda load=load: {"type": "image", "image": load()})
        elif kind == "input_audio":
            ref = f.get(part, "input_audio", dict, required=True, where=pw)
            digest, load = audio_ref(ref.get("data"), ref.get("format"), f"{pw}.input_audio")
            key.append(("audio", digest))
            loaders.append(lambda load=load: [{"type": "audio", "audio": c} for c in load()])
        elif kind in VIDEO_PART_TYPES:
            digest, load = video_ref(part, pw, allow_files)
            key.append(("video", digest))
            loaders.append(load)
        else:
            raise RequestError(
                f"'{pw}.type' must be text, image_url, input_audio or video_url, got {kind!r}",
                f"{pw}.type",
            )
    return UserTurn(tuple(key), lambda: _flatten(loaders))


def _flatten(loaders: list) -> list[dict]:
    out: list[dict] = []
    for load in loaders:
        item = load()
        out.extend(item if isinstance(item, list) else [item])
    return out


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
