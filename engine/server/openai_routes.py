"""OpenAI-compatible routes: `GET /v1/models` and `POST /v1/chat/completions` (streamed or not).

A streamed answer starts at once, before the prompt is prefilled: server-sent events of
`chat.completion.chunk` objects, the role first, then content (and `reasoning_content`) deltas, tool
calls (each whole in one delta, as the engine parses a call only once it is complete), the chunk with
`finish_reason`, with `stream_options.include_usage` a last chunk with `usage` and no choices, and
`data: [DONE]`. While the prompt is prefilled, SSE comments carry the progress (`: prefill 512/2048`)
and keep the connection busy (`: keep-alive` every `ServerConfig.keepalive_s` without output). An
engine error after the stream began is a `data: {"error": ...}` event. Notes about ignored request
fields are in the `X-Tandem-Note` header.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from engine.server import openai_convert as oc
from engine.server.conversation import turn_request
from engine.server.errors import TurnError, openai_code, openai_error
from engine.server.turns import Done, PrefillOut, TextOut, ToolCallOut, is_progress
from engine.server.wire import (
    KEEPALIVE,
    SSE_HEADERS,
    note_headers,
    progress_comment,
    read_json,
    sse_comment,
    sse_data,
    watched,
)


def add_routes(app: FastAPI) -> None:
    state = app.state

    @app.get("/v1/models")
    async def models():
        return {
            "object": "list",
            "data": [
                {
                    "id": state.router.model_name or "tandem",
                    "object": "model",
                    "created": int(time.time()),
                    "owned_by": "tandem",
                }
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        body = await read_json(request, state.config.max_body_bytes)
        chat = oc.parse_request(body, state.config.allow_files)
        usage_wanted = oc.include_usage(body)
        req = turn_request(chat)
        model = req.model or state.router.model_name
        turn = await state.runner.start(req)
        cid = oc.new_id()
        headers = note_headers(chat.notes)
        if not req.stream:
            outs = watched(turn.outputs(), request)
            return JSONResponse(await _collect(outs, cid, model), headers=headers)
        outs = watched(turn.outputs(), request, state.config.keepalive_s, is_progress)
        return StreamingResponse(
            _events(outs, cid, model, usage_wanted),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers},
        )


async def _collect(outs: AsyncIterator, cid: str, model: str) -> dict:
    text, reasoning, calls = [], [], []
    async for out in outs:
        if isinstance(out, TextOut):
            (text if out.channel == "answer" else reasoning).append(out.text)
        elif isinstance(out, ToolCallOut):
            calls.append(oc.tool_call(len(calls), out.name, out.arguments))
        elif isinstance(out, Done):
            return oc.completion(cid, model, "".join(text), "".join(reasoning), calls, out)
    raise TurnError("the client went away", 499)


async def _events(outs: AsyncIterator, cid: str, model: str, usage_wanted: bool):
    yield sse_data(oc.chunk(cid, model, {"role": "assistant", "content": ""}))
    n_calls = 0
    try:
        async for out in outs:
            if out is KEEPALIVE:
                yield sse_comment("keep-alive")
            elif isinstance(out, PrefillOut):
                yield progress_comment(out.done, out.total)
            elif isinstance(out, TextOut):
                field = "content" if out.channel == "answer" else "reasoning_content"
                yield sse_data(oc.chunk(cid, model, {field: out.text}))
            elif isinstance(out, ToolCallOut):
                call = oc.tool_call(n_calls, out.name, out.arguments)
                n_calls += 1
                yield sse_data(oc.chunk(cid, model, {"tool_calls": [call]}))
            elif isinstance(out, Done):
                yield sse_data(oc.chunk(cid, model, {}, oc.FINISH[out.reason]))
                if usage_wanted:
                    yield sse_data(oc.chunk(cid, model, {}, usage=out.usage))
                yield "data: [DONE]\n\n"
                return
    except TurnError as e:  # after the stream began, an error can only be an event
        yield sse_data(openai_error(e.status, str(e), code=openai_code(e.status, e.kind)))
    finally:
        await outs.aclose()
