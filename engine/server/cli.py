"""`tandem serve`: the OpenAI- (Chat Completions, Responses) and Anthropic-compatible API on a local port, with its own engine.

It loads the model on a new engine thread, then serves until interrupted. It binds to 127.0.0.1
unless told otherwise; any other address needs an API key (`--api-key` or `TANDEM_API_KEY`).
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import tempfile
import threading

from engine import protocol as ev

DEFAULT_PORT = 8756


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=os.environ.get("TANDEM_MODEL"),
        help="checkpoint folder or Hugging Face repo id (or TANDEM_MODEL)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("TANDEM_API_KEY"),
        help="key clients must send (or TANDEM_API_KEY); required off loopback",
    )
    parser.add_argument(
        "--max-request-mb",
        type=float,
        default=64.0,
        help="largest request body accepted, in MiB (default 64)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=4,
        help="conversations whose KV cache is kept (default 4)",
    )
    parser.add_argument(
        "--cache-gb", type=float, default=8.0, help="memory for kept KV caches, in GB (default 8)"
    )
    parser.add_argument(
        "--no-local-files", action="store_true", help="refuse image_url parts that name local files"
    )


def run(args: argparse.Namespace) -> int:
    from engine.server.asgi import ServerConfig
    from engine.server.event_router import EventRouter
    from engine.server.server import ServerError, check_host, start_server
    from engine.worker import EngineWorker

    if not args.model:
        print("tandem serve: --model is required (a checkpoint folder or repo id)", file=sys.stderr)
        return 2
    if args.max_sessions < 1 or args.max_request_mb <= 0 or args.cache_gb <= 0:
        print(
            "tandem serve: --max-sessions, --max-request-mb and --cache-gb must be positive",
            file=sys.stderr,
        )
        return 2
    try:
        check_host(args.host, args.api_key)
    except ServerError as e:
        print(f"tandem serve: {e}", file=sys.stderr)
        return 2
    router = EventRouter()
    loaded: queue.SimpleQueue[ev.Event] = queue.SimpleQueue()
    load = ev.LoadModel(path=args.model)

    def on_event(event: ev.Event) -> None:
        if event.request_id == load.request_id and isinstance(
            event, (ev.ModelLoaded, ev.ErrorEvent)
        ):
            loaded.put(event)
        router.on_event(event)

    # The server's own folder for idle conversations' caches (engine.session_budget); gone when it exits.
    eviction = tempfile.TemporaryDirectory(prefix="tandem-serve-kv-")
    worker = EngineWorker(on_event, eviction_folder=eviction.name)
    worker.start()
    worker.submit(load)
    print(f"tandem serve: loading {args.model} ...", file=sys.stderr)
    result = loaded.get()
    if isinstance(result, ev.ErrorEvent):
        print(f"tandem serve: cannot load the model: {result.message}", file=sys.stderr)
        worker.stop()
        eviction.cleanup()
        return 1
    config = ServerConfig(
        max_body_bytes=int(args.max_request_mb * (1 << 20)),
        max_sessions=args.max_sessions,
        max_cache_bytes=int(args.cache_gb * 1e9),
        allow_files=not args.no_local_files,
    )
    try:
        handle = start_server(
            worker,
            args.host,
            args.port,
            args.api_key,
            model_name=result.name,
            config=config,
            router=router,
        )
    except ServerError as e:
        print(f"tandem serve: {e}", file=sys.stderr)
        worker.stop()
        eviction.cleanup()
        return 1
    label = " (random weights)" if result.random_weights else ""
    print(f"tandem serve: {result.name}{label} at {handle.url}/v1 (Ctrl+C stops)", file=sys.stderr)
    _stop_on_sigterm()
    try:
        while handle.thread.is_alive():
            handle.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
        worker.stop()
        eviction.cleanup()
    return 0


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager, `kill`) stops the server as Ctrl+C does."""

    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
