"""One engine and one API server on 127.0.0.1 (a free port) over the tiny checkpoint, for all server
tests; plus a helper that forwards the worker's events to both the server and a test recorder."""

import threading
import time

import pytest

from engine import protocol as ev
from engine.server.asgi import ServerConfig
from engine.server.event_router import EventRouter
from engine.server.server import start_server
from engine.worker import EngineWorker

from server_helpers import API_KEY, BODY_LIMIT


class Served:
    def __init__(self, handle, worker, seen, events):
        self.handle, self.worker, self.seen, self.events = handle, worker, seen, events

    @property
    def base(self) -> str:
        return self.handle.url

    @property
    def pool(self):
        return self.handle.app.state.pool

    def commands_of(self, kind):
        return [c for c in self.seen if isinstance(c, kind)]

    def mark(self) -> int:
        """Where the command log stands; `since(mark)`: the commands after it, less Cancel and CloseSession
        (the pool closes evicted sessions at any time)."""
        return len(self.seen)

    def since(self, mark: int) -> list:
        return [c for c in self.seen[mark:] if not isinstance(c, (ev.Cancel, ev.CloseSession))]

    def wait_finished(self, request_id: int, timeout: float = 30.0) -> ev.TurnFinished:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in list(self.events):
                if e.request_id == request_id and isinstance(e, (ev.TurnFinished, ev.ErrorEvent)):
                    return e
            time.sleep(0.02)
        raise AssertionError(f"request {request_id} did not finish")

    def stats_of(self, request_id: int) -> ev.TurnStats:
        return next(
            e for e in self.events if e.request_id == request_id and isinstance(e, ev.TurnStats)
        )


class SpyWorker(EngineWorker):
    """The real worker; it also records the commands it was given."""

    def __init__(self, on_event, seen):
        super().__init__(on_event)
        self.seen = seen

    def submit(self, command):
        self.seen.append(command)
        return super().submit(command)


@pytest.fixture(scope="session")
def served(tiny_checkpoint):
    router = EventRouter()
    loaded = threading.Event()

    events: list = []

    def on_event(event):
        events.append(event)
        if isinstance(event, ev.ModelLoaded):
            loaded.set()
        router.on_event(event)

    seen: list = []
    worker = SpyWorker(on_event, seen)
    worker.start()
    worker.submit(ev.LoadModel(path=str(tiny_checkpoint)))
    assert loaded.wait(120), "the tiny model did not load"
    config = ServerConfig(max_body_bytes=BODY_LIMIT)
    handle = start_server(
        worker, "127.0.0.1", 0, API_KEY, model_name="tiny", config=config, router=router
    )
    yield Served(handle, worker, seen, events)
    handle.stop()
    worker.stop()
