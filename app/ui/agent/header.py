"""The agent view's header: the workspace, the approval mode, the run's state and limits, Stop and undo.

It only displays and asks: the view decides. Buttons report with `open_requested`,
`stop_requested`, `undo_requested` and `restore_requested(UndoPoint)` (a checkpoint picked from
the Checkpoints menu); the view calls `show_workspace`, `show_state`, `show_checkpoints` and
`enable(...)` to keep it current.
"""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.agent import ApprovalMode, UndoPoint

MODES = [
    (ApprovalMode.ASK, "Ask every time"),
    (ApprovalMode.AUTO_EDITS, "Auto-approve edits"),
    (ApprovalMode.FULL_AUTO, "Full auto"),
]


class RunState(str, enum.Enum):
    """What the agent is doing; the value is the label's `state` property (the style sheet's)."""

    IDLE = "idle"
    NO_FOLDER = "no_folder"
    RUNNING = "running"
    WAITING = "waiting"
    STOPPING = "stopping"


STATES = {
    RunState.IDLE: "Ready",
    RunState.NO_FOLDER: "No folder",
    RunState.RUNNING: "Running",
    RunState.WAITING: "Waiting for you",
    RunState.STOPPING: "Stopping…",
}


class AgentHeader(QFrame):
    open_requested = Signal()
    stop_requested = Signal()
    undo_requested = Signal()
    restore_requested = Signal(object)  # UndoPoint

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AgentHeader")
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
        self.open_button.clicked.connect(self.open_requested)
        self.mode_box = QComboBox()
        self.mode_box.setToolTip("What the agent may do without asking. Reading is always free.")
        for mode, title in MODES:
            self.mode_box.addItem(title, mode.value)
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
        self.limits_label.setToolTip(
            "Steps used and the run's working time; time spent waiting "
            "for your answer does not count."
        )
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("StopButton")
        self.stop_button.setToolTip("Stop the run: the reply is cut short and a command is killed")
        self.stop_button.clicked.connect(self.stop_requested)
        self.undo_button = QPushButton("Undo Last Step")
        self.undo_button.setToolTip("Put the files back as they were before the agent's last step")
        self.undo_button.clicked.connect(self.undo_requested)
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addLayout(run_row)

    @property
    def mode(self) -> ApprovalMode:
        return ApprovalMode(self.mode_box.currentData())

    def set_mode(self, mode: str) -> None:
        self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(mode)))

    def show_workspace(self, path: Path) -> None:
        self.workspace_name.setText(path.name or str(path))
        home = Path.home()
        shown = f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)
        self.workspace_path.setText(shown)
        self.workspace_path.setToolTip(str(path))

    def show_state(self, state: RunState) -> None:
        self.state_label.setText(STATES[state])
        self.state_label.setProperty("state", state.value)
        self.state_label.style().unpolish(self.state_label)
        self.state_label.style().polish(self.state_label)

    def show_checkpoints(self, checkpoints: list[UndoPoint]) -> None:
        """Fill the menu, newest first; the newest is the files as they are now."""
        self.checkpoint_menu.clear()
        for i, cp in enumerate(checkpoints):
            when = datetime.fromtimestamp(cp.timestamp).strftime("%b %d, %H:%M:%S")
            action = self.checkpoint_menu.addAction(
                f"{cp.label}  —  {when}" + ("  (now)" if i == 0 else "")
            )
            action.setEnabled(i > 0)
            action.triggered.connect(lambda _=False, cp=cp: self.restore_requested.emit(cp))

    def enable(self, running: bool, can_undo: bool) -> None:
        self.stop_button.setVisible(running)
        self.undo_button.setEnabled(can_undo)
        self.checkpoint_button.setEnabled(can_undo)
        self.open_button.setEnabled(not running)
        self.mode_box.setEnabled(not running)
