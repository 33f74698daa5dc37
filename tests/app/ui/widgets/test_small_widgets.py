"""The shared small widgets: icons, the thinking section, a code block's copy button."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QGuiApplication

from app.ui.widgets.code_block import CodeBlock
from app.ui.widgets.icons import icon
from app.ui.widgets.thinking_section import ThinkingSection


@pytest.mark.parametrize("name", ["plus", "mic", "send", "audio", "stop"])
def test_each_icon_draws_something_in_its_colour(qtbot, name):
    image = icon(name, QColor("#ff0000")).pixmap(20, 20).toImage()
    reds = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    assert any(c.alpha() > 0 and c.red() > 200 and c.green() < 60 for c in reds)


def test_an_unknown_icon_is_refused():
    with pytest.raises(ValueError, match="No icon named 'nope'"):
        icon("nope", QColor("black"))


def test_thinking_is_hidden_until_there_is_some_and_opens_on_click(qtbot):
    section = ThinkingSection()
    qtbot.addWidget(section)
    section.set_text("")
    assert section.isHidden()
    section.set_text("step one", streaming=True)
    assert section.toggle.text() == "Thinking…" and not section.is_open
    section.set_text("step one, two")
    assert section.toggle.text() == "Thought process" and section.text() == "step one, two"
    section.toggle.click()
    assert section.is_open
    section.toggle.click()
    assert not section.is_open


def test_a_code_block_copies_its_code_and_says_so(qtbot):
    block = CodeBlock()
    qtbot.addWidget(block)
    block.set_code("print('hi')", "", "<pre>print('hi')</pre>")
    assert block.language_label.text() == "code"
    with qtbot.waitSignal(block.code_copied, timeout=1000) as copied:
        block.copy_button.click()
    assert copied.args == ["print('hi')"] and QGuiApplication.clipboard().text() == "print('hi')"
    assert block.copy_button.text() == "Copied"
    qtbot.waitUntil(lambda: block.copy_button.text() == "Copy", timeout=3000)
