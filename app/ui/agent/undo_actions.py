"""Undo from the agent view: confirmations that say what undo keeps, and notes on what it did.

`AgentUndo` answers the header's Undo Last Step and its Checkpoints menu. It asks with a real
dialog (Cancel is the default), hands the undo to `AgentController` (a worker thread), and reports
the outcome as notes for the timeline (`note_added(text, is_error)`): what went back, the person's
later edits that were left alone (`Undone.kept`), and what had no copy to go back to
(`Undone.not_restored`). It keeps the workspace's checkpoints as last listed; `changed` says that
they or `busy` changed, so the view can update its buttons.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.agent import Undone, UndoPoint
from app.ui.agent.controller import AgentController

UNDO_KEEPS = "Files you changed yourself since then are left as they are."


class AgentUndo(QObject):
    note_added = Signal(str, bool)  # text, is_error
    changed = Signal()

    def __init__(self, controller: AgentController, dialog_parent: QWidget) -> None:
        super().__init__(dialog_parent)
        self.controller, self.dialog_parent = controller, dialog_parent
        self.checkpoints: list[UndoPoint] = []  # newest first; the first is the files as now
        self.busy = False
        controller.checkpoints_listed.connect(self._listed)
        controller.checkpoint_restored.connect(self._restored)
        controller.undo_failed.connect(lambda message: self.note_added.emit(message, True))

    @property
    def can_undo(self) -> bool:
        return not self.busy and len(self.checkpoints) >= 2

    def refresh(self, workspace: Path) -> None:
        """Forget the checkpoints shown and list the workspace's (earlier runs can be undone)."""
        self.checkpoints = []
        self.changed.emit()
        self.controller.list_checkpoints(workspace)

    def undo_last(self, workspace: Path | None) -> None:
        if workspace is None or len(self.checkpoints) < 2:
            return
        target = self.checkpoints[1]
        if self.confirm(
            "Undo the last step?",
            f"The files the agent changed in {workspace.name} after “{target.label}” go back "
            f"to how they were then. {UNDO_KEEPS}",
            "Undo",
        ):
            self._started(self.controller.undo_last(workspace))

    def restore(self, workspace: Path | None, checkpoint: UndoPoint) -> None:
        if workspace is None:
            return
        when = datetime.fromtimestamp(checkpoint.timestamp).strftime("%H:%M:%S")
        if self.confirm(
            "Go back to this checkpoint?",
            f"The files the agent changed in {workspace.name} after “{checkpoint.label}” "
            f"({when}) go back to how they were then, and the later checkpoints are removed. "
            f"{UNDO_KEEPS}",
            "Go Back",
        ):
            self._started(self.controller.restore(workspace, checkpoint.id))

    def confirm(self, title: str, text: str, action: str) -> bool:
        """Ask with a real dialog; True when the person pressed `action` (Cancel is the default)."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self.dialog_parent)
        box.setStandardButtons(QMessageBox.StandardButton.Cancel)
        accept = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is accept

    def _started(self, accepted: bool) -> None:
        self.busy = accepted
        self.changed.emit()

    def _restored(self, undone: Undone) -> None:
        count = len(undone.restored)
        put_back = f" {count} file{'s' if count != 1 else ''} put back." if count else ""
        self.note_added.emit(
            f"↩ The files are back as they were at “{undone.label}” "
            f"(checkpoint {undone.id[:7]}).{put_back}",
            False,
        )
        if undone.kept_note:
            self.note_added.emit(undone.kept_note, False)
        if undone.not_restored_note:
            self.note_added.emit(undone.not_restored_note, True)

    def _listed(self, checkpoints: list[UndoPoint]) -> None:
        self.checkpoints = list(checkpoints)
        self.busy = False  # a listing comes last after an undo
        self.changed.emit()
