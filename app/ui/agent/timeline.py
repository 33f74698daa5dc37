"""The scrolling column of one agent run: the task, the steps, notes, and how the run ended.

`show_event(event)` shows one `AgentEvent` of the run (a step, a reply, a tool call card and what
happens to it); `add_finish` shows the end. A run kept on disk is shown again with `replay`, from
its records (app.agent.run_record): the same widgets, with the person's answers to approvals as
they were given, and nothing left waiting. Steps and cards can be found again by number and call id
(`steps`, `cards`); an approval answered in a card is reported as `decided(call_id, Decision)`.

It keeps the view pinned to the newest step while the run works, unless the reader scrolled up.
New widgets are shown at once (a layout would only show them on the next event loop turn, so a
state read right after an event would miss them).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.agent import (
    AgentEvent,
    ApprovalMode,
    ApprovalNeeded,
    CommandOutput,
    CommandStarted,
    ContextShortened,
    Finished,
    ModelReplied,
    Observation,
    StepStarted,
    StopReason,
    ToolCallProposed,
    UndoPointMade,
)
from app.agent.run_record import Decided, from_record
from app.ui.agent.call_widget import AgentCallWidget
from app.ui.agent.step_widget import AgentStepWidget
from app.ui.widgets.markdown import plain_to_html

MAX_COLUMN_WIDTH = 860
FILES_NAMED = 6  # files a finish banner names; the rest are counted
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
NOTHING_DONE = ("Answered without using a tool", "quiet")  # a DONE that changed nothing: not green
UNFINISHED_NOTE = "This run did not finish: Tandem was closed while it worked."
MODE_SENTENCES = {
    ApprovalMode.ASK: "Reading is free; edits and commands ask you first.",
    ApprovalMode.AUTO_EDITS: "Reading and edits go ahead; commands ask you first.",
    ApprovalMode.FULL_AUTO: "In Full auto nothing asks first.",
}


def empty_text(workspace: Path | None, mode: ApprovalMode) -> str:
    """What an empty timeline says: open a folder first, or what to do in the open one."""
    if workspace is None:
        return (
            "Open a folder, then say what to do there.\n"
            "Reading is free; edits and commands ask first, and every step can be undone."
        )
    return (
        f"Say what to do in {workspace.name or workspace}.\n"
        f"{MODE_SENTENCES[mode]} Every step can be undone."
    )


def finish_title(finished: Finished) -> tuple[str, str]:
    """The banner's title and tone ("done", "quiet", "limit", "stopped" or "error")."""
    if finished.reason is StopReason.DONE and not (
        finished.tools_used or finished.files_changed_total
    ):
        return NOTHING_DONE
    return FINISH_TITLES.get(finished.reason, (finished.reason.value, "error"))


def changed_files(finished: Finished) -> str:
    """ "Changed: a.py, b.py and 3 more" or "" when no file changed."""
    named = list(finished.files_changed[:FILES_NAMED])
    if not named:
        return ""
    more = max(0, finished.files_changed_total - len(named))
    return "Changed: " + ", ".join(named) + (f" and {more} more" if more else "")


