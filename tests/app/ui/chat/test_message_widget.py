"""One message in the chat view: the user's bubble and attachments, the answer streamed in pieces,
thinking, tool-call cards, and the line that says how the answer ended."""

from __future__ import annotations

from pathlib import Path

from app.store import Attachment
from app.ui.chat.message_widget import MessageWidget


def test_streamed_pieces_render_together_and_finish_says_how_it_ended(qtbot):
    widget = MessageWidget("assistant", 1)
    qtbot.addWidget(widget)
    widget.append_text("Let me think.", "thinking")
    widget.flush()
    assert widget.thinking_section.text() == "Let me think."
    widget.append_text("**Bold**")
    widget.append_text(" answer.")
    assert widget.answer == "**Bold** answer."
    widget.flush()
    assert widget.markdown_view.markdown == "**Bold** answer."
    assert not widget.actions.isVisibleTo(widget)  # no actions while it is written
    widget.finish("cancelled", "12 tokens · 3.0 tok/s")
    assert widget.finish_reason == "cancelled" and widget.actions.isVisibleTo(widget)
    assert widget.meta_label.text() == "Stopped  ·  12 tokens · 3.0 tok/s"
    for reason, note in (("length", "Reached the token limit"), ("error", "Failed"), ("stop", "")):
        widget.finish(reason)
        assert widget.meta_label.text() == note


def test_tool_calls_and_unreadable_calls_become_cards_and_errors_are_said(qtbot):
    widget = MessageWidget("assistant", 3)
    qtbot.addWidget(widget)
    widget.add_tool_call("read_file", {"path": "a.txt"})
    widget.add_parse_error('<tool_call>{"bad"', "The tool call is not valid JSON")
    assert widget.tool_calls == [{"name": "read_file", "arguments": {"path": "a.txt"}}]
    assert widget.cards.count() == 2
    widget.show_error("The model stopped: the context is full.")
    assert widget.error_label.isVisibleTo(widget)
    with qtbot.waitSignal(widget.regenerate_requested, timeout=1000):
        widget.set_regenerate_visible(True)
        widget.regenerate_button.click()


def test_a_user_message_shows_its_text_attachments_and_asks_to_be_edited(qtbot, tmp_path):
    gone = Attachment(kind="audio", sha256="ab", suffix=".wav", filename="Voice message.wav",
                      path=Path(tmp_path / "missing.wav"))
    widget = MessageWidget("user", 4)
    qtbot.addWidget(widget)
    widget.set_user_content("hello <b>there</b>", (gone,))
    assert widget.text == "hello <b>there</b>" and "&lt;b&gt;" in widget.text_label.text()
    chip = widget.attachment_row.itemAt(1).widget()
    assert chip.toolTip() == "Voice message.wav"
    with qtbot.waitSignal(widget.edit_requested, timeout=1000) as edit:
        widget.edit_button.click()
    assert edit.args == [4]
    audio_only = MessageWidget("user", 5)
    qtbot.addWidget(audio_only)
    audio_only.set_user_content("", (gone,))
    assert not audio_only.bubble.isVisibleTo(audio_only)  # no empty bubble under a recording
