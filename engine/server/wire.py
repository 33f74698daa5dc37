"""HTTP plumbing the routes share: bounded JSON bodies, server-sent events, client disconnects.

- `read_json(request, limit)` reads a body of at most `limit` bytes (413 past it, checked on
  Content-Length and while reading) and parses it (400 when it is not JSON).
- `watched(outs, request, keepalive_s, quiet)` yields the items of `outs` until the client
  disconnects (then `outs` is closed, which aborts its turn). With `keepalive_s`, it also yields
  `KEEPALIVE` whenever that long has passed without an item other than the `quiet` ones (items a
  route sends as SSE comments, such as prefill progress: clients that watch for idle streams count
  events, not comments), so a route can send a real event during a long prefill. The connection is
  checked every `DISCONNECT_POLL_S`, also while items keep coming.
- `sse_data`, `sse_event` and `sse_comment` frame one server-sent event. A comment (`: text`) is
  ignored by SSE clients; the routes use comments for prefill progress (`progress_comment`:
  `: prefill DONE/TOTAL`, in tokens of the part being fed).
- `note_headers(notes)` is the `X-Tandem-Note` header that tells a client what the server ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request

from engine.server.items import RequestError

DISCONNECT_POLL_S = 0.25
KEEPALIVE = object()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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


async def watched(outs: AsyncIterator, request: Request, keepalive_s: float | None = None,
                  quiet: Callable[[Any], bool] = lambda item: False) -> AsyncIterator:
    """Items of `outs` (and `KEEPALIVE` when idle) until the client disconnects; see the module
    docstring."""
    it = outs.__aiter__()
    step: asyncio.Future | None = None
    loop = asyncio.get_running_loop()
    checked = last = loop.time()
    try:
        while True:
            step = asyncio.ensure_future(it.__anext__())
            while True:
                wake = checked + DISCONNECT_POLL_S
                if keepalive_s is not None:
                    wake = min(wake, last + keepalive_s)
                left = wake - loop.time()
                if left > 0:
                    await asyncio.wait({step}, timeout=left)
                now = loop.time()
                if step.done() and now < checked + DISCONNECT_POLL_S:
                    break
                if now >= checked + DISCONNECT_POLL_S:
                    checked = now
                    if await request.is_disconnected():
                        return
                if step.done():
                    break
                if keepalive_s is not None and loop.time() >= last + keepalive_s:
                    last = loop.time()
                    yield KEEPALIVE
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            if not quiet(item):
                last = loop.time()
            yield item
    finally:
        if step is not None and not step.done():
            step.cancel()  # raises inside `outs`, whose cleanup aborts the turn
            with contextlib.suppress(BaseException):
                await step
        await it.aclose()


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def sse_data(obj: Any) -> str:
    return f"data: {_json(obj)}\n\n"


def sse_event(kind: str, obj: Any) -> str:
    return f"event: {kind}\ndata: {_json(obj)}\n\n"


def sse_comment(text: str) -> str:
    return f": {text}\n\n"


def progress_comment(done: int, total: int) -> str:
    return sse_comment(f"prefill {done}/{total}")


def note_headers(notes: list[str]) -> dict[str, str]:
    if not notes:
        return {}
    text = "; ".join(notes)
    return {"X-Tandem-Note": text.encode("ascii", "replace").decode()[:1000]}