class AgentTimeline(QScrollArea):
    decided = Signal(int, object)  # call_id, Decision: an approval answered in one of the cards

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AgentScroll")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
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
        self.setWidget(container)
        self.empty_state = QLabel(empty_text(None, ApprovalMode.ASK), self.viewport())
        self.empty_state.setObjectName("EmptyAgent")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setWordWrap(True)
        self.empty_state.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.steps: dict[int, AgentStepWidget] = {}
        self.cards: dict[int, AgentCallWidget] = {}
        self.finished: Finished | None = None
        self.task_label: QLabel | None = None
        self.finish_banner: QFrame | None = None
        self.finish_title: QLabel | None = None
        self.finish_detail: QLabel | None = None
        self.finish_notes: list[QLabel] = []
        self._stick_to_bottom = True
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._follow)
        bar.valueChanged.connect(self._note_scroll)

    @property
    def is_empty(self) -> bool:
        return self.task_label is None and not self.steps

    def clear(self) -> None:
        while self._layout.count() > 1:
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.steps.clear()
        self.cards.clear()
        self.finished = None
        self.task_label = self.finish_banner = self.finish_title = self.finish_detail = None
        self.finish_notes = []
        self.empty_state.setVisible(True)

    def show_empty(self, text: str) -> None:
        """What the empty column says (it depends on the folder and the approval mode)."""
        self.empty_state.setText(text)

    def add(self, widget: QWidget) -> QWidget:
        self._layout.insertWidget(self._layout.count() - 1, widget)
        widget.show()
        self.empty_state.setVisible(False)
        self._stick_to_bottom = True
        return widget

    # ------------------------------------------------------------ a run's events

    def show_event(self, event: AgentEvent) -> None:
        """Show one event of the run; `Finished` goes to `add_finish` (it needs the time used)."""
        if isinstance(event, StepStarted):
            step = AgentStepWidget(event.step, event.max_steps)
            step.decided.connect(self.decided)
            self.steps[event.step] = step
            self.add(step)
        elif isinstance(event, ModelReplied):
            if event.step in self.steps:
                self.steps[event.step].set_reply(event.text, event.thinking)
        elif isinstance(event, ToolCallProposed):
            if event.step in self.steps:
                self.cards[event.call_id] = self.steps[event.step].add_call(
                    event.call_id, event.name, event.arguments
                )
        elif isinstance(event, ContextShortened):
            self.add_note(
                f"Older tool results were shortened to fit the context "
                f"({event.tokens_before:,} → {event.tokens_after:,} tokens)."
            )
        elif isinstance(event, UndoPointMade):
            if event.step in self.steps:
                self.steps[event.step].mark_checkpoint(event.point_id)
        elif isinstance(event, Finished):
            self.add_finish(event, "")
        else:
            self._show_call_event(event)

    def _show_call_event(self, event: AgentEvent) -> None:
        card = self.cards.get(getattr(event, "call_id", -1))
        if card is None:
            return
        if isinstance(event, ApprovalNeeded):
            card.show_approval(event)
        elif isinstance(event, CommandStarted):
            card.show_command_started(event)
        elif isinstance(event, CommandOutput):
            card.append_output(event.chunk)
        elif isinstance(event, Observation):
            card.set_observation(event)

    def end(self) -> None:
        """The run ended: nothing in it waits any more."""
        for step in self.steps.values():
            step.end()

    def replay(self, task: str, files: list[str], records: list[dict]) -> None:
        """Show a run kept on disk from its task and records, as it was when it ended."""
        self.clear()
        self.add_task(task, files)
        for record in records:
            event = from_record(record)
            if isinstance(event, Decided):
                card = self.cards.get(event.call_id)
                if card is not None and card.approval is not None and card.approval.pending:
                    card.approval.decision = event.decision
                    card.approval.show_verdict(event.decision)
            elif isinstance(event, Finished):
                self.add_finish(event, str(record.get("used", "")))
            elif event is not None:
                self.show_event(event)
        self.end()
        if self.finished is None:
            self.add_note(UNFINISHED_NOTE)

    # ------------------------------------------------------------ pieces

    def add_task(self, text: str, files: list[str]) -> None:
        task = QFrame()
        task.setObjectName("AgentTask")
        title = QLabel("TASK")
        title.setObjectName("AgentTaskTitle")
        self.task_label = QLabel(plain_to_html(text) if text else "<i>(the attached files)</i>")
        self.task_label.setWordWrap(True)
        self.task_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(task)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(3)
        layout.addWidget(title)
        layout.addWidget(self.task_label)
        if files:
            layout.addWidget(QLabel("📎 " + ", ".join(files)))
        self.add(task)

    def add_note(self, text: str, error: bool = False) -> QLabel:
        label = QLabel(text)
        label.setObjectName("CallError" if error else "AgentNote")
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add(label)
        return label

    def add_finish(self, finished: Finished, used: str) -> None:
        """The banner that says plainly why the run ended and what it did; `used` is its time."""
        self.finished = finished
        title, tone = finish_title(finished)
        banner = QFrame()
        banner.setObjectName("FinishBanner")
        banner.setProperty("tone", tone)
        self.finish_title = QLabel(title)
        self.finish_title.setObjectName("FinishTitle")
        steps = f"{finished.steps} step{'s' if finished.steps != 1 else ''}"
        self.finish_detail = QLabel(
            f"{finished.message} {finished.what_happened}  ·  {steps}"
            + (f" in {used}" if used else "")
        )
        self.finish_detail.setObjectName("FinishDetail")
        layout = QVBoxLayout(banner)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        layout.addWidget(self.finish_title)
        layout.addWidget(self.finish_detail)
        lines = [changed_files(finished)] + ["⚠ " + note for note in finished.notes]
        self.finish_notes = [QLabel(line) for line in lines if line]
        for label in self.finish_notes:
            label.setObjectName("FinishNote" if label.text().startswith("⚠") else "FinishDetail")
            layout.addWidget(label)
        for label in [self.finish_detail, *self.finish_notes]:
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.finish_banner = banner
        self.add(banner)

    # ------------------------------------------------------------ scrolling

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.column.setFixedWidth(min(MAX_COLUMN_WIDTH, max(240, self.viewport().width() - 48)))
        self.empty_state.setGeometry(self.viewport().rect().adjusted(40, 0, -40, 0))

    def _follow(self, _min: int, _max: int) -> None:
        if self._stick_to_bottom:
            bar = self.verticalScrollBar()
            QTimer.singleShot(0, self, lambda: bar.setValue(bar.maximum()))

    def _note_scroll(self, value: int) -> None:
        self._stick_to_bottom = value >= self.verticalScrollBar().maximum() - 24
