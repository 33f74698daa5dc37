"""The composer's text field: Return sends, Shift+Return breaks the line, media is handed on."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QImage

from app.ui.chat.prompt_edit import MAX_VISIBLE_LINES, PromptEdit


def test_return_and_enter_send_and_shift_return_breaks_the_line(qtbot):
    edit = PromptEdit()
    qtbot.addWidget(edit)
    qtbot.keyClicks(edit, "one")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(edit, "two")
    assert edit.toPlainText() == "one\ntwo"
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        with qtbot.waitSignal(edit.submitted, timeout=1000):
            qtbot.keyClick(edit, key)
    assert edit.toPlainText() == "one\ntwo"  # sending is the composer's job


def test_pasted_media_is_handed_on_and_rich_text_comes_in_plain(qtbot, tmp_path):
    edit = PromptEdit()
    qtbot.addWidget(edit)
    received: list = []
    edit.media_received.connect(received.append)
    image = QMimeData()
    image.setImageData(QImage(8, 8, QImage.Format.Format_RGB32))
    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(tmp_path / "photo.png"))])
    rich = QMimeData()
    rich.setHtml("<b>bold</b> text")
    rich.setText("bold text")
    for mime in (image, files, rich):
        assert edit.canInsertFromMimeData(mime)
        edit.insertFromMimeData(mime)
    assert received == [image, files] and edit.toPlainText() == "bold text"


def test_the_field_grows_with_its_text_up_to_a_limit(qtbot):
    edit = PromptEdit()
    qtbot.addWidget(edit)
    one_line = edit.height()
    edit.setPlainText("\n".join("line" for _ in range(3)))
    three_lines = edit.height()
    edit.setPlainText("\n".join("line" for _ in range(MAX_VISIBLE_LINES * 3)))
    capped = edit.height()
    assert one_line < three_lines < capped
    edit.setPlainText("\n".join("line" for _ in range(MAX_VISIBLE_LINES * 6)))
    assert edit.height() == capped  # no taller for more text: it scrolls
