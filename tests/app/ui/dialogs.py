"""Answer real dialogs in tests: a QTimer finds the modal QMessageBox, clicks a button by its text.

    seen = answer_message_box("Undo")      # before the action that opens the dialog
    view.header.undo_button.click()        # the dialog opens, is read and answered
    assert "left as they are" in seen[0]

Nothing is patched: the dialog is the app's own, shown modally, and its exec() returns because a
button was clicked. The timer keeps looking until a message box is up (for at most `timeout_s`).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox


def answer_message_box(button_text: str, timeout_s: float = 10.0) -> list[str]:
    """Click `button_text` in the next message box; returns a list that gets the box's text."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            if time.monotonic() < deadline:
                QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        buttons = {button.text().replace("&", ""): button for button in box.buttons()}
        if button_text not in buttons:
            seen.append(f"no button {button_text!r} in {sorted(buttons)}")
            box.reject()  # a test must not hang on a dialog it cannot answer
            return
        buttons[button_text].click()

    QTimer.singleShot(0, answer)
    return seen
