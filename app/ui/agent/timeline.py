"""The scrolling column of one agent run: the task, the steps, notes, and how the run ended.

It keeps the view pinned to the newest step while the run works, unless the reader scrolled up.
New widgets are shown at once (a layout would only show them on the next event loop turn, so a
state read right after an event would miss them).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.agent import Finished, StopReason
from app.ui.widgets.markdown import plain_to_html

MAX_COLUMN_WIDTH = 860
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


class AgentTimeline(QScrollArea):
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
        self.empty_state = QLabel(
            "Open a folder, then say what to do there.\n"
            "Reading is free; edits and commands ask first, and every step "
            "can be undone.",
            self.viewport(),
        )
        self.empty_state.setObjectName("EmptyAgent")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setWordWrap(True)
        self.empty_state.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.task_label: QLabel | None = None
        self.finish_banner: QFrame | None = None
        self.finish_title: QLabel | None = None
        self.finish_detail: QLabel | None = None
        self._stick_to_bottom = True
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._follow)
        bar.valueChanged.connect(self._note_scroll)

    def clear(self) -> None:
        while self._layout.count() > 1:
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.task_label = self.finish_banner = self.finish_title = self.finish_detail = None
        self.empty_state.setVisible(False)

    def add(self, widget: QWidget) -> QWidget:
        self._layout.insertWidget(self._layout.count() - 1, widget)
        widget.show()
        self.empty_state.setVisible(False)
        self._stick_to_bottom = True
        return widget

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
        self.add(label)
        return label

    def add_finish(self, finished: Finished, used: str) -> None:
        """The banner that says plainly why the run ended; `used` is its working time."""
        title, tone = FINISH_TITLES.get(finished.reason, (finished.reason.value, "error"))
        banner = QFrame()
        banner.setObjectName("FinishBanner")
        banner.setProperty("tone", tone)
        self.finish_title = QLabel(title)
        self.finish_title.setObjectName("FinishTitle")
        steps = f"{finished.steps} step{'s' if finished.steps != 1 else ''}"
        self.finish_detail = QLabel(
            f"{finished.message}  ·  {steps}" + (f" in {used}" if used else "")
        )
        self.finish_detail.setObjectName("FinishDetail")
        self.finish_detail.setWordWrap(True)
        self.finish_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(banner)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        layout.addWidget(self.finish_title)
        layout.addWidget(self.finish_detail)
        self.finish_banner = banner
        self.add(banner)

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
