"""The inline question for one write or command: Approve, Approve for this task, or Deny.

Shown under the tool call that waits. The person may type a message before denying; it goes back
to the model with the denial. A command that would run without a sandbox says so under the
question (`ApprovalNeeded.note`). Once answered, the buttons give way to one line that says what
was decided, so the step keeps a record of it. `decided` carries the call id and the `Decision`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.agent.events import ApprovalNeeded, Decision, DecisionKind


class ApprovalBar(QFrame):
    decided = Signal(int, object)  # call_id, Decision

    def __init__(self, request: ApprovalNeeded, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ApprovalBar")
        self.request = request
        self.decision: Decision | None = None
        edit = request.kind == "edit"
        self.question = QLabel("Apply this change?" if edit else "Run this command?")
        self.question.setObjectName("ApprovalQuestion")
        self.message_edit = QLineEdit()
        self.message_edit.setObjectName("DenyMessage")
        self.message_edit.setPlaceholderText("Optional: tell the model why, or what to do instead")
        self.message_edit.setClearButtonEnabled(True)
        self.message_edit.returnPressed.connect(self._deny_if_typed)
        self.approve_button = QPushButton("Approve")
        self.approve_button.setObjectName("ApproveButton")
        self.approve_button.setDefault(True)
        self.approve_button.setToolTip("Let it run this once")
        self.task_button = QPushButton("Approve for this task")
        self.task_button.setToolTip(
            "Allow every edit for the rest of this task"
            if edit
            else "Allow this exact command for the rest of this task"
        )
        self.deny_button = QPushButton("Deny")
        self.deny_button.setObjectName("DenyButton")
        self.deny_button.setToolTip("Refuse; your message (if any) goes back to the model")
        for button in (self.approve_button, self.task_button, self.deny_button):
            button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.approve_button.clicked.connect(lambda: self.decide(Decision.allow_once()))
        self.task_button.clicked.connect(lambda: self.decide(Decision.allow_for_task()))
        self.deny_button.clicked.connect(
            lambda: self.decide(Decision.deny(self.message_edit.text().strip()))
        )
        self.note_label = QLabel("⚠ " + request.note if request.note else "")
        self.note_label.setObjectName("ApprovalNote")
        self.note_label.setWordWrap(True)
        self.note_label.setVisible(bool(request.note))
        self.verdict = QLabel()
        self.verdict.setObjectName("ApprovalVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setVisible(False)

        self.controls = QWidget()
        row = QHBoxLayout(self.controls)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.question)
        row.addWidget(self.message_edit, 1)
        row.addWidget(self.deny_button)
        row.addWidget(self.task_button)
        row.addWidget(self.approve_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        layout.addWidget(self.controls)
        layout.addWidget(self.note_label)
        layout.addWidget(self.verdict)

    @property
    def pending(self) -> bool:
        return self.decision is None

    def decide(self, decision: Decision) -> None:
        """Answer once; later clicks (or a second call) do nothing."""
        if self.decision is not None:
            return
        self.decision = decision
        self.show_verdict(decision)
        self.decided.emit(self.request.call_id, decision)

    def show_verdict(self, decision: Decision | None) -> None:
        """Replace the buttons by what happened; None means the run ended before an answer."""
        if decision is None:
            text, state = "Not answered: the run ended first.", "muted"
        elif decision.kind is DecisionKind.ALLOW_ONCE:
            text, state = "✓ Approved", "ok"
        elif decision.kind is DecisionKind.ALLOW_FOR_TASK:
            what = "edits" if self.request.kind == "edit" else "this command"
            text, state = f"✓ Approved, and {what} allowed for the rest of this task", "ok"
        else:
            text = "✕ Denied" + (f" — “{decision.message}”" if decision.message else "")
            state = "denied"
        self.controls.setVisible(False)
        self.note_label.setVisible(False)  # the card keeps it once the command starts
        self.layout().setContentsMargins(0, 0, 0, 0)  # a record now, not a question
        self.verdict.setText(text)
        self.verdict.setProperty("state", state)
        self.verdict.style().unpolish(self.verdict)
        self.verdict.style().polish(self.verdict)
        self.verdict.setVisible(True)
        self.setProperty("answered", True)
        self.style().unpolish(self)
        self.style().polish(self)

    def _deny_if_typed(self) -> None:
        if self.message_edit.text().strip():
            self.decide(Decision.deny(self.message_edit.text().strip()))
