"""The Qt glue of the coding agent: runs `AgentRun` off the GUI thread and brings its events back.

`AgentController.start(...)` builds the run and calls its blocking `run()` on a worker thread
(`Tasks.run_in_background`, app.ui.tasks). The run's events come back with `Tasks.run_on_main`:
every `AgentEvent` arrives on the GUI thread as `event_received` (and the last one, `Finished`, also
as `run_finished`); a thread that outlives the controller (a window closed mid-run) reaches no
deleted QObject. Approvals go back with `decide`; `stop` ends the run from any state. Undo
(`undo_last`, `restore`) and `list_checkpoints` run on a worker thread too and answer with
`checkpoints_listed`, `checkpoint_restored` or `undo_failed`; they are refused while a run is
going, since restoring under a run that still writes would mix both. The model comes from a
`ModelSource` (app.ui.agent.model_source). A run that cannot start ends at once with a `Finished`
whose message says why in a sentence (`start_failure`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.agent import (
    AgentEvent,
    AgentModel,
    AgentRun,
    ApprovalMode,
    Decision,
    Finished,
    Limits,
    StopReason,
    Undone,
    UndoError,
    UndoPoint,
    UndoPoints,
)
from app.agent.runner import KILL_GRACE_S
from app.ui.agent.model_source import ModelSource
from app.ui.tasks import Tasks

log = logging.getLogger(__name__)


def start_failure(exc: Exception, workspace: Path, data_dir: Path) -> str:
    """Why a run could not start, as a sentence that says what to do."""
    if not workspace.is_dir():
        return (
            f"The run could not start: the folder {workspace.name} is no longer there. "
            "Open it again, or choose another folder."
        )
    if data_dir.resolve().is_relative_to(workspace.resolve()):
        return (
            f"The run could not start: {workspace.name} holds Tandem's own data folder, where "
            "the undo copies are kept. Choose a folder that does not contain it."
        )
    if isinstance(exc, PermissionError):
        return (
            "The run could not start: Tandem is not allowed to read the folder or to write its "
            f"undo copies in {data_dir}. Check the folders' permissions."
        )
    if isinstance(exc, OSError):
        return (
            "The run could not start: a file could not be read or written"
            + (f" ({exc.strerror.lower()})." if exc.strerror else ".")
        )
    return (
        "The run could not start because of an unexpected problem. Try again; if it keeps "
        "happening, restart Tandem."
    )


def undo_failure(exc: Exception) -> str:
    """Why an undo did not happen, as a sentence (undo leaves the files as they were)."""
    if isinstance(exc, UndoError):
        reason = str(exc).strip().rstrip(".") or "it could not be done"
        return f"Undo did not happen: {reason}. The files are as they were."
    if isinstance(exc, OSError):
        what = f" ({exc.strerror.lower()})" if exc.strerror else ""
        return f"Undo did not happen: a file could not be read or written{what}. " \
            "The files are as they were."
    return "Undo did not happen because of an unexpected problem. The files are as they were."


class AgentController(QObject):
    event_received = Signal(object)  # every AgentEvent of the current run, on the GUI thread
    run_started = Signal()
    run_finished = Signal(object)  # Finished
    checkpoints_listed = Signal(list)  # [UndoPoint], newest first
    checkpoint_restored = Signal(object)  # Undone: the files are now as they were there
    undo_failed = Signal(str)  # a sentence for the person

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
        self._tasks = Tasks(self)
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
        self.thread = self._tasks.run_in_background(
            lambda: self._work(model, Path(workspace), task, mode, limits), name="agent-run"
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
                on_event=self._post,
                mode=mode,
                limits=limits,
                use_sandbox=self.use_sandbox,
                kill_grace_s=self.kill_grace_s,
            )
        except Exception as exc:  # noqa: BLE001 - shown to the person as the run's end
            log.warning("an agent run could not start", exc_info=exc)
            self._post(Finished(StopReason.ERROR, start_failure(exc, workspace, self.data_dir), 0))
            return
        with self._lock:
            self._run = run
            stop_now = self._stop_requested
        if stop_now:
            run.stop()
        run.run()  # emits Finished last, also on a failure

    def _post(self, event: AgentEvent) -> None:
        """On the run's thread: the event goes to the GUI thread, in order."""
        self._tasks.run_on_main(lambda: self._on_event(event))

    def _on_event(self, event: AgentEvent) -> None:
        self.event_received.emit(event)
        if isinstance(event, Finished):
            self.running = False
            if self._model is not None:
                self.models.close(self._model)
                self._model = None
            self.run_finished.emit(event)

    # ------------------------------------------------------------ undo

    def list_checkpoints(self, workspace: str | Path) -> None:
        self._tasks.run_in_background(
            lambda: UndoPoints(workspace, self.data_dir).list(),
            on_done=self.checkpoints_listed.emit,
            on_failure=lambda _exc: self.checkpoints_listed.emit([]),
            name="agent-checkpoints",
        )

    def undo_last(self, workspace: str | Path) -> bool:
        return self._restore(workspace, lambda checkpoints: checkpoints.undo_last())

    def restore(self, workspace: str | Path, checkpoint_id: str) -> bool:
        return self._restore(workspace, lambda checkpoints: checkpoints.restore(checkpoint_id))

    def _restore(self, workspace: str | Path, restore: Callable[[UndoPoints], Undone]) -> bool:
        if self.running or self._busy_with_undo:
            return False
        self._busy_with_undo = True

        def work() -> tuple[Undone | None, str, list[UndoPoint]]:
            try:
                restored, error = restore(UndoPoints(workspace, self.data_dir)), ""
            except Exception as exc:  # noqa: BLE001 - undo's message goes to the person
                log.warning("an undo failed", exc_info=exc)
                restored, error = None, undo_failure(exc)
            try:
                listed = UndoPoints(workspace, self.data_dir).list()
            except Exception:  # noqa: BLE001 - the failure itself is reported above
                listed = []
            return restored, error, listed

        self._tasks.run_in_background(work, on_done=self._restored, name="agent-undo")
        return True

    def _restored(self, outcome: tuple[Undone | None, str, list[UndoPoint]]) -> None:
        restored, error, listed = outcome
        if restored is not None:
            self.checkpoint_restored.emit(restored)
        else:
            self.undo_failed.emit(error)
        self._busy_with_undo = False
        self.checkpoints_listed.emit(listed)
