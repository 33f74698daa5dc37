"""The ASGI app: routes of both APIs, API-key check, body size limit, errors in each API's shape.

Contract:
- `create_app(bridge, config)` builds a FastAPI app over an `EventRouter`; the app owns the
  `SessionPool` and `TurnRunner` (`app.state.pool`, `app.state.runner`).
- With `config.api_key` set, every `/v1/` request must carry it as `Authorization: Bearer KEY`
  (OpenAI clients) or `x-api-key: KEY` (Anthropic clients); otherwise 401.
- Bodies over `config.max_body_bytes` get 413 (checked on Content-Length and while reading);
  a body that is not a JSON object, or a field that is wrong, gets 400 naming the field.
- Errors use OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`) and, under
  `/v1/messages`, Anthropic's (`{"type": "error", "error": {"type", "message"}}`). An unexpected
  failure in one request is a 500 for that request only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from engine.server.event_router import EventRouter
from engine.server.items import RequestError
from engine.server.pool import SessionPool
from engine.server.turns import TurnError, TurnRunner

DISCONNECT_POLL_S = 0.25


@dataclass
class ServerConfig:
    api_key: str | None = None
    max_body_bytes: int = 64 << 20  # base64 media make chat bodies large; 64 MiB is generous
    max_sessions: int = 4
    max_cache_bytes: int = 8 << 30
    allow_files: bool = True  # image_url may name a local file


OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    500: "server_error",
    503: "server_error",
}
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "request_too_large",
    500: "api_error",
    503: "overloaded_error",
}


def error_response(
    path: str, status: int, message: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    if path.startswith("/v1/messages"):
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": ANTHROPIC_TYPES.get(status, "api_error"), "message": message},
        }
    else:
        body = {
            "error": {
                "message": message,
                "type": OPENAI_TYPES.get(status, "server_error"),
                "param": param,
                "code": code,
            }
        }
    return JSONResponse(body, status_code=status)


async def read_json(request: Request, limit: int) -> Any:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestError(
            f"the request body is {int(length)} bytes; the limit is {limit}", status=413
        )
    chunks, size = [], 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            raise RequestError(f"the request body is over the limit of {limit} bytes", status=413)
        chunks.append(piece)
    try:
        return json.loads(b"".join(chunks))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RequestError(f"the request body is not valid JSON: {e}") from e


async def watched(outs: AsyncIterator, request: Request) -> AsyncIterator:
    """Items of `outs` until the client disconnects; then `outs` is closed (which aborts its turn).

    The connection is checked every `DISCONNECT_POLL_S`, also while items keep coming."""
    it = outs.__aiter__()
    step: asyncio.Future | None = None
    loop = asyncio.get_running_loop()
    checked = loop.time()
    try:
        while True:
            step = asyncio.ensure_future(it.__anext__())
            while True:
                left = checked + DISCONNECT_POLL_S - loop.time()
                if left > 0:
                    await asyncio.wait({step}, timeout=left)
                if step.done() and loop.time() < checked + DISCONNECT_POLL_S:
                    break
                checked = loop.time()
                if await request.is_disconnected():
                    return
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        if step is not None and not step.done():
            step.cancel()  # raises inside `outs`, whose cleanup aborts the turn
            with contextlib.suppress(BaseException):
                await step
        await it.aclose()


class KeyCheck:
    """Plain ASGI middleware (Starlette's BaseHTTPMiddleware would hide client disconnects)."""

    def __init__(self, app, key: str) -> None:
        self.app, self.key = app, key.encode()

    async def __call__(self, scope, receive, send) -> None:
        guarded = scope["type"] == "http" and scope["path"].startswith("/v1/")
        if guarded and not self._authorized(dict(scope["headers"])):
            response = error_response(
                scope["path"], 401, "invalid or missing API key", code="invalid_api_key"
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        given = headers.get(b"x-api-key")
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        return given is not None and hmac.compare_digest(given, self.key)


def create_app(bridge: EventRouter, config: ServerConfig | None = None) -> FastAPI:
    from engine.server import anthropic_routes, openai_routes
    from engine.server.worker_view import cache_bytes_of

    config = config or ServerConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        bridge.loop = asyncio.get_running_loop()
        yield
        bridge.loop = None

    app = FastAPI(
        title="Tandem", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    pool = SessionPool(
        close=lambda sid: bridge.submit(_close(sid)),
        measure=lambda sid: cache_bytes_of(bridge.worker, sid),
        max_sessions=config.max_sessions,
        max_bytes=config.max_cache_bytes,
    )
    bridge.on_model_loaded.append(pool.clear)
    app.state.bridge, app.state.config, app.state.pool = bridge, config, pool
    app.state.runner = TurnRunner(bridge, pool)

    if config.api_key:
        app.add_middleware(KeyCheck, key=config.api_key)

    @app.exception_handler(RequestError)
    async def on_request_error(request: Request, e: RequestError):
        code = {409: "conversation_busy", 413: "request_too_large"}.get(e.status)
        return error_response(request.url.path, e.status, str(e), e.param, code)

    @app.exception_handler(TurnError)
    async def on_turn_error(request: Request, e: TurnError):
        return error_response(request.url.path, e.status, str(e))

    @app.get("/health")
    async def health():
        return {
            "status": "ok" if bridge.engine_alive else "engine stopped",
            "model": bridge.model_name,
            "kept_sessions": len(pool.entries),
        }

    openai_routes.add_routes(app)
    anthropic_routes.add_routes(app)
    return app


def _close(session_id: str):
    from engine.protocol import CloseSession

    return CloseSession(session_id=session_id)
