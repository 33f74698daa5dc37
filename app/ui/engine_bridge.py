"""The one QObject between the Qt GUI and the engine thread.

It owns the engine worker (any class or factory with the `EngineWorker` interface: built with an
`on_event` callback, then `start()`, `submit(command) -> request_id`, `stop(timeout)`). The worker
calls `on_event` on its own thread; the bridge brings each event to the GUI thread with
`Tasks.run_on_main` (app.ui.tasks) and emits it there, both as `event_received` and as the typed
signal for its class. `submit` never blocks, so the GUI never waits on the engine.

Work on another thread that waits for a session's events (an agent run) does not wait for the GUI
thread: `route_session(session_id, deliver)` hands that session's events to `deliver` on the engine
thread as they come (they still reach the GUI signals too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from app.ui.tasks import Tasks
from engine import protocol as ev


class Worker(Protocol):
    def start(self) -> None: ...
    def submit(self, command: ev.Command) -> int: ...
    def stop(self, timeout: float = 5.0) -> None: ...


EventSink = Callable[[ev.Event], None]
WorkerFactory = Callable[[EventSink], Worker]


class EngineBridge(QObject):
    event_received = Signal(object)  # every engine.protocol.Event, on the GUI thread
    model_loaded = Signal(object)  # ModelLoaded
    progress_reported = Signal(object)  # Progress
    text_received = Signal(object)  # TextDelta
    tool_called = Signal(object)  # ToolCallEvent
    parse_failed = Signal(object)  # ParseErrorEvent
    stats_reported = Signal(object)  # TurnStats
    turn_finished = Signal(object)  # TurnFinished
    context_warned = Signal(object)  # ContextWarning
    session_saved = Signal(object)  # SessionSaved
    error_raised = Signal(object)  # ErrorEvent
    command_submitted = Signal(object)  # every Command, as it goes to the engine

    def __init__(self, worker_factory: WorkerFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = Tasks(self)
        self._routes: dict[str, EventSink] = {}  # session_id -> deliver (on the engine thread)
        self._routes_lock = threading.Lock()
        self._worker: Worker = worker_factory(self._on_engine_event)
        self._typed = {
            ev.ModelLoaded: self.model_loaded,
            ev.Progress: self.progress_reported,
            ev.TextDelta: self.text_received,
            ev.ToolCallEvent: self.tool_called,
            ev.ParseErrorEvent: self.parse_failed,
            ev.TurnStats: self.stats_reported,
            ev.TurnFinished: self.turn_finished,
            ev.ContextWarning: self.context_warned,
            ev.SessionSaved: self.session_saved,
            ev.ErrorEvent: self.error_raised,
        }
        self._started = False

    @property
    def worker(self) -> Worker:
        return self._worker

    def start(self) -> None:
        if not self._started:
            self._worker.start()
            self._started = True

    def submit(self, command: ev.Command) -> int:
        """Queue `command` on the engine thread and return its request_id at once. Any thread
        may submit (an agent run does); GUI slots of `command_submitted` run on the GUI thread."""
        request_id = self._worker.submit(command)
        self.command_submitted.emit(command)
        return request_id

    def stop(self, timeout: float = 5.0) -> None:
        if self._started:
            self._started = False
            self._worker.stop(timeout)

    def route_session(self, session_id: str, deliver: EventSink) -> None:
        """Also hand every event of `session_id` to `deliver`, on the engine thread, in order."""
        with self._routes_lock:
            self._routes[session_id] = deliver

    def unroute_session(self, session_id: str) -> None:
        with self._routes_lock:
            self._routes.pop(session_id, None)

    def _on_engine_event(self, event: ev.Event) -> None:
        """On the engine thread: the routed session's receiver first, then the GUI thread."""
        with self._routes_lock:
            deliver = self._routes.get(event.session_id)
        if deliver is not None:
            deliver(event)
        self._tasks.run_on_main(partial(self._dispatch, event))

    def _dispatch(self, event: ev.Event) -> None:
        self.event_received.emit(event)
        signal = self._typed.get(type(event))
        if signal is not None:
            signal.emit(event)
