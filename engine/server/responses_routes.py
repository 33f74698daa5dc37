"""OpenAI Responses routes: `POST /v1/responses` (streamed or not), `GET`/`DELETE /v1/responses/{id}`.

A request with `previous_response_id` continues the stored conversation: its messages come before
this input, so the kept engine session that answered it is extended (its cache read, nothing fed
again). With `store` (the default) the finished response is kept for the next one
(`response_store`). A streamed answer starts at once with `response.created` and
`response.in_progress`; while the prompt is prefilled, `response.in_progress` is sent again every
`ServerConfig.keepalive_s` (clients such as Codex CLI time out on a stream without events) and SSE
comments carry the progress. Items and events: `responses_output`. An engine error after the stream
began is a `response.failed` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from engine.server import responses_convert as rc
from engine.server.conversation import turn_request
from engine.server.errors import TurnError
from engine.server.items import RequestError
from engine.server.response_store import ResponseStore
from engine.server.responses_output import ResponseBuilder
from engine.server.turns import Done, PrefillOut, TextOut, ToolCallOut, TurnRun, is_progress
from engine.server.wire import (
    KEEPALIVE,
    SSE_HEADERS,
    note_headers,
    progress_comment,
    read_json,
    sse_event,
    watched,
)


def add_routes(app: FastAPI) -> None:
    state = app.state
    store: ResponseStore = state.responses

    @app.post("/v1/responses")
    async def create(request: Request):
        body = await read_json(request, state.config.max_body_bytes)
        parsed = rc.parse_request(body, state.config.allow_files)
        earlier = []
        if parsed.previous_response_id:
            stored = store.get(parsed.previous_response_id)
            if stored is None:
                raise RequestError(
                    f"Previous response with id '{parsed.previous_response_id}' not found: it was "
                    "never stored, or the server forgot it (it keeps the most recent ones, in "
                    "memory)", "previous_response_id")
            earlier = stored.messages
        req = turn_request(parsed.with_history(earlier))
        builder = ResponseBuilder(rc.new_id("resp"), req.model or state.router.model_name, parsed)
        turn = await state.runner.start(req)
        headers = note_headers(parsed.chat.notes)
        if not req.stream:
            outs = watched(turn.outputs(), request)
            return JSONResponse(await _collect(outs, builder, turn, store), headers=headers)
        outs = watched(turn.outputs(), request, state.config.keepalive_s, is_progress)
        return StreamingResponse(_events(outs, builder, turn, store),
                                 media_type="text/event-stream", headers={**SSE_HEADERS, **headers})

    @app.get("/v1/responses/{response_id}")
    async def retrieve(response_id: str):
        stored = store.get(response_id)
        if stored is None:
            raise RequestError(f"no stored response has the id '{response_id}'", status=404)
        return stored.response

    @app.delete("/v1/responses/{response_id}")
    async def delete(response_id: str):
        if not store.delete(response_id):
            raise RequestError(f"no stored response has the id '{response_id}'", status=404)
        return {"id": response_id, "object": "response", "deleted": True}


def _keep(store: ResponseStore, builder: ResponseBuilder, turn: TurnRun, final: dict) -> None:
    """Store the finished response with the conversation it ended (when the client asked to)."""
    if builder.request.store and turn.conversation is not None:
        store.put(builder.id, builder.request.conversation() + [builder.output_message()], final)


async def _collect(outs: AsyncIterator, builder: ResponseBuilder, turn: TurnRun,
                   store: ResponseStore) -> dict:
    async for out in outs:
        if isinstance(out, (TextOut, ToolCallOut)):
            builder.feed(out)
        elif isinstance(out, Done):
            _, final = builder.finish(out)
            _keep(store, builder, turn, final)
            return final
    raise TurnError("the client went away", 499)


async def _events(outs: AsyncIterator, builder: ResponseBuilder, turn: TurnRun,
                  store: ResponseStore):
    for kind, data in builder.start():
        yield sse_event(kind, data)
    try:
        async for out in outs:
            if out is KEEPALIVE:
                yield sse_event(*builder.keepalive())
            elif isinstance(out, PrefillOut):
                yield progress_comment(out.done, out.total)
            elif isinstance(out, (TextOut, ToolCallOut)):
                for kind, data in builder.feed(out):
                    yield sse_event(kind, data)
            elif isinstance(out, Done):
                events, final = builder.finish(out)
                _keep(store, builder, turn, final)
                for kind, data in events:
                    yield sse_event(kind, data)
                return
    except TurnError as e:
        yield sse_event(*builder.fail(e))
    finally:
        await outs.aclose()
