"""The coding agent's mode view: a folder, a task, and the run's steps as they happen.

Top, an `AgentHeader`: the workspace (Open Folder…), the approval mode, the run's state, its
limits as they are used ("Step 3 of 30 · 0:42 of 30:00"), Stop, and undo (the last step, or any
checkpoint from a menu, each after a confirmation). Middle, an `AgentTimeline`: the task, one
`AgentStepWidget` per step, notes, and a banner that says plainly why the run ended. Bottom, a
`Composer` as the task box: Return starts, its button stops; images dropped in go with the task
as content items ("why does this screen look wrong?").

Every run, approval and undo goes through `AgentController`, so nothing here waits on the model,
a command or git. The folder and the mode are kept in `Settings`; so are the step and time limits.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QVBoxLayout, QWidget

from app.agent import (
    AgentEvent,
    ApprovalMode,
    ApprovalNeeded,
    CommandOutput,
    ContextShortened,
    Decision,
    Finished,
    Limits,
    ModelReplied,
    Observation,
    StepStarted,
    ToolCallProposed,
    Undone,
    UndoPoint,
    UndoPointMade,
)
from app.store import Store
from app.ui.agent.call_widget import AgentCallWidget
from app.ui.agent.controller import AgentController
from app.ui.agent.header import AgentHeader
from app.ui.agent.step_widget import AgentStepWidget
from app.ui.agent.style import agent_style_sheet
from app.ui.agent.timeline import AgentTimeline
from app.ui.chat.attachment_intake import import_files, import_image
from app.ui.chat.composer import Composer
from app.ui.settings import Key, Settings


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class AgentView(QWidget):
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
        self.workspace: Path | None = None
        self.steps: dict[int, AgentStepWidget] = {}
        self.cards: dict[int, AgentCallWidget] = {}
        self.checkpoints: list[UndoPoint] = []
        self.finished: Finished | None = None
        self.confirm = self._confirm  # tests replace it
        self._max_steps = 0
        self._started_at = self._limit_s = 0.0
        self._waiting: set[int] = set()
        self._waited_s = 0.0  # the run's time limit does not count time spent waiting for you
        self._waiting_since = 0.0
        self._undo_busy = False
        self._live = {"text": "", "thinking": ""}  # the reply being written, before ModelReplied

        self.header = AgentHeader()
        self.header.set_mode(settings.value(Key.AGENT_APPROVAL_MODE))
        self.timeline = AgentTimeline()
        self.composer = Composer()
        self.composer.edit.setPlaceholderText(
            "Describe the task… drop a screenshot to show what is wrong   (Return starts)"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.timeline, 1)
        layout.addWidget(self.composer)

        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._update_limits)
        self.header.open_requested.connect(self.choose_workspace)
        self.header.stop_requested.connect(self.stop)
        self.header.undo_requested.connect(self.undo_last)
        self.header.restore_requested.connect(self.restore)
        self.header.mode_box.currentIndexChanged.connect(
            lambda: settings.set_value(Key.AGENT_APPROVAL_MODE, self.header.mode.value)
        )
        self.composer.send_requested.connect(self.start)
        self.composer.stop_requested.connect(self.stop)
        self.composer.files_offered.connect(self._attach_files)
        self.composer.image_pasted.connect(self._attach_image)
        controller.event_received.connect(self.show_event)
        controller.run_finished.connect(self._run_ended)
        controller.checkpoints_listed.connect(self._set_checkpoints)
        controller.checkpoint_restored.connect(self._restored)
        controller.undo_failed.connect(
            lambda msg: self.timeline.add_note(f"Undo failed: {msg}", error=True)
        )
        self.setStyleSheet(agent_style_sheet(self.palette()))
        last = settings.value(Key.AGENT_WORKSPACE)
        if last and Path(last).is_dir():
            self.set_workspace(last)
        self._set_state("idle")

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
        self.checkpoints = []
        self.header.show_checkpoints([])
        self.controller.list_checkpoints(self.workspace)  # earlier runs can still be undone
        self._set_state("running" if self.controller.running else "idle")

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
        task: str | list[dict] = text
        if attachments:
            task = [{"type": a.kind, a.kind: str(a.path)} for a in attachments]
            if text:
                task.append({"type": "text", "text": text})
        limits = self.limits()
        if self._undo_busy or not self.controller.start(self.workspace, task, self.mode, limits):
            self.composer.show_error("A run or an undo is still going.")
            return False
        self.timeline.clear()
        self._live = {"text": "", "thinking": ""}
        self.steps.clear()
        self.cards.clear()
        self.timeline.add_task(text, [a.filename for a in attachments])
        self.composer.clear()
        self._max_steps, self._started_at = limits.max_steps, time.monotonic()
        self._limit_s = limits.max_wall_s
        self._waited_s = self._waiting_since = 0.0
        self.finished = None
        self.clock.start()
        self._set_state("running")
        return True

    def stop(self) -> None:
        if self.controller.running:
            self.controller.stop()
            self._set_state("stopping")

    def show_event(self, event: AgentEvent) -> None:
        """Show one event of the run (delivered on the GUI thread by the controller)."""
        if isinstance(event, StepStarted):
            self._max_steps = event.max_steps
            step = AgentStepWidget(event.step, event.max_steps)
            step.decided.connect(self.decide)
            self.steps[event.step] = step
            self.timeline.add(step)
            if any(self._live.values()):  # the first words came before the step did
                step.show_live(self._live["text"], self._live["thinking"])
            self._update_limits()
        elif isinstance(event, ModelReplied):
            self._live = {"text": "", "thinking": ""}
            if event.step in self.steps:
                self.steps[event.step].set_reply(event.text, event.thinking)
        elif isinstance(event, ToolCallProposed):
            if event.step in self.steps:
                self.cards[event.call_id] = self.steps[event.step].add_call(
                    event.call_id, event.name, event.arguments
                )
        elif isinstance(event, ApprovalNeeded):
            if event.call_id in self.cards:
                self.cards[event.call_id].show_approval(event)
                if not self._waiting:
                    self._waiting_since = time.monotonic()
                self._waiting.add(event.call_id)
                self._set_state("waiting")
                QApplication.alert(self.window())  # the Dock icon bounces when the app is behind
        elif isinstance(event, CommandOutput):
            if event.call_id in self.cards:
                self.cards[event.call_id].append_output(event.chunk)
        elif isinstance(event, Observation):
            if event.call_id in self.cards:
                self.cards[event.call_id].set_observation(event)
        elif isinstance(event, UndoPointMade):
            if event.step in self.steps:
                self.steps[event.step].mark_checkpoint(event.point_id)
        elif isinstance(event, ContextShortened):
            self.timeline.add_note(
                f"Older tool results were shortened to fit the context "
                f"({event.tokens_before:,} → {event.tokens_after:,} tokens)."
            )
        elif isinstance(event, Finished):
            self.timeline.add_finish(event, _clock(self._run_time()) if self._started_at else "")

    def show_partial(self, text: str, channel: str) -> None:
        """A piece of the reply the model is writing now (EngineModelSource.text_streamed)."""
        if not self.controller.running:
            return
        self._live[channel if channel == "thinking" else "text"] += text
        step = self.steps.get(max(self.steps, default=0))
        if step is not None and not step.replied:
            step.show_live(self._live["text"], self._live["thinking"])

    def decide(self, call_id: int, decision: Decision) -> None:
        if call_id in self._waiting:
            self._waiting.discard(call_id)
            if not self._waiting:
                self._waited_s += time.monotonic() - self._waiting_since
        self.controller.decide(call_id, decision)
        if self.controller.running and not self._waiting:
            self._set_state("running")

    def _run_ended(self, finished: Finished) -> None:
        self.finished = finished
        self.clock.stop()
        self._waiting.clear()
        for step in self.steps.values():
            step.end()
        self._set_state("idle")
        if self.workspace is not None:
            self.controller.list_checkpoints(self.workspace)

    # ------------------------------------------------------------ undo

    def undo_last(self) -> None:
        if self.workspace is None or len(self.checkpoints) < 2:
            return
        target = self.checkpoints[1]
        if self.confirm(
            "Undo the last step?",
            f"The files in {self.workspace.name} go back to “{target.label}”. "
            "Changes made since then, by the agent or by you, are lost.",
        ):
            self._undo(self.controller.undo_last(self.workspace))

    def restore(self, checkpoint: UndoPoint) -> None:
        if self.workspace is None:
            return
        when = datetime.fromtimestamp(checkpoint.timestamp).strftime("%H:%M:%S")
        if self.confirm(
            "Go back to this checkpoint?",
            f"The files in {self.workspace.name} go back to “{checkpoint.label}” "
            f"({when}). Changes made since then, by the agent or by you, are lost, "
            "and so are the later checkpoints.",
        ):
            self._undo(self.controller.restore(self.workspace, checkpoint.id))

    def _undo(self, accepted: bool) -> None:
        self._undo_busy = accepted
        self._update_buttons()

    def _restored(self, checkpoint: Undone) -> None:
        self.timeline.add_note(
            f"↩ The files are back as they were at “{checkpoint.label}” "
            f"(checkpoint {checkpoint.id[:7]})."
        )

    def _set_checkpoints(self, checkpoints: list[UndoPoint]) -> None:
        self.checkpoints = list(checkpoints)
        self._undo_busy = False  # a listing comes last after an undo
        self.header.show_checkpoints(self.checkpoints)
        self._update_buttons()

    def _confirm(self, title: str, text: str) -> bool:
        buttons = QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Yes
        answer = QMessageBox.question(self, title, text, buttons, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

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

    def _set_state(self, state: str) -> None:
        if state == "idle" and self.workspace is None:
            state = "no_folder"
        self.header.show_state(state)
        self.composer.set_generating(state not in ("idle", "no_folder"))
        self._update_limits()
        self._update_buttons()

    def _update_limits(self) -> None:
        if not self._max_steps:
            self.header.limits_label.setText("")
            return
        text = f"Step {max(self.steps, default=0)} of {self._max_steps}"
        if self.controller.running:
            text += f"  ·  {_clock(self._run_time())} of {_clock(self._limit_s)}"
        self.header.limits_label.setText(text)

    def _run_time(self) -> float:
        """Seconds the run has worked, as its time limit counts them (waiting for you left out)."""
        now = time.monotonic()
        waiting = (now - self._waiting_since) if self._waiting else 0.0
        return max(0.0, now - self._started_at - self._waited_s - waiting)

    def _update_buttons(self) -> None:
        running = self.controller.running
        can_undo = (
            not running
            and not self._undo_busy
            and self.workspace is not None
            and len(self.checkpoints) >= 2
        )
        self.header.enable(running, can_undo)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            sheet = agent_style_sheet(self.palette())
            if sheet != self.styleSheet():  # setting a sheet changes the palette again
                self.setStyleSheet(sheet)
        super().changeEvent(event)
