"""One tool call of an agent step, as a card: what it does, its diff or command output, the
approval question when it waits, and its result (collapsed, errors shown in one line).

The card is fed by the timeline in the order the run's events come: `ToolCallProposed` builds it,
then `show_approval` (ApprovalNeeded), `show_command_started` (CommandStarted: a command that runs
without a sandbox says so on its card), `append_output` (CommandOutput) and `set_observation`
(Observation). Edits that were not asked about (auto modes) show a diff built from the call's own
arguments, labelled as such, since the run only sends the exact diff with an approval request.
A call the model wrote badly is not a failure of the run: the model is shown the expected form and
goes on, and the card says that in a note (`FORMAT_HINT_NOTE`), not as an error.
"""

from __future__ import annotations

import difflib
import html
import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.agent.events import ApprovalNeeded, CommandStarted, Observation
from app.ui.agent.approval_bar import ApprovalBar
from app.ui.agent.command_output_view import CommandOutputView
from app.ui.agent.diff_view import DiffView
from app.ui.widgets.markdown import MONO

RESULT_CHARS_SHOWN = 6_000  # a whole file read back is long; the model got it, the card needs less
FORMAT_HINT_NOTE = (
    "The model wrote this call in a form that could not be read. It was shown the expected form, "
    "and the run went on."
)
WRONG_CALL_NOTE = (
    "This call could not be carried out as written ({error}). The model was shown the expected "
    "form, and the run went on."
)


def describe(name: str, arguments: dict[str, Any]) -> str:
    """One plain line for a call: "Read calc.py (lines 1–20)", "Run pytest -q"."""
    if "unparsed" in arguments:  # labelled with the tool it seems to name, but not read
        return "A tool call that could not be read"
    path = str(arguments.get("path") or ".")
    if name == "list_dir":
        return f"List {path}"
    if name == "read_file":
        start, end = arguments.get("start_line"), arguments.get("end_line")
        if start or end:
            return f"Read {path} (lines {start or 1}–{end or 'end'})"
        return f"Read {path}"
    if name == "search":
        where = f" in {arguments['path']}" if arguments.get("path") else ""
        kind = "regex" if arguments.get("regex") else "text"
        return f"Search for {kind} “{arguments.get('pattern', '')}”{where}"
    if name == "write_file":
        return f"Write {path}"
    if name == "edit_file":
        return f"Edit {path}"
    if name == "run_command":
        return f"Run  {arguments.get('command', '')}"
    return f"{name or 'unknown tool'}"


def planned_diff(name: str, arguments: dict[str, Any]) -> str:
    """A diff from the call's arguments alone (the passage for an edit, the content for a write)."""
    path = str(arguments.get("path", ""))
    if name == "edit_file":
        old, new = str(arguments.get("old_text", "")), str(arguments.get("new_text", ""))
    elif name == "write_file":
        old, new = "", str(arguments.get("content", ""))
    else:
        return ""
    # splitlines() without ends: a last line with no newline must not run into the next diff line
    diff = difflib.unified_diff(
        old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm=""
    )
    return "\n".join(diff)


