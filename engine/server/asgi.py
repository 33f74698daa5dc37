"""The ASGI app: routes of the three APIs, API-key check, errors in each API's shape.

Contract:
- `create_app(router, config)` builds a FastAPI app over an `EventRouter`; the app owns the
  `SessionPool`, the `TurnRunner` and the `ResponseStore` (`app.state.pool`, `.runner`,
  `.responses`). Routes: `openai_routes` (Chat Completions, models), `anthropic_routes` (Messages,
  count_tokens), `responses_routes` (Responses).
- With `config.api_key` set, every `/v1/` request must carry it as `Authorization: Bearer KEY`
  (OpenAI clients) or `x-api-key: KEY` (Anthropic clients); otherwise 401.
- Bodies over `config.max_body_bytes` get 413; a body that is not a JSON object, or a field that is
  wrong, gets 400 naming the field. Unknown routes get 404 and wrong methods 405, in the shape of
  the API the path belongs to (`errors`). An unexpected failure in one request is a 500 for that
  request only.
- Streamed answers send something at least every `config.keepalive_s` seconds.
"""

from __future__ import annotations

import asyncio
import hmac
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException

from engine import protocol as ev
from engine.server import anthropic_routes, openai_routes, responses_routes
from engine.server.errors import (
    TurnError,
    anthropic_message,
    error_response,
    is_anthropic_path,
    openai_code,
)
from engine.server.event_router import EventRouter
from engine.server.items import RequestError
from engine.server.pool import SessionPool
from engine.server.response_store import ResponseStore
from engine.server.turns import TurnRunner
from engine.server.worker_view import cache_bytes_of


@dataclass
class ServerConfig:
    api_key: str | None = None
    max_body_bytes: int = 64 << 20  # base64 media make chat bodies large; 64 MiB is generous
    max_sessions: int = 4
    max_cache_bytes: int = 8 << 30
    allow_files: bool = True  # image_url may name a local file
    keepalive_s: float = 5.0  # the most time a stream goes without sending anything
    max_stored_responses: int = 256
    max_stored_bytes: int = 256 << 20


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


def create_app(router: EventRouter, config: ServerConfig | None = None) -> FastAPI:
    config = config or ServerConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        router.loop = asyncio.get_running_loop()
        yield
        router.loop = None

    app = FastAPI(
        title="Tandem", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    pool = SessionPool(
        close=lambda sid: router.submit(ev.CloseSession(session_id=sid)),
        measure=lambda sid: cache_bytes_of(router.worker, sid),
        max_sessions=config.max_sessions,
        max_bytes=config.max_cache_bytes,
    )
    router.on_model_loaded.append(pool.clear)
    app.state.router, app.state.config, app.state.pool = router, config, pool
    app.state.runner = TurnRunner(router, pool)
    app.state.responses = ResponseStore(config.max_stored_responses, config.max_stored_bytes)

    if config.api_key:
        app.add_middleware(KeyCheck, key=config.api_key)

    @app.exception_handler(RequestError)
    async def on_request_error(request: Request, e: RequestError):
        code = {409: "conversation_busy", 413: "request_too_large"}.get(e.status)
        if e.param == "previous_response_id":
            code = "previous_response_not_found"
        return error_response(request.url.path, e.status, str(e), e.param, code)

    @app.exception_handler(TurnError)
    async def on_turn_error(request: Request, e: TurnError):
        path = request.url.path
        message = anthropic_message(e) if is_anthropic_path(path) else str(e)
        return error_response(path, e.status, message, code=openai_code(e.status, e.kind))

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, e: HTTPException):
        what = f"{request.method} {request.url.path}"
        message = {404: f"there is no route {what} on this server",
                   405: f"the method of {what} is not allowed here"}.get(e.status_code, e.detail)
        return error_response(request.url.path, e.status_code, str(message),
                              headers=getattr(e, "headers", None))

    @app.get("/health")
    async def health():
        return {
            "status": "ok" if router.engine_alive else "engine stopped",
            "model": router.model_name,
            "kept_sessions": len(pool.entries),
        }

    openai_routes.add_routes(app)
    anthropic_routes.add_routes(app)
    responses_routes.add_routes(app)
    return app
