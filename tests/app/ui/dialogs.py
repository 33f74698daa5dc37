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


def answer_input_dialog(text: str | None, timeout_s: float = 10.0) -> list[str]:
    """Type `text` into the next QInputDialog and press OK (None: press Cancel); returns a list
    that gets the dialog's label and the text it opened with."""
    from PySide6.QtWidgets import QInputDialog

    seen: list[str] = []
    deadline = time.monotonic() + timeout_s

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QInputDialog):
            if time.monotonic() < deadline:
                QTimer.singleShot(20, answer)
            return
        seen.extend([dialog.labelText(), dialog.textValue()])
        if text is None:
            dialog.reject()
            return
        dialog.setTextValue(text)
        dialog.accept()

    QTimer.singleShot(0, answer)
    return seen


def choose_menu_item(action_text: str, timeout_s: float = 10.0) -> list[str]:
    """Choose `action_text` in the next popup menu with the keyboard (as a person would: highlight,
    Return); returns a list that gets the menu's action texts."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QMenu

    seen: list[str] = []
    deadline = time.monotonic() + timeout_s

    def choose() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            if time.monotonic() < deadline:
                QTimer.singleShot(20, choose)
            return
        actions = {action.text(): action for action in menu.actions() if action.text()}
        seen.extend(actions)
        if action_text not in actions:
            menu.close()
            return
        menu.setActiveAction(actions[action_text])
        QTest.keyClick(menu, Qt.Key.Key_Return)

    QTimer.singleShot(0, choose)
    return seen


def answer_dialog(answer, timeout_s: float = 10.0) -> list[str]:
    """Call `answer(dialog)` on the next modal QDialog (it must accept or reject it); returns a list
    that gets the dialog's class name."""
    from PySide6.QtWidgets import QDialog

    seen: list[str] = []
    deadline = time.monotonic() + timeout_s

    def find() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QDialog):
            if time.monotonic() < deadline:
                QTimer.singleShot(20, find)
            return
        seen.append(type(dialog).__name__)
        answer(dialog)
        if dialog.isVisible():
            dialog.reject()  # a test must not hang on a dialog it left open

    QTimer.singleShot(0, find)
    return seen
