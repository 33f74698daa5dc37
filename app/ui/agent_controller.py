"""The Qt glue of the coding agent: runs `AgentRun` off the GUI thread and brings its events back.

`AgentController.start(...)` builds the run and calls its blocking `run()` on a worker
`threading.Thread`. Worker threads touch no Qt object: they put what they have (the run's events,
undo's answers) in a queue that a timer on the GUI thread drains every `POLL_MS` while any worker
lives. So a thread that outlives the controller (a window closed mid-run) cannot reach a deleted
QObject. Every `AgentEvent` arrives on the GUI thread as `event_received` (and the last one,
`Finished`, also as `run_finished`). Approvals go back with `decide`, `stop` ends the run from any state. Undo
(`undo_last`, `restore`) and `list_checkpoints` run on a short-lived thread too and answer
with `checkpoints_listed`, `checkpoint_restored` or `undo_failed`; they are refused while a run is
going, since restoring under a run that still writes would mix both.

The model comes from a `ModelSource`: `EngineModelSource` makes one `EngineAgentModel` per run on
the app's engine (its own session id; the bridge's events for that session are routed to it) and
closes the engine session when the run is over. `SingleModel` hands out one given model (tests).
"""

from __future__ import annotations

import queue
import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.agent import (
    AgentModel,
    AgentRun,
    ApprovalMode,
    Decision,
    Finished,
    Limits,
    StopReason,
    Undone,
    UndoPoint,
    UndoPoints,
)
from app.agent.engine_model import EngineAgentModel
from app.agent.runner import KILL_GRACE_S
from app.bridge import EngineBridge
from app.settings import Key, Settings
from engine import protocol as ev

POLL_MS = 10  # how often the GUI thread takes what the workers queued; events wait at most this


class ModelSource(Protocol):
    def open(self) -> AgentModel: ...
    def close(self, model: AgentModel) -> None: ...


class SingleModel:
    """Hands out the one model it was given (a scripted model in tests and demos)."""

    def __init__(self, model: AgentModel) -> None:
        self.model = model

    def open(self) -> AgentModel:
        return self.model

    def close(self, model: AgentModel) -> None:
        pass


