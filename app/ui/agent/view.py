"""The coding agent's mode view: a folder, a task, and the run's steps as they happen.

Top, an `AgentHeader`: the workspace (Open Folder…), the approval mode, the run's state, its
limits as they are used ("Step 3 of 30 · 0:42 of 30:00"), Stop, and undo (the last step, or any
checkpoint from a menu, each after a confirmation that says what undo keeps). Middle, an
`AgentTimeline`: the task, one `AgentStepWidget` per step, notes, and a banner that says plainly
why the run ended and what it did. Bottom, a `Composer` as the task box: Return starts, its button
stops; images and screen recordings dropped in go with the task as content items ("why does this
screen look wrong?").

Agent runs are conversations: each is stored when it starts and recorded as it goes
(`RunHistory`), so it is listed beside the chats and can be opened again, after a restart too, with
its diffs, results, answers and undo points (`open_run`). Two timelines share the middle: the live
one (the run going now, or the last one started here) and one for a stored run opened again.
`run_shown(id)` says which run is shown ("" for none); `runs_changed` that the list changed.

Every run, approval and undo goes through `AgentController`, so nothing here waits on the model,
a command or the undo store. The folder and the mode are kept in `Settings`; so are the limits.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QStackedWidget, QVBoxLayout, QWidget

from app.agent import (
    AgentEvent,
    ApprovalMode,
    ApprovalNeeded,
    Decision,
    Finished,
    Limits,
    ModelReplied,
    StepStarted,
    UndoPoint,
)
from app.store import Store
from app.ui.agent.call_widget import AgentCallWidget
from app.ui.agent.controller import AgentController
from app.ui.agent.header import AgentHeader, RunState
from app.ui.agent.run_history import RECORD_FAILED, RunHistory, RunNotSaved
from app.ui.agent.step_widget import AgentStepWidget
from app.ui.agent.style import agent_style_sheet
from app.ui.agent.timeline import AgentTimeline, empty_text
from app.ui.agent.undo_actions import AgentUndo
from app.ui.chat.attachment_intake import import_files, import_image
from app.ui.chat.composer import Composer
from app.ui.settings import Key, Settings



def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class AgentView(QWidget):
    run_shown = Signal(str)  # the conversation id of the run shown now, "" for none
    runs_changed = Signal()  # a run was stored, or its place in the list changed

    def __init__(
        self,
        settings: Settings,
        store: Store,
        controller: AgentController,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("AgentArea")
        self.settings, self.store, self.controller = settings, store, controller
        self.history = RunHistory(store)
        self.workspace: Path | None = None
        self.finished: Finished | None = None  # how the live run ended
        self.shown_id = ""  # the stored run shown, "" for the empty live timeline
        self._max_steps = 0
        self._started_at = self._limit_s = 0.0
        self._waiting: set[int] = set()
        self._waited_s = 0.0  # the run's time limit does not count time spent waiting for you
        self._waiting_since = 0.0
        self._live = {"text": "", "thinking": ""}  # the reply being written, before ModelReplied

        self.header = AgentHeader()
        self.header.set_mode(settings.value(Key.AGENT_APPROVAL_MODE))
        self.live_timeline = AgentTimeline()
        self.stored_timeline = AgentTimeline()
        self.timelines = QStackedWidget()
        self.timelines.addWidget(self.live_timeline)
        self.timelines.addWidget(self.stored_timeline)
        self.composer = Composer()
        self.composer.edit.setPlaceholderText(
            "Describe the task… drop a screenshot or a screen recording to show what is wrong"
            "   (Return starts)"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.timelines, 1)
        layout.addWidget(self.composer)
        self.undo = AgentUndo(controller, self)

        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._update_limits)
        self.header.open_requested.connect(self.choose_workspace)
        self.header.stop_requested.connect(self.stop)
        self.header.undo_requested.connect(lambda: self.undo.undo_last(self.workspace))
        self.header.restore_requested.connect(lambda p: self.undo.restore(self.workspace, p))
        self.undo.note_added.connect(lambda text, error: self.timeline.add_note(text, error))
        self.undo.changed.connect(self._checkpoints_changed)
        self.header.mode_box.currentIndexChanged.connect(self._mode_changed)
        self.live_timeline.decided.connect(self.decide)
        self.composer.send_requested.connect(self.start)
        self.composer.stop_requested.connect(self.stop)
        self.composer.files_offered.connect(self._attach_files)
        self.composer.image_pasted.connect(self._attach_image)
        controller.event_received.connect(self.show_event)
        controller.run_finished.connect(self._run_ended)
        self.setStyleSheet(agent_style_sheet(self.palette()))
        last = settings.value(Key.AGENT_WORKSPACE)
        if last and Path(last).is_dir():
            self.set_workspace(last)
        self._set_state(RunState.IDLE)
        self._update_empty_text()

    # The timeline shown now (the live run's, or a stored run's), and its steps and cards.
    @property
    def timeline(self) -> AgentTimeline:
        return self.timelines.currentWidget()

    @property
    def steps(self) -> dict[int, AgentStepWidget]:
        return self.timeline.steps

    @property
    def cards(self) -> dict[int, AgentCallWidget]:
        return self.timeline.cards

    @property
    def checkpoints(self) -> list[UndoPoint]:
        """The workspace's checkpoints, newest first (the first is the files as they are now)."""
        return self.undo.checkpoints

    # ------------------------------------------------------------ workspace

    def choose_workspace(self) -> None:
        start = str(self.workspace or Path.home())
        path = QFileDialog.getExistingDirectory(self, "Choose the folder to work in", start)
        if path:
            self.set_workspace(path)

    def set_workspace(self, path: str | Path) -> None:
        self.workspace = Path(path).expanduser().resolve()
        self.settings.set_value(Key.AGENT_WORKSPACE, str(self.workspace))
        self.header.show_workspace(self.workspace)
        self.undo.refresh(self.workspace)  # earlier runs can still be undone
        self._set_state(RunState.RUNNING if self.controller.running else RunState.IDLE)
        self._update_empty_text()

    def _mode_changed(self) -> None:
        self.settings.set_value(Key.AGENT_APPROVAL_MODE, self.header.mode.value)
        self._update_empty_text()

    def _update_empty_text(self) -> None:
        self.live_timeline.show_empty(empty_text(self.workspace, self.mode))

    # ------------------------------------------------------------ the run

    @property
    def mode(self) -> ApprovalMode:
        return self.header.mode

    def limits(self) -> Limits:
        return Limits(
            max_steps=max(1, self.settings.value(Key.AGENT_MAX_STEPS)),
            max_wall_s=60.0 * max(1, self.settings.value(Key.AGENT_MAX_MINUTES)),
        )

    def start(self, text: str = "") -> bool:
        """Start the task in the composer; False with a reason shown when it cannot start."""
        text = (text or self.composer.text).strip()
        attachments = self.composer.attachments
        if self.workspace is None or not self.workspace.is_dir():
            self.composer.show_error("Open a folder first: the agent works inside it.")
            return False
        if not (text or attachments):
            return False
        if self.undo.busy or self.controller.running:
            self.composer.show_error("A run or an undo is still going.")
            return False
        task: str | list[dict] = text
        if attachments:
            task = [{"type": a.kind, a.kind: str(a.path)} for a in attachments]
            if text:
                task.append({"type": "text", "text": text})
        try:
            run_id = self.history.begin(text, attachments, str(self.workspace), self.mode.value)
        except RunNotSaved as exc:
            self.composer.show_error(str(exc))
            return False
        limits = self.limits()
        if not self.controller.start(self.workspace, task, self.mode, limits):
            self.history.abandon()
            self.composer.show_error("A run or an undo is still going.")
            return False
        self.live_timeline.clear()
        self._live = {"text": "", "thinking": ""}
        self.live_timeline.add_task(text, [a.filename for a in attachments])
        self.timelines.setCurrentWidget(self.live_timeline)
        self.composer.clear()
        self._max_steps, self._started_at = limits.max_steps, time.monotonic()
        self._limit_s = limits.max_wall_s
        self._waited_s = self._waiting_since = 0.0
        self.finished = None
        self.clock.start()
        self._set_state(RunState.RUNNING)
        self._show_run(run_id)
        self.runs_changed.emit()
        return True

    def stop(self) -> None:
        if self.controller.running:
            self.controller.stop()
            self._set_state(RunState.STOPPING)

    def show_event(self, event: AgentEvent) -> None:
        """Show and record one event of the run (delivered on the GUI thread by the controller)."""
        used = _clock(self._run_time()) if self._started_at else ""
        extra = {"used": used} if isinstance(event, Finished) else {}
        if not self.history.record(event, **extra):
            self.live_timeline.add_note(RECORD_FAILED, error=True)
        if self.history.run_id is None:
            return  # the run was deleted from the list: it ends without being shown
        if isinstance(event, Finished):
            self.live_timeline.add_finish(event, used)
            return
        self.live_timeline.show_event(event)
        if isinstance(event, StepStarted):
            self._max_steps = event.max_steps
            if any(self._live.values()):  # the first words came before the step did
                self.live_timeline.steps[event.step].show_live(
                    self._live["text"], self._live["thinking"]
                )
            self._update_limits()
        elif isinstance(event, ModelReplied):
            self._live = {"text": "", "thinking": ""}
        elif isinstance(event, ApprovalNeeded) and event.call_id in self.live_timeline.cards:
            if not self._waiting:
                self._waiting_since = time.monotonic()
            self._waiting.add(event.call_id)
            self._set_state(RunState.WAITING)
            QApplication.alert(self.window())  # the Dock icon bounces when the app is behind

    def show_partial(self, text: str, channel: str) -> None:
        """A piece of the reply the model is writing now (EngineModelSource.text_streamed)."""
        if not self.controller.running:
            return
        self._live[channel if channel == "thinking" else "text"] += text
        steps = self.live_timeline.steps
        step = steps.get(max(steps, default=0))
        if step is not None and not step.replied:
            step.show_live(self._live["text"], self._live["thinking"])

    def decide(self, call_id: int, decision: Decision) -> None:
        if call_id in self._waiting:
            self._waiting.discard(call_id)
            if not self._waiting:
                self._waited_s += time.monotonic() - self._waiting_since
        self.history.decided(call_id, decision)
        self.controller.decide(call_id, decision)
        if self.controller.running and not self._waiting:
            self._set_state(RunState.RUNNING)

    def _run_ended(self, finished: Finished) -> None:
        self.finished = finished
        self.history.end()
        self.clock.stop()
        self._waiting.clear()
        self.live_timeline.end()
        self._set_state(RunState.IDLE)
        if self.workspace is not None:
            self.controller.list_checkpoints(self.workspace)  # the run's own checkpoints
        self.runs_changed.emit()

    # ------------------------------------------------------------ runs kept as conversations

    def open_run(self, conversation_id: str) -> bool:
        """Show a stored run; False when `conversation_id` is not an agent run."""
        if conversation_id == self.history.run_id:
            self.timelines.setCurrentWidget(self.live_timeline)
            self._show_run(conversation_id)
            return True
        stored = self.history.load(conversation_id)
        if stored is None:
            return False
        self.stored_timeline.replay(stored.task, stored.files, stored.records)
        self.timelines.setCurrentWidget(self.stored_timeline)
        folder = Path(stored.info.workspace)
        if not folder.is_dir():
            self.stored_timeline.add_note(
                f"The folder this run worked in ({folder}) is no longer there, so its "
                "checkpoints cannot be used."
            )
        elif not (self.controller.running or self.undo.busy) and folder != self.workspace:
            self.set_workspace(folder)  # its checkpoints in the header
        self._show_run(conversation_id)
        return True

    def forget_run(self, conversation_id: str) -> None:
        """The run was deleted from the list: a live one is stopped, a shown one goes."""
        if self.history.forget(conversation_id):
            if self.controller.running:
                self.controller.stop()
            self.live_timeline.clear()
        if conversation_id == self.shown_id:
            self.stored_timeline.clear()
            self.timelines.setCurrentWidget(self.live_timeline)
            self._show_run(self.history.run_id or "")

    def _show_run(self, conversation_id: str) -> None:
        self.shown_id = conversation_id
        self.run_shown.emit(conversation_id)

    # ------------------------------------------------------------ attachments

    def _attach_files(self, paths: list[str]) -> None:
        accepted, errors = import_files(self.store, paths)
        for attachment in accepted:
            self.composer.add_attachment(attachment).set_ready()
        if errors:
            self.composer.show_error("\n".join(errors))

    def _attach_image(self, image: QImage) -> None:
        try:
            self.composer.add_attachment(import_image(self.store, image)).set_ready()
        except (ValueError, OSError) as exc:
            self.composer.show_error(str(exc))

    # ------------------------------------------------------------ state

    def _set_state(self, state: RunState) -> None:
        if state is RunState.IDLE and self.workspace is None:
            state = RunState.NO_FOLDER
        self.header.show_state(state)
        self.composer.set_generating(state not in (RunState.IDLE, RunState.NO_FOLDER))
        self._update_limits()
        self._update_buttons()

    def _update_limits(self) -> None:
        if not self._max_steps:
            self.header.limits_label.setText("")
            return
        text = f"Step {max(self.live_timeline.steps, default=0)} of {self._max_steps}"
        if self.controller.running:
            text += f"  ·  {_clock(self._run_time())} of {_clock(self._limit_s)}"
        self.header.limits_label.setText(text)

    def _run_time(self) -> float:
        """Seconds the run has worked, as its time limit counts them (waiting for you left out)."""
        now = time.monotonic()
        waiting = (now - self._waiting_since) if self._waiting else 0.0
        return max(0.0, now - self._started_at - self._waited_s - waiting)

    def _checkpoints_changed(self) -> None:
        self.header.show_checkpoints(self.undo.checkpoints)
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.controller.running
        can_undo = not running and self.workspace is not None and self.undo.can_undo
        self.header.enable(running, can_undo)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            sheet = agent_style_sheet(self.palette())
            if sheet != self.styleSheet():  # setting a sheet changes the palette again
                self.setStyleSheet(sheet)
        super().changeEvent(event)
