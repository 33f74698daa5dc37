"""A unified diff shown as code review tools show it: added lines green, removed lines red.

`DiffView.set_diff(text)` takes the output of `difflib.unified_diff` (what `ApprovalNeeded.diff`
holds). File headers are dropped (the card above names the file), hunk headers are muted, and the
widget grows with the diff up to `MAX_HEIGHT_PX`, then scrolls. Counts of added and removed lines
are kept for the caption ("+3 −1").
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QTextEdit, QWidget

from app.ui.widgets.markdown import MONO
from app.ui.widgets.theme import is_dark

MAX_HEIGHT_PX = 320
MAX_LINES_SHOWN = 2_000  # a whole generated file can be long; the rest is summarised


class DiffView(QTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DiffView")
        self.setReadOnly(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setLineWrapMode(QTextEdit.LineWrapMode.NoWrap)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.document().setDocumentMargin(6)
        self.diff = ""
        self.added = 0
        self.removed = 0

    def set_diff(self, diff: str) -> None:
        self.diff = diff
        dark = is_dark(self.palette())
        colours = {
            "+": ("#1f3d2a" if dark else "#e6ffec", "#9be9a8" if dark else "#116329"),
            "-": ("#4a1f22" if dark else "#ffebe9", "#ffa198" if dark else "#82071e"),
            "@": ("transparent", "#8b949e" if dark else "#6e7781"),
            " ": ("transparent", "#d0d0d0" if dark else "#1f2328"),
        }
        rows, self.added, self.removed = [], 0, 0
        lines = diff.splitlines()
        for line in lines[:MAX_LINES_SHOWN]:
            if line.startswith(("--- ", "+++ ")):
                continue
            mark = line[:1] if line[:1] in colours else " "
            if mark == "\\":
                mark = "@"  # "\ No newline at end of file"
            self.added += mark == "+"
            self.removed += mark == "-"
            background, colour = colours[mark]
            rows.append(
                f'<p style="margin:0; white-space:pre; background-color:{background}; '
                f'color:{colour};">'
                f"{html.escape(line) or '&nbsp;'}</p>"
            )
        if len(lines) > MAX_LINES_SHOWN:
            rows.append(
                f'<p style="margin:0; color:gray;">… {len(lines) - MAX_LINES_SHOWN} '
                f"more lines not shown</p>"
            )
        if not rows:
            rows.append('<p style="margin:0; color:gray;">(no change)</p>')
        self.setHtml(
            f'<div style="font-family:{MONO}; font-size:12px; white-space:pre;">'
            + "".join(rows)
            + "</div>"
        )
        self._fit_height()

    def caption(self) -> str:
        return f"+{self.added} −{self.removed}"

    def _fit_height(self) -> None:
        self.document().setTextWidth(-1)
        height = int(self.document().size().height()) + 2 * self.frameWidth() + 4
        if self.document().size().width() > self.viewport().width():
            height += self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(min(MAX_HEIGHT_PX, max(28, height)))
