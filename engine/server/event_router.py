"""Engine events to the server's requests: the fan-out in front of the one engine worker.

Contract:
- `EventRouter.on_event(event)` is called on the engine thread for every event the worker sends
  (as the worker's own `on_event`, or forwarded by the app's callback). It is cheap and thread-safe:
  an event whose `request_id` the server registered goes to that request's handler on the server's
  event loop; others are ignored, except `ModelLoaded`, which records the model's name and tells
  listeners (the engine dropped every session).
- `submit(command, handler)` registers `handler` for the command's events before submitting it, so
  no event is missed; `forget(request_id)` drops the registration.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from engine import protocol as ev

Handler = Callable[[ev.Event], None]


class EventRouter:
    def __init__(self, worker=None, model_name: str = "") -> None:
        self.worker = worker
        self.model_name = model_name
        self.model_loaded = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._handlers: dict[int, Handler] = {}
        self._lock = threading.Lock()
        self.on_model_loaded: list[Callable[[], None]] = []

    def attach(self, worker) -> None:
        self.worker = worker

    # ------------------------------------------------------------ engine thread

    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.ModelLoaded):
            self.model_name = event.name or self.model_name
            self.model_loaded = True
            self._call_soon(self._model_changed)
        with self._lock:
            handler = self._handlers.get(event.request_id)
        if handler is not None:
            self._call_soon(handler, event)

    def _call_soon(self, fn, *args) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:  # the loop closed meanwhile: the server is stopping
                pass

    def _model_changed(self) -> None:
        for listener in self.on_model_loaded:
            listener()

    # ------------------------------------------------------------ server loop

    def submit(self, command: ev.Command, handler: Handler | None = None) -> int:
        if self.worker is None:
            raise RuntimeError("the server has no engine worker")
        if handler is not None:
            with self._lock:
                self._handlers[command.request_id] = handler
        return self.worker.submit(command)

    def forget(self, request_id: int) -> None:
        with self._lock:
            self._handlers.pop(request_id, None)

    @property
    def engine_alive(self) -> bool:
        return self.worker is not None and self.worker.alive
