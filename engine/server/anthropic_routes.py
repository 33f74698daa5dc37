"""Anthropic-compatible routes: `POST /v1/messages` (streamed or not) and `/v1/messages/count_tokens`.

A streamed answer starts at once, before the prompt is prefilled, and follows the published event
sequence: `message_start` and a `ping`, then per content block `content_block_start`, its deltas
(`text_delta`, `thinking_delta`, or one `input_json_delta` with a tool call's whole input) and
`content_block_stop`, then `message_delta` (stop reason, and the usage, which is only known at the
end) and `message_stop`. While nothing else is sent (a long prefill), every
`ServerConfig.keepalive_s` a `ping` goes out and an empty delta in an open block (the thinking block
when thinking is on, else a text block, opened for it): Anthropic's SDKs drop `ping` events, so a
client that watches for an idle stream (Claude Code aborts after 300 s) only sees content events.
SSE comments carry the prefill progress (`: prefill 512/2048`). An engine error after the stream
began is an `error` event.

`count_tokens` renders the request exactly as a fresh session would feed it (system turn, tools,
thinking, every message, media expanded) and counts its tokens with the loaded tokenizer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from engine.server import anthropic_convert as ac
from engine.server.conversation import turn_request
from engine.server.errors import TurnError, anthropic_message
from engine.server.token_count import count_prompt_tokens
from engine.server.turns import Done, PrefillOut, TextOut, ToolCallOut, Usage, is_progress
from engine.server.wire import (
    KEEPALIVE,
    SSE_HEADERS,
    note_headers,
    progress_comment,
    read_json,
    sse_event,
    watched,
)
from engine.server.worker_view import prompt_tools_of


def add_routes(app: FastAPI) -> None:
    state = app.state

    @app.post("/v1/messages")
    async def messages(request: Request):
        body = await read_json(request, state.config.max_body_bytes)
        chat = ac.parse_request(body, state.config.allow_files)
        req = turn_request(chat)
        model = req.model or state.router.model_name
        turn = await state.runner.start(req)
        mid = ac.message_id()
        headers = note_headers(chat.notes)
        if not req.stream:
            outs = watched(turn.outputs(), request)
            return JSONResponse(await _collect(outs, mid, model), headers=headers)
        outs = watched(turn.outputs(), request, state.config.keepalive_s, is_progress)
        return StreamingResponse(
            _events(outs, mid, model, req.key.enable_thinking),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers},
        )

    @app.post("/v1/messages/count_tokens")
    async def count_tokens(request: Request):
        body = await read_json(request, state.config.max_body_bytes)
        req = turn_request(ac.parse_request(body, state.config.allow_files, counting=True))
        tools = prompt_tools_of(state.router.worker)
        if tools is None:
            raise TurnError("no model is loaded yet", 503)
        tokens = await asyncio.to_thread(count_prompt_tokens, req, *tools)
        return {"input_tokens": tokens}


def _block(kind: str) -> dict:
    return {"type": kind, kind: ""} | ({"signature": ""} if kind == "thinking" else {})


async def _collect(outs: AsyncIterator, mid: str, model: str) -> dict:
    blocks: list[dict] = []
    async for out in outs:
        if isinstance(out, TextOut):
            kind = "text" if out.channel == "answer" else "thinking"
            if not blocks or blocks[-1]["type"] != kind:
                blocks.append(_block(kind))
            blocks[-1][kind] += out.text
        elif isinstance(out, ToolCallOut):
            blocks.append(
                {"type": "tool_use", "id": ac.tool_use_id(), "name": out.name,
                 "input": out.arguments}
            )
        elif isinstance(out, Done):
            if not blocks:
                blocks.append({"type": "text", "text": ""})
            return ac.message(
                mid, model, blocks, ac.STOP_REASONS[out.reason], out.stop_sequence, out.usage
            )
    raise TurnError("the client went away", 499)


def _event(kind: str, data: dict) -> str:
    return sse_event(kind, {"type": kind, **data})


def _delta(index: int, kind: str, text: str) -> str:
    return _event("content_block_delta",
                  {"index": index, "delta": {"type": f"{kind}_delta", kind: text}})


async def _events(outs: AsyncIterator, mid: str, model: str, thinking: bool):
    yield _event("message_start", {"message": ac.message(mid, model, [], None, None, Usage())})
    yield _event("ping", {})
    index, open_kind = -1, None
    try:
        async for out in outs:
            if out is KEEPALIVE:
                yield _event("ping", {})
                if open_kind is None:
                    index, open_kind = index + 1, "thinking" if thinking and index < 0 else "text"
                    yield _event("content_block_start",
                                 {"index": index, "content_block": _block(open_kind)})
                yield _delta(index, open_kind, "")
            elif isinstance(out, PrefillOut):
                yield progress_comment(out.done, out.total)
            elif isinstance(out, TextOut):
                kind = "text" if out.channel == "answer" else "thinking"
                if open_kind != kind:
                    if open_kind is not None:
                        yield _event("content_block_stop", {"index": index})
                    index, open_kind = index + 1, kind
                    yield _event("content_block_start",
                                 {"index": index, "content_block": _block(kind)})
                yield _delta(index, kind, out.text)
            elif isinstance(out, ToolCallOut):
                if open_kind is not None:
                    yield _event("content_block_stop", {"index": index})
                index, open_kind = index + 1, None
                use = {"type": "tool_use", "id": ac.tool_use_id(), "name": out.name, "input": {}}
                yield _event("content_block_start", {"index": index, "content_block": use})
                partial = json.dumps(out.arguments, ensure_ascii=False)
                yield _event("content_block_delta", {
                    "index": index, "delta": {"type": "input_json_delta", "partial_json": partial}})
                yield _event("content_block_stop", {"index": index})
            elif isinstance(out, Done):
                if open_kind is not None:
                    yield _event("content_block_stop", {"index": index})
                yield _event(
                    "message_delta",
                    {
                        "delta": {
                            "stop_reason": ac.STOP_REASONS[out.reason],
                            "stop_sequence": out.stop_sequence,
                        },
                        "usage": ac.usage_dict(out.usage),
                    },
                )
                yield _event("message_stop", {})
                return
    except TurnError as e:
        kind = "invalid_request_error" if e.status < 500 else "api_error"
        yield _event("error", {"error": {"type": kind, "message": anthropic_message(e)}})
    finally:
        await outs.aclose()
