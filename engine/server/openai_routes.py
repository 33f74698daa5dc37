"""OpenAI-compatible routes: `GET /v1/models` and `POST /v1/chat/completions` (streamed or not).

A streamed answer is server-sent events of `chat.completion.chunk` objects ending with
`data: [DONE]`: the role first, then content (and `reasoning_content`) deltas, tool calls (each
whole in one delta, as the engine parses a call only once it is complete), the chunk with
`finish_reason`, and with `stream_options.include_usage` a last chunk with `usage` and no choices.
The engine's first output is awaited before the response starts, so a failure before it is an
HTTP error, not a broken stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from engine.server import openai_convert as oc
from engine.server.asgi import read_json, watched
from engine.server.turns import Done, TextOut, ToolCallOut, TurnError


def add_routes(app: FastAPI) -> None:
    state = app.state

    @app.get("/v1/models")
    async def models():
        return {
            "object": "list",
            "data": [
                {
                    "id": state.bridge.model_name or "tandem",
                    "object": "model",
                    "created": int(time.time()),
                    "owned_by": "tandem",
                }
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        body = await read_json(request, state.config.max_body_bytes)
        req = oc.parse_request(body, state.config.allow_files)
        usage_wanted = oc.include_usage(body)
        model = req.model or state.bridge.model_name
        turn = await state.runner.start(req)
        outs = watched(turn.outputs(), request)
        cid = oc.new_id()
        if not req.stream:
            return JSONResponse(await _collect(outs, cid, model))
        first = await anext(outs, None)
        if first is None:
            raise TurnError("the client went away", 499)
        return StreamingResponse(
            _events(first, outs, cid, model, usage_wanted),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
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


def _sse(obj: dict) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


async def _events(first, outs: AsyncIterator, cid: str, model: str, usage_wanted: bool):
    yield _sse(oc.chunk(cid, model, {"role": "assistant", "content": ""}))
    n_calls = 0
    pending = [first]
    try:
        while True:
            out = pending.pop() if pending else await anext(outs, None)
            if out is None:
                return
            if isinstance(out, TextOut):
                field = "content" if out.channel == "answer" else "reasoning_content"
                yield _sse(oc.chunk(cid, model, {field: out.text}))
            elif isinstance(out, ToolCallOut):
                call = oc.tool_call(n_calls, out.name, out.arguments)
                n_calls += 1
                yield _sse(oc.chunk(cid, model, {"tool_calls": [call]}))
            elif isinstance(out, Done):
                yield _sse(oc.chunk(cid, model, {}, oc.FINISH[out.reason]))
                if usage_wanted:
                    yield _sse(oc.chunk(cid, model, {}, usage=out.usage))
                yield "data: [DONE]\n\n"
                return
    except TurnError as e:  # after the stream began, an error can only be an event
        yield _sse(
            {"error": {"message": str(e), "type": "server_error", "param": None, "code": None}}
        )
    finally:
        await outs.aclose()
