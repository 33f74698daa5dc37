"""One step of an agent run: its number, the model's thinking (collapsed) and text, its tool calls.

A step shows "Working…" from `StepStarted` until the model's reply arrives (`set_reply`). Tool
calls are added as `AgentCallWidget` cards and can be found again by call id. `mark_checkpoint`
notes that the files were saved as a checkpoint after this step (what undo goes back to).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.ui.agent.call_widget import AgentCallWidget
from app.ui.widgets.markdown_view import MarkdownView
from app.ui.widgets.thinking_section import ThinkingSection


class AgentStepWidget(QWidget):
    decided = Signal(int, object)  # call_id, Decision, from any of its calls

    def __init__(self, step: int, max_steps: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AgentStep")
        self.step, self.max_steps = step, max_steps
        self.calls: dict[int, AgentCallWidget] = {}
        self.replied = False
        self.title = QLabel(f"Step {step}")
        self.title.setObjectName("StepTitle")
        self.status = QLabel("Working…")
        self.status.setObjectName("StepStatus")
        self.checkpoint_label = QLabel()
        self.checkpoint_label.setObjectName("StepCheckpoint")
        self.checkpoint_label.setVisible(False)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.setSpacing(8)
        header.addWidget(self.title)
        header.addWidget(self.status)
        header.addStretch(1)
        header.addWidget(self.checkpoint_label)
        self.thinking = ThinkingSection()
        self.text_view = MarkdownView()
        self.text_view.setVisible(False)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 4, 0, 4)
        self._layout.setSpacing(6)
        self._layout.addLayout(header)
        self._layout.addWidget(self.thinking)
        self._layout.addWidget(self.text_view)

    @property
    def text(self) -> str:
        return self.text_view.markdown

    def show_live(self, text: str, thinking: str) -> None:
        """The reply as far as the model has written it (the final one comes with `set_reply`)."""
        self.status.setText("Thinking…" if thinking and not text else "Writing…")
        if text.strip():
            self.text_view.set_markdown(text)
            self.text_view.setVisible(True)

    def set_reply(self, text: str, thinking: str) -> None:
        self.replied = True
        self.status.setText("")
        self.thinking.set_text(thinking)
        self.text_view.set_markdown(text)
        self.text_view.setVisible(bool(text.strip()))

    def add_call(self, call_id: int, name: str, arguments: dict[str, Any]) -> AgentCallWidget:
        self.status.setText("")
        card = AgentCallWidget(call_id, name, arguments)
        card.decided.connect(self.decided)
        self.calls[call_id] = card
        self._layout.addWidget(card)
        card.show()
        return card

    def mark_checkpoint(self, checkpoint_id: str) -> None:
        self.checkpoint_label.setText(f"◆ checkpoint {checkpoint_id[:7]}")
        self.checkpoint_label.setToolTip(
            "The files were saved after this step; undo can go back here."
        )
        self.checkpoint_label.setVisible(True)

    def end(self) -> None:
        """The run ended: nothing in this step waits any more."""
        if self.status.text():
            self.status.setText("")
        for card in self.calls.values():
            card.end_unanswered()
