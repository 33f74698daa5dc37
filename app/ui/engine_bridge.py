"""The one QObject between the Qt GUI and the engine thread.

It owns the engine worker (any class or factory with the `EngineWorker` interface: built with an
`on_event` callback, then `start()`, `submit(command) -> request_id`, `stop(timeout)`). The worker
calls `on_event` on its own thread; the bridge re-emits each event on the GUI thread through a queued
connection, both as `event_received` and as the typed signal for its class. `submit` never blocks,
so the GUI never waits on the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Signal, Slot

from engine import protocol as ev


class Worker(Protocol):
    def start(self) -> None: ...
    def submit(self, command: ev.Command) -> int: ...
    def stop(self, timeout: float = 5.0) -> None: ...


WorkerFactory = Callable[[Callable[[ev.Event], None]], Worker]


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

    _relayed = Signal(object)  # emitted on the engine thread, delivered queued on the GUI thread

    def __init__(self, worker_factory: WorkerFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._relayed.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._worker: Worker = worker_factory(self._relayed.emit)
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
        """Queue `command` on the engine thread and return its request_id at once."""
        request_id = self._worker.submit(command)
        self.command_submitted.emit(command)
        return request_id

    def stop(self, timeout: float = 5.0) -> None:
        if self._started:
            self._started = False
            self._worker.stop(timeout)

    @Slot(object)
    def _dispatch(self, event: ev.Event) -> None:
        self.event_received.emit(event)
        signal = self._typed.get(type(event))
        if signal is not None:
            signal.emit(event)
