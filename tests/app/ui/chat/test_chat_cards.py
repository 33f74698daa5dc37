"""The chat's small cards: a tool call (or one that could not be read) and an attachment chip."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from app.store import Store
from app.ui.chat.attachment_chip import AttachmentChip
from app.ui.chat.tool_call_card import ToolCallCard


def labels(widget) -> list[str]:
    return [label.text() for label in widget.findChildren(QLabel)]


def test_a_tool_call_shows_its_name_and_arguments_and_an_unread_one_its_text(qtbot):
    card = ToolCallCard("read_file", {"path": "ä.txt"})
    qtbot.addWidget(card)
    title, body = labels(card)
    assert "<b>read_file</b>" in title and "ä.txt" in body
    broken = ToolCallCard("", {}, error="The tool call is not valid JSON\n\n<call>{oops")
    qtbot.addWidget(broken)
    title, body = labels(broken)
    assert "unparsed tool call" in title and "&lt;call&gt;" in body


def test_a_chip_names_its_file_says_when_ready_and_asks_to_be_removed(qtbot, tmp_path):
    store = Store(tmp_path / "data")
    source = tmp_path / "a recording with a very long name.wav"
    source.write_bytes(b"RIFF....WAVE")
    attachment = store.import_file(source)
    chip = AttachmentChip(attachment)
    qtbot.addWidget(chip)
    assert chip.name_label.text() == "a recording with a ve…"
    assert chip.name_label.toolTip() == attachment.filename
    chip.set_ready()
    assert chip.status == "ready" and "prepared" in chip.toolTip()
    with qtbot.waitSignal(chip.removed, timeout=1000) as removed:
        chip.remove_button.click()
    assert removed.args == [attachment]
    store.close()
