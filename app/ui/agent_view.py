"""The coding agent's mode view: a folder, a task, and the run's steps as they happen.

Top: the workspace (name and full path, Open Folder…), the approval mode, the run's state, its
limits as they are used ("Step 3 of 30 · 0:42 of 30:00"), Stop, and undo (the last step, or any
checkpoint from a menu, each after a confirmation). Middle: the task, then one `AgentStepWidget`
per step, notes (context shortened, undo done), and a banner that says plainly why the run ended.
Bottom: a `Composer` as the task box; images dropped in go with the task as content items.

Every run goes through `AgentController`, so nothing here waits on the model, a command or git.
The folder, the mode and the limits are kept in `Settings`.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.agent import (
    AgentEvent,
    ApprovalMode,
    ApprovalNeeded,
    Checkpoint,
    CheckpointMade,
    CommandOutput,
    ContextShortened,
    Decision,
    Finished,
    Limits,
    ModelReplied,
    Observation,
    StepStarted,
    StopReason,
    ToolCallProposed,
)
from app.settings import Key, Settings
from app.store import Store
from app.ui.agent_call_widget import AgentCallWidget
from app.ui.agent_controller import AgentController
from app.ui.agent_step_widget import AgentStepWidget
from app.ui.agent_theme import agent_style_sheet
from app.ui.attachment_intake import import_files, import_image
from app.ui.composer import Composer
from app.ui.markdown import plain_to_html

MAX_COLUMN_WIDTH = 860
MODES = [(ApprovalMode.ASK, "Ask every time"), (ApprovalMode.AUTO_EDITS, "Auto-approve edits"),
         (ApprovalMode.FULL_AUTO, "Full auto")]
FINISH_TITLES = {
    StopReason.DONE: ("Finished", "done"),
    StopReason.STEP_LIMIT: ("Stopped at the step limit", "limit"),
    StopReason.TIME_LIMIT: ("Stopped at the time limit", "limit"),
    StopReason.REPEATED_CALL: ("Stopped: the model repeated the same call", "limit"),
    StopReason.FORMAT_ERRORS: ("Stopped: the model's tool calls could not be read", "limit"),
    StopReason.CONTEXT_FULL: ("Stopped: the conversation no longer fits", "limit"),
    StopReason.STOPPED: ("Stopped by you", "stopped"),
    StopReason.ERROR: ("The run failed", "error"),
}


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class AgentView(QWidget):
    def __init__(self, settings: Settings, store: Store, controller: AgentController,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AgentArea")
        self.settings, self.store, self.controller = settings, store, controller
        self.workspace: Path | None = None
        self.steps: dict[int, AgentStepWidget] = {}
        self.cards: dict[int, AgentCallWidget] = {}
        self.checkpoints: list[Checkpoint] = []
        self.finished: Finished | None = None
        self.confirm = self._confirm  # tests replace it
        self._max_steps = 0
        self._started_at = 0.0
        self._limit_s = 0.0
        self._waiting: set[int] = set()
        self._waited_s = 0.0  # the run's time limit does not count time spent waiting for you
        self._waiting_since = 0.0
        self._stick_to_bottom = True

        self._build_header()
        self._build_column()
        self.composer = Composer()
        self.composer.edit.setPlaceholderText(
            "Describe the task… drop a screenshot to show what is wrong   (Return starts)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.composer)

        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._update_limits)
        self.composer.send_requested.connect(self.start)
        self.composer.stop_requested.connect(self.stop)
        self.composer.files_offered.connect(self._attach_files)
        self.composer.image_pasted.connect(self._attach_image)
        controller.event_received.connect(self.show_event)
        controller.run_finished.connect(self._run_ended)
        controller.checkpoints_listed.connect(self._set_checkpoints)
        controller.checkpoint_restored.connect(self._restored)
        controller.undo_failed.connect(lambda msg: self._note(f"Undo failed: {msg}", error=True))
        self.setStyleSheet(agent_style_sheet(self.palette()))
        last = settings.value(Key.AGENT_WORKSPACE)
        if last and Path(last).is_dir():
            self.set_workspace(last)
        self._set_state("idle")

    # ------------------------------------------------------------ building

    def _build_header(self) -> None:
        self.header = QFrame()
        self.header.setObjectName("AgentHeader")
        icon = QLabel()
        icon.setObjectName("WorkspaceIcon")
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon).pixmap(28, 28))
        self.workspace_name = QLabel("No folder open")
        self.workspace_name.setObjectName("WorkspaceName")
        self.workspace_path = QLabel("Open a folder for the agent to work in")
        self.workspace_path.setObjectName("WorkspacePath")
        self.workspace_path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for label in (self.workspace_name, self.workspace_path):
            label.setMinimumWidth(60)  # a long path is cut, not the window widened
        names = QVBoxLayout()
        names.setSpacing(0)
        names.addWidget(self.workspace_name)
        names.addWidget(self.workspace_path)
        self.open_button = QPushButton("Open Folder…")
        self.open_button.clicked.connect(self.choose_workspace)
        self.mode_box = QComboBox()
        self.mode_box.setToolTip("What the agent may do without asking. Reading is always free.")
        for mode, title in MODES:
            self.mode_box.addItem(title, mode.value)
        saved = self.settings.value(Key.AGENT_APPROVAL_MODE)
        self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(saved)))
        self.mode_box.currentIndexChanged.connect(
            lambda: self.settings.set_value(Key.AGENT_APPROVAL_MODE, self.mode_box.currentData()))
        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(icon)
        top.addLayout(names, 1)
        top.addWidget(self.mode_box)
        top.addWidget(self.open_button)

        self.state_label = QLabel()
        self.state_label.setObjectName("RunState")
        self.limits_label = QLabel()
        self.limits_label.setObjectName("LimitsLabel")
        self.limits_label.setMinimumWidth(40)
        self.limits_label.setToolTip("Steps used and the run's working time; time spent waiting "
                                     "for your answer does not count.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("StopButton")
        self.stop_button.setToolTip("Stop the run: the reply is cut short and a command is killed")
        self.stop_button.clicked.connect(self.stop)
        self.undo_button = QPushButton("Undo Last Step")
        self.undo_button.setToolTip("Put the files back as they were before the agent's last step")
        self.undo_button.clicked.connect(self.undo_last)
        self.checkpoint_button = QToolButton()
        self.checkpoint_button.setText("Checkpoints ▾")
        self.checkpoint_button.setToolTip("Go back to the files as they were at any checkpoint")
        self.checkpoint_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.checkpoint_menu = QMenu(self.checkpoint_button)
        self.checkpoint_button.setMenu(self.checkpoint_menu)
        run_row = QHBoxLayout()
        run_row.setSpacing(8)
        run_row.addWidget(self.state_label)
        run_row.addWidget(self.limits_label)
        run_row.addStretch(1)
        run_row.addWidget(self.stop_button)
        run_row.addWidget(self.undo_button)
        run_row.addWidget(self.checkpoint_button)
        layout = QVBoxLayout(self.header)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addLayout(run_row)

    def _build_column(self) -> None:
        self.scroll = QScrollArea()
        self.scroll.setObjectName("AgentScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        container = QWidget()
        container.setObjectName("AgentColumn")
        outer = QVBoxLayout(container)
        outer.setContentsMargins(24, 16, 24, 16)
        self.column = QWidget()
        self.column.setObjectName("AgentColumn")
        self._layout = QVBoxLayout(self.column)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(12)
        self._layout.addStretch(1)
        outer.addWidget(self.column, 0, Qt.AlignmentFlag.AlignHCenter)
        self.scroll.setWidget(container)
        self.empty_state = QLabel("Open a folder, then say what to do there.\n"
                                  "Reading is free; edits and commands ask first, and every step "
                                  "can be undone.", self.scroll.viewport())
        self.empty_state.setObjectName("EmptyAgent")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setWordWrap(True)
        self.empty_state.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        bar = self.scroll.verticalScrollBar()
        bar.rangeChanged.connect(self._follow)
        bar.valueChanged.connect(lambda v: setattr(self, "_stick_to_bottom", v >= bar.maximum() - 24))

    # ------------------------------------------------------------ workspace

    def choose_workspace(self) -> None:
        start = str(self.workspace or Path.home())
        path = QFileDialog.getExistingDirectory(self, "Choose the folder to work in", start)
        if path:
            self.set_workspace(path)

    def set_workspace(self, path: str | Path) -> None:
        self.workspace = Path(path).expanduser().resolve()
        self.settings.set_value(Key.AGENT_WORKSPACE, str(self.workspace))
        self.workspace_name.setText(self.workspace.name or str(self.workspace))
        home = Path.home()
        shown = ("~/" + str(self.workspace.relative_to(home))) if self.workspace.is_relative_to(home) \
            else str(self.workspace)
        self.workspace_path.setText(shown)
        self.workspace_path.setToolTip(str(self.workspace))
        self.checkpoints = []
        self.controller.list_checkpoints(self.workspace)
        self._update_buttons()

    # ------------------------------------------------------------ the run

    @property
    def mode(self) -> ApprovalMode:
        return ApprovalMode(self.mode_box.currentData())

    def limits(self) -> Limits:
        return Limits(max_steps=max(1, self.settings.value(Key.AGENT_MAX_STEPS)),
                      max_wall_s=60.0 * max(1, self.settings.value(Key.AGENT_MAX_MINUTES)))

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
        if not self.controller.start(self.workspace, task, self.mode, limits):
            self.composer.show_error("A run or an undo is still going.")
            return False
        self._clear_column()
        self._add_task(text, [a.filename for a in attachments])
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
            self._add(step)
            self._update_limits()
        elif isinstance(event, ModelReplied):
            if event.step in self.steps:
                self.steps[event.step].set_reply(event.text, event.thinking)
        elif isinstance(event, ToolCallProposed):
            step = self.steps.get(event.step)
            if step is not None:
                self.cards[event.call_id] = step.add_call(event.call_id, event.name, event.arguments)
        elif isinstance(event, ApprovalNeeded):
            card = self.cards.get(event.call_id)
            if card is not None:
                card.show_approval(event)
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
        elif isinstance(event, CheckpointMade):
            if event.step in self.steps:
                self.steps[event.step].mark_checkpoint(event.checkpoint_id)
        elif isinstance(event, ContextShortened):
            self._note(f"Older tool results were shortened to fit the context "
                       f"({event.tokens_before:,} → {event.tokens_after:,} tokens).")
        elif isinstance(event, Finished):
            self._show_finish(event)

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
        if self.confirm("Undo the last step?",
                        f"The files in {self.workspace.name} go back to “{target.label}”. "
                        "Changes made since then, by the agent or by you, are lost."):
            self.controller.undo_last(self.workspace)
            self._update_buttons(busy=True)

    def restore(self, checkpoint: Checkpoint) -> None:
        if self.workspace is None:
            return
        when = datetime.fromtimestamp(checkpoint.timestamp).strftime("%H:%M:%S")
        if self.confirm("Go back to this checkpoint?",
                        f"The files in {self.workspace.name} go back to “{checkpoint.label}” "
                        f"({when}). Changes made since then, by the agent or by you, are lost, "
                        "and so are the later checkpoints."):
            self.controller.restore(self.workspace, checkpoint.id)
            self._update_buttons(busy=True)

    def _restored(self, checkpoint: Checkpoint) -> None:
        self._note(f"↩ The files are back as they were at “{checkpoint.label}” "
                   f"(checkpoint {checkpoint.id[:7]}).")

    def _set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        self.checkpoints = list(checkpoints)
        self.checkpoint_menu.clear()
        for i, cp in enumerate(self.checkpoints):
            when = datetime.fromtimestamp(cp.timestamp).strftime("%b %d, %H:%M:%S")
            action = self.checkpoint_menu.addAction(
                f"{cp.label}  —  {when}" + ("  (now)" if i == 0 else ""))
            action.setEnabled(i > 0)
            action.triggered.connect(lambda _=False, cp=cp: self.restore(cp))
        self._update_buttons()

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text,
                                      QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Yes,
                                      QMessageBox.StandardButton.Cancel)
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

    # ------------------------------------------------------------ the column

    def _clear_column(self) -> None:
        while self._layout.count() > 1:
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.steps.clear()
        self.cards.clear()
        self.empty_state.setVisible(False)

    def _add(self, widget: QWidget) -> None:
        self._layout.insertWidget(self._layout.count() - 1, widget)
        widget.show()  # at once; a layout would only show it on the next event loop turn
        self.empty_state.setVisible(False)
        self._stick_to_bottom = True

    def _add_task(self, text: str, files: list[str]) -> None:
        task = QFrame()
        task.setObjectName("AgentTask")
        title = QLabel("TASK")
        title.setObjectName("AgentTaskTitle")
        body = QLabel(plain_to_html(text) if text else "<i>(the attached files)</i>")
        body.setWordWrap(True)
        body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(task)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(3)
        layout.addWidget(title)
        layout.addWidget(body)
        if files:
            layout.addWidget(QLabel("📎 " + ", ".join(files)))
        self.task_label = body
        self._add(task)

    def _note(self, text: str, error: bool = False) -> QLabel:
        label = QLabel(text)
        label.setObjectName("CallError" if error else "AgentNote")
        label.setWordWrap(True)
        self._add(label)
        self._update_buttons()
        return label

    def _show_finish(self, finished: Finished) -> None:
        title, tone = FINISH_TITLES.get(finished.reason, (finished.reason.value, "error"))
        banner = QFrame()
        banner.setObjectName("FinishBanner")
        banner.setProperty("tone", tone)
        self.finish_title = QLabel(title)
        self.finish_title.setObjectName("FinishTitle")
        used = _clock(self._run_time()) if self._started_at else ""
        steps = f"{finished.steps} step{'s' if finished.steps != 1 else ''}"
        self.finish_detail = detail = QLabel(f"{finished.message}  ·  {steps}" + (f" in {used}" if used else ""))
        detail.setObjectName("FinishDetail")
        detail.setWordWrap(True)
        detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(banner)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        layout.addWidget(self.finish_title)
        layout.addWidget(detail)
        self.finish_banner = banner
        self._add(banner)

    def _follow(self, _min: int, _max: int) -> None:
        if self._stick_to_bottom:
            bar = self.scroll.verticalScrollBar()
            QTimer.singleShot(0, self, lambda: bar.setValue(bar.maximum()))

    # ------------------------------------------------------------ state

    def _set_state(self, state: str) -> None:
        texts = {"idle": "Ready" if self.workspace else "No folder", "running": "Running",
                 "waiting": "Waiting for you", "stopping": "Stopping…"}
        self.state_label.setText(texts[state])
        self.state_label.setProperty("state", state)
        self.state_label.style().unpolish(self.state_label)
        self.state_label.style().polish(self.state_label)
        self.composer.set_generating(state != "idle")
        self._update_limits()
        self._update_buttons()

    def _update_limits(self) -> None:
        if not self._max_steps:
            self.limits_label.setText("")
            return
        step = max(self.steps, default=0)
        elapsed = self._run_time() if self.controller.running else None
        text = f"Step {step} of {self._max_steps}"
        if elapsed is not None:
            text += f"  ·  {_clock(elapsed)} of {_clock(self._limit_s)}"
        self.limits_label.setText(text)

    def _run_time(self) -> float:
        """Seconds the run has worked, as its time limit counts them (waiting for you left out)."""
        now = time.monotonic()
        waiting = (now - self._waiting_since) if self._waiting else 0.0
        return max(0.0, now - self._started_at - self._waited_s - waiting)

    def _update_buttons(self, busy: bool = False) -> None:
        running = self.controller.running
        self.stop_button.setVisible(running)
        idle = not running and not busy and self.workspace is not None
        self.undo_button.setEnabled(idle and len(self.checkpoints) >= 2)
        self.checkpoint_button.setEnabled(idle and len(self.checkpoints) >= 2)
        self.open_button.setEnabled(not running)
        self.mode_box.setEnabled(not running)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.column.setFixedWidth(min(MAX_COLUMN_WIDTH, max(240, self.scroll.viewport().width() - 48)))
        self.empty_state.setGeometry(self.scroll.viewport().rect().adjusted(40, 0, -40, 0))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            sheet = agent_style_sheet(self.palette())
            if sheet != self.styleSheet():  # setting a sheet changes the palette again
                self.setStyleSheet(sheet)
        super().changeEvent(event)
