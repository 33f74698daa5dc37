"""Running the app on uvicorn: beside an existing engine worker, or with its own for `tandem serve`.

Contract:
- `start_server(worker, host, port, api_key, model_name=...)` serves on a background thread and
  returns a `ServerHandle` once the socket listens (port 0 picks a free one: `handle.port`). The
  worker's single `on_event` callback is the caller's: it must also pass every event to
  `handle.on_event(event)` (cheap, thread-safe, ignores what is not the server's). The server's
  sessions are named "api-..."; the app should ignore events of session ids it did not open.
  `handle.stop()` stops serving; it does not stop the worker.
- `check_host(host, api_key)` refuses a non-loopback address without an API key.
"""

from __future__ import annotations

import ipaddress
import socket
import threading

import uvicorn

from engine.server.asgi import ServerConfig, create_app
from engine.server.event_router import EventRouter


class ServerError(RuntimeError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, api_key: str | None) -> None:
    if not is_loopback(host) and not api_key:
        raise ServerError(
            f"serving on {host} reaches beyond this machine; set an API key "
            "(--api-key or TANDEM_API_KEY) or bind to 127.0.0.1"
        )


class ServerHandle:
    def __init__(
        self,
        server: uvicorn.Server,
        thread: threading.Thread,
        router: EventRouter,
        host: str,
        port: int,
        app,
    ) -> None:
        self.server, self.thread, self.router = server, thread, router
        self.host, self.port, self.app = host, port, app

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def on_event(self, event) -> None:
        self.router.on_event(event)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ServerError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.listen(128)
    return sock


def start_server(
    worker,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    model_name: str = "",
    config: ServerConfig | None = None,
    router: EventRouter | None = None,
) -> ServerHandle:
    config = config or ServerConfig()
    config.api_key = api_key or config.api_key
    check_host(host, config.api_key)
    router = router or EventRouter(model_name=model_name)
    router.attach(worker)
    app = create_app(router, config)
    sock = bind(host, port)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="tandem-server", daemon=True
    )
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.02)
    if not server.started:
        raise ServerError("the server did not start")
    return ServerHandle(server, thread, router, host, sock.getsockname()[1], app)
