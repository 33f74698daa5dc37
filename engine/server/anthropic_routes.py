"""Anthropic-compatible route: `POST /v1/messages` (streamed or not).

A streamed answer follows the published event sequence: `message_start`, then per content block
`content_block_start`, its deltas (`text_delta`, `thinking_delta`, or one `input_json_delta` with a
tool call's whole input) and `content_block_stop`, then `message_delta` (stop reason, and the usage,
which is only known at the end) and `message_stop`. A `ping` follows `message_start`. An engine error
after the stream began is an `error` event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from engine.server import anthropic_convert as ac
from engine.server.asgi import read_json, watched
from engine.server.turns import Done, TextOut, ToolCallOut, TurnError, Usage


def add_routes(app: FastAPI) -> None:
    state = app.state

    @app.post("/v1/messages")
    async def messages(request: Request):
        body = await read_json(request, state.config.max_body_bytes)
        req = ac.parse_request(body, state.config.allow_files)
        model = req.model or state.bridge.model_name
        turn = await state.runner.start(req)
        outs = watched(turn.outputs(), request)
        mid = ac.message_id()
        if not req.stream:
            return JSONResponse(await _collect(outs, mid, model))
        first = await anext(outs, None)
        if first is None:
            raise TurnError("the client went away", 499)
        return StreamingResponse(
            _events(first, outs, mid, model),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )


async def _collect(outs: AsyncIterator, mid: str, model: str) -> dict:
    blocks: list[dict] = []
    async for out in outs:
        if isinstance(out, TextOut):
            kind = "text" if out.channel == "answer" else "thinking"
            if not blocks or blocks[-1]["type"] != kind:
                blocks.append(
                    {"type": kind, kind: ""} | ({"signature": ""} if kind == "thinking" else {})
                )
            blocks[-1][kind] += out.text
        elif isinstance(out, ToolCallOut):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": ac.tool_use_id(),
                    "name": out.name,
                    "input": out.arguments,
                }
            )
        elif isinstance(out, Done):
            if not blocks:
                blocks.append({"type": "text", "text": ""})
            return ac.message(
                mid, model, blocks, ac.STOP_REASONS[out.reason], out.stop_sequence, out.usage
            )
    raise TurnError("the client went away", 499)


def _event(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, ensure_ascii=False)}\n\n"


async def _events(first, outs: AsyncIterator, mid: str, model: str):
    yield _event("message_start", {"message": ac.message(mid, model, [], None, None, Usage())})
    yield _event("ping", {})
    index, open_kind = -1, None
    pending = [first]
    try:
        while True:
            out = pending.pop() if pending else await anext(outs, None)
            if out is None:
                return
            if isinstance(out, TextOut):
                kind = "text" if out.channel == "answer" else "thinking"
                if open_kind != kind:
                    if open_kind is not None:
                        yield _event("content_block_stop", {"index": index})
                    index, open_kind = index + 1, kind
                    start = {"type": kind, kind: ""} | (
                        {"signature": ""} if kind == "thinking" else {}
                    )
                    yield _event("content_block_start", {"index": index, "content_block": start})
                yield _event(
                    "content_block_delta",
                    {"index": index, "delta": {"type": f"{kind}_delta", kind: out.text}},
                )
            elif isinstance(out, ToolCallOut):
                if open_kind is not None:
                    yield _event("content_block_stop", {"index": index})
                index, open_kind = index + 1, None
                yield _event(
                    "content_block_start",
                    {
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": ac.tool_use_id(),
                            "name": out.name,
                            "input": {},
                        },
                    },
                )
                yield _event(
                    "content_block_delta",
                    {
                        "index": index,
                        "delta": {
                            "type": "input_json_delta",
                            "partial_json": json.dumps(out.arguments, ensure_ascii=False),
                        },
                    },
                )
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
        yield _event("error", {"error": {"type": "api_error", "message": str(e)}})
    finally:
        await outs.aclose()