class EngineModelSource(QObject):
    """One `EngineAgentModel` per run, on the bridge's engine, with the agent's generation settings.

    The reply's text also streams out as `text_streamed(text, channel)` while the model writes it
    (the loop only sees whole replies), so the view can show the step being written.
    """

    text_streamed = Signal(str, str)  # a TextDelta of an agent session: text, "text" or "thinking"

    def __init__(
        self, bridge: EngineBridge, settings: Settings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.bridge, self.settings = bridge, settings
        self.models: dict[str, EngineAgentModel] = {}
        bridge.event_received.connect(self._route)

    def open(self) -> EngineAgentModel:
        session_id = f"agent-{uuid.uuid4().hex[:12]}"
        generation = replace(
            self.settings.generation_settings(),
            max_tokens=max(1, self.settings.value(Key.AGENT_MAX_TOKENS)),
        )
        model = EngineAgentModel(
            self.bridge.submit, session_id, generation, self.settings.image_budget()
        )
        self.models[session_id] = model
        return model

    def close(self, model: AgentModel) -> None:
        if isinstance(model, EngineAgentModel) and self.models.pop(model.session_id, None):
            self.bridge.submit(ev.CloseSession(session_id=model.session_id))

    @Slot(object)
    def _route(self, event: ev.Event) -> None:
        model = self.models.get(event.session_id)
        if model is not None:
            model.deliver(event)  # wakes the run's thread, which waits for this request's events
            if isinstance(event, ev.TextDelta):
                self.text_streamed.emit(event.text, event.channel)


@dataclass(frozen=True)
class _Listed:
    checkpoints: list[UndoPoint]
    after_undo: bool = False


@dataclass(frozen=True)
class _Restored:
    checkpoint: Undone


@dataclass(frozen=True)
class _UndoFailed:
    message: str


class _WorkerDone:
    """The last thing a worker thread queues."""


class AgentController(QObject):
    event_received = Signal(object)  # every AgentEvent of the current run, on the GUI thread
    run_started = Signal()
    run_finished = Signal(object)  # Finished
    checkpoints_listed = Signal(list)  # [UndoPoint], newest first
    checkpoint_restored = Signal(object)  # Undone: the files are now as they were there
    undo_failed = Signal(str)

    def __init__(
        self,
        data_dir: str | Path,
        models: ModelSource,
        *,
        use_sandbox: bool | None = None,
        kill_grace_s: float = KILL_GRACE_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.models = models
        self.use_sandbox, self.kill_grace_s = use_sandbox, kill_grace_s
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()  # filled by workers, drained here
        self._workers = 0  # threads that may still put something in the inbox
        self._pump = QTimer(self)
        self._pump.setInterval(POLL_MS)
        self._pump.timeout.connect(self._drain)
        self._lock = threading.Lock()
        self._run: AgentRun | None = None
        self._model: AgentModel | None = None
        self._stop_requested = False
        self._busy_with_undo = False
        self.running = False
        self.thread: threading.Thread | None = None

    # ------------------------------------------------------------ the run

    def start(
        self, workspace: str | Path, task: str | list[dict], mode: ApprovalMode, limits: Limits
    ) -> bool:
        """Start a run; False (and nothing done) while a run or an undo is still going."""
        if self.running or self._busy_with_undo:
            return False
        self.running = True
        self._stop_requested = False
        self._run = None
        self._model = model = self.models.open()
        self.thread = self._spawn(
            "agent-run", self._work, model, Path(workspace), task, mode, limits
        )
        self.run_started.emit()
        return True

    def decide(self, call_id: int, decision: Decision) -> None:
        with self._lock:
            run = self._run
        if run is not None:
            run.decide(call_id, decision)

    def stop(self) -> None:
        """Stop the run: the model's reply is cancelled, a command is killed, a wait ends."""
        with self._lock:
            self._stop_requested = True
            run = self._run
        if run is not None:
            run.stop()
        elif self._model is not None:
            self._model.cancel()

    def _work(
        self,
        model: AgentModel,
        workspace: Path,
        task: str | list[dict],
        mode: ApprovalMode,
        limits: Limits,
    ) -> None:
        try:
            # Built here, not on the GUI thread: it prepares the undo store and the sandbox.
            run = AgentRun(
                model,
                workspace,
                task,
                data_dir=self.data_dir,
                on_event=self._inbox.put,
                mode=mode,
                limits=limits,
                use_sandbox=self.use_sandbox,
                kill_grace_s=self.kill_grace_s,
            )
        except Exception as exc:  # noqa: BLE001 - shown to the person as the run's end
            self._inbox.put(Finished(StopReason.ERROR, f"The run could not start: {exc}", 0))
            return
        with self._lock:
            self._run = run
            stop_now = self._stop_requested
        if stop_now:
            run.stop()
        run.run()  # emits Finished last, also on a failure

    # ------------------------------------------------------------ undo

    def list_checkpoints(self, workspace: str | Path) -> None:
        self._git_job(workspace, lambda cp: _Listed(cp.list()))

    def undo_last(self, workspace: str | Path) -> bool:
        return self._git_job(workspace, lambda cp: _Restored(cp.undo_last()), undo=True)

    def restore(self, workspace: str | Path, checkpoint_id: str) -> bool:
        return self._git_job(workspace, lambda cp: _Restored(cp.restore(checkpoint_id)), undo=True)

    def _git_job(self, workspace: str | Path, job, undo: bool = False) -> bool:
        if undo and (self.running or self._busy_with_undo):
            return False
        self._busy_with_undo = self._busy_with_undo or undo

        def work() -> None:
            try:
                result = job(UndoPoints(workspace, self.data_dir))
            except Exception as exc:  # noqa: BLE001 - undo's message goes to the person
                result = _UndoFailed(str(exc)) if undo else _Listed([])
            self._inbox.put(result)
            if undo:
                try:
                    listed = UndoPoints(workspace, self.data_dir).list()
                except Exception:  # noqa: BLE001 - the failure itself was already reported
                    listed = []
                self._inbox.put(_Listed(listed, after_undo=True))

        self._spawn("agent-undo" if undo else "agent-checkpoints", work)
        return True

    def _spawn(self, name: str, target, *args) -> threading.Thread:
        def body() -> None:
            try:
                target(*args)
            finally:
                self._inbox.put(_WorkerDone())

        self._workers += 1
        self._pump.start()
        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        return thread

    # ------------------------------------------------------------ on the GUI thread

    @Slot()
    def _drain(self) -> None:
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _WorkerDone):
                self._workers -= 1
            else:
                self._dispatch(item)
        if self._workers == 0:
            self._pump.stop()

    def _dispatch(self, item: object) -> None:
        if isinstance(item, _Listed):
            if item.after_undo:
                self._busy_with_undo = False
            self.checkpoints_listed.emit(item.checkpoints)
        elif isinstance(item, _Restored):
            self.checkpoint_restored.emit(item.checkpoint)
        elif isinstance(item, _UndoFailed):
            self.undo_failed.emit(item.message)
        else:
            self.event_received.emit(item)
            if isinstance(item, Finished):
                self._finish(item)

    def _finish(self, finished: Finished) -> None:
        self.running = False
        if self._model is not None:
            self.models.close(self._model)
            self._model = None
        self.run_finished.emit(finished)