class AgentCallWidget(QFrame):
    decided = Signal(int, object)  # call_id, Decision (from the approval bar)

    def __init__(
        self, call_id: int, name: str, arguments: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("AgentCall")
        self.call_id, self.name, self.arguments = call_id, name, dict(arguments)
        self.approval: ApprovalBar | None = None
        self.observation: Observation | None = None
        self.diff_view: DiffView | None = None
        self.output_view: CommandOutputView | None = None

        self.state_label = QLabel("•")
        self.state_label.setObjectName("CallState")
        self.state_label.setFixedWidth(16)
        self.title = QLabel(describe(name, arguments))
        if name == "run_command" and "command" in arguments:
            self.title.setTextFormat(Qt.TextFormat.RichText)
            self.title.setText(
                f'Run&nbsp; <span style="font-family:{MONO}; font-weight:normal;">'
                f"{html.escape(str(arguments['command']))}</span>"
            )
        self.title.setObjectName("CallTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        self.caption = QLabel()
        self.caption.setObjectName("CallCaption")
        self.result_toggle = QToolButton()
        self.result_toggle.setObjectName("ResultToggle")
        self.result_toggle.setText("Result")
        self.result_toggle.setCheckable(True)
        self.result_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.result_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.result_toggle.setAutoRaise(True)
        self.result_toggle.setVisible(False)
        self.result_toggle.toggled.connect(self._show_result)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.setSpacing(6)
        header.addWidget(self.state_label, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.title, 1)
        header.addWidget(self.caption)
        header.addWidget(self.result_toggle)
        self.error_label = QLabel()
        self.error_label.setObjectName("CallError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setVisible(False)
        self.result_body = QLabel()
        self.result_body.setObjectName("CallResult")
        self.result_body.setTextFormat(Qt.TextFormat.PlainText)
        self.result_body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_body.setWordWrap(True)
        self.result_body.setStyleSheet(f"font-family: {MONO}; font-size: 11px;")
        self.result_body.setVisible(False)
        self.note_label = QLabel()
        self.note_label.setObjectName("CallNote")
        self.note_label.setWordWrap(True)
        self.note_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note_label.setVisible(False)
        self._body = QVBoxLayout()
        self._body.setContentsMargins(22, 0, 0, 0)
        self._body.setSpacing(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 9, 12, 9)
        layout.setSpacing(6)
        layout.addLayout(header)
        layout.addLayout(self._body)
        self._body.addWidget(self.note_label)
        self._body.addWidget(self.error_label)
        self._body.addWidget(self.result_body)
        if "unparsed" in arguments:
            self._add_raw(str(arguments["unparsed"]))
        elif name in ("edit_file", "write_file"):
            self._set_diff(planned_diff(name, arguments), planned=True)
        elif name == "run_command":
            self.output_view = CommandOutputView()
            self._insert(self.output_view, visible=False)  # until the command prints

    # ------------------------------------------------------------ fed by the view

    def show_approval(self, request: ApprovalNeeded) -> ApprovalBar:
        if request.diff is not None:
            self._set_diff(request.diff, planned=False)
        self.approval = ApprovalBar(request)
        self.approval.decided.connect(self.decided)
        before = self.output_view if self.output_view is not None else self.note_label
        self._body.insertWidget(self._body.indexOf(before), self.approval)
        self.approval.show()
        self._set_state("●", "waiting")
        return self.approval

    def show_command_started(self, started: CommandStarted) -> None:
        """The command starts now; one that runs unconfined says so on the card."""
        if not started.sandboxed and started.note:
            self.note_label.setText("⚠ " + started.note)
            self.note_label.setProperty("tone", "warning")
            self._repolish(self.note_label)
            self.note_label.setVisible(True)

    def append_output(self, chunk: str) -> None:
        if self.output_view is None:
            self.output_view = CommandOutputView()
            self._insert(self.output_view)
        self.output_view.setVisible(True)
        self.output_view.append(chunk)

    def set_observation(self, observation: Observation) -> None:
        self.observation = observation
        response = observation.response
        error = response.get("error")
        if observation.format_hint:
            self._set_state("?", "hint")
            unread = "unparsed" in self.arguments or not error
            self.note_label.setText(
                FORMAT_HINT_NOTE if unread else WRONG_CALL_NOTE.format(error=str(error).rstrip("."))
            )
            self.note_label.setProperty("tone", "hint")
            self._repolish(self.note_label)
            self.note_label.setVisible(True)
        else:
            ok = observation.ok
            self._set_state("✓" if ok else "✕", "ok" if ok else "failed")
        if error and not observation.format_hint:
            extra = response.get("user_message") or response.get("hint")
            self.error_label.setText(str(error) + (f"\n{extra}" if extra else ""))
            self.error_label.setVisible(True)
        if self.name == "run_command" and "exit_code" in response:
            code = response["exit_code"]
            self.caption.setText("killed" if code is None else f"exit {code}")
        text = json.dumps(response, indent=2, ensure_ascii=False, default=str)
        if len(text) > RESULT_CHARS_SHOWN:
            text = (
                text[:RESULT_CHARS_SHOWN]
                + f"\n… ({len(text) - RESULT_CHARS_SHOWN} more characters)"
            )
        self.result_body.setText(text)
        self.result_toggle.setVisible(True)

    def end_unanswered(self) -> None:
        """The run ended while this call waited for the person."""
        if self.approval is not None and self.approval.pending:
            self.approval.show_verdict(None)
        if self.observation is None:
            self._set_state("–", "muted")

    @property
    def result_open(self) -> bool:
        return self.result_body.isVisibleTo(self)

    # ------------------------------------------------------------ internals

    def _set_diff(self, diff: str, planned: bool) -> None:
        if self.diff_view is None:
            self.diff_view = DiffView()
            self._insert(self.diff_view)
        self.diff_view.set_diff(diff)
        self.diff_view.setToolTip(
            "Built from the call's arguments; the whole file is not shown"
            if planned
            else "The change as it will be written"
        )
        if planned and self.name == "write_file":  # what the file held before is not known here
            lines = self.diff_view.added
            self.caption.setText(f"{lines} line{'s' if lines != 1 else ''} written")
        else:
            self.caption.setText(self.diff_view.caption())

    def _add_raw(self, raw: str) -> None:
        label = QLabel(raw)
        label.setObjectName("CallResult")
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setWordWrap(True)
        label.setStyleSheet(f"font-family: {MONO}; font-size: 11px;")
        self._insert(label)

    def _insert(self, widget: QWidget, visible: bool = True) -> None:
        """Put a body widget before the note, the error line and the result (they stay last)."""
        self._body.insertWidget(self._body.indexOf(self.note_label), widget)
        widget.setVisible(visible)  # now, not when the layout gets to it

    def _set_state(self, mark: str, state: str) -> None:
        self.state_label.setText(mark)
        self.state_label.setProperty("state", state)
        self._repolish(self.state_label)

    @staticmethod
    def _repolish(label: QLabel) -> None:
        label.style().unpolish(label)
        label.style().polish(label)

    def _show_result(self, opened: bool) -> None:
        self.result_toggle.setArrowType(
            Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow
        )
        self.result_body.setVisible(opened)
