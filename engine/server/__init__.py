"""A local API server over the engine: OpenAI- (Chat Completions, Responses) and Anthropic-compatible,
with kept KV caches.

`tandem serve` (`engine.server.cli`) runs it with its own engine; `start_server(worker, ...)`
(`engine.server.server`) runs it beside an app that owns the engine worker. See `server.py` for
how to forward the worker's events, `pool.py` for how conversations reuse their cache,
`conversation.py` for the one conversion all three APIs share, and `*_convert.py` / `*_routes.py`
for each API's request and response shapes.
"""

from engine.server.asgi import ServerConfig
from engine.server.server import ServerHandle, start_server

__all__ = ["ServerConfig", "ServerHandle", "start_server"]
