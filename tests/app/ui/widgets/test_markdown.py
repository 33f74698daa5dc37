"""Markdown to blocks (prose and highlighted code) and the view that shows them."""

from __future__ import annotations

from app.ui.widgets.markdown import split_blocks
from app.ui.widgets.markdown_view import MarkdownView


def test_markdown_splits_prose_and_code():
    blocks = split_blocks("Intro *x*\n\n```rust\nfn main() {}\n```\n\n| a |\n|---|\n| 1 |\n")
    assert [b.kind for b in blocks] == ["prose", "code", "prose"]
    assert "<em>x</em>" in blocks[0].html
    assert blocks[1].code == "fn main() {}" and blocks[1].language == "rust"
    assert "<span" in blocks[1].html  # highlighted
    assert "<table" in blocks[2].html


def test_markdown_escapes_raw_html_and_handles_an_open_fence():
    [prose] = split_blocks("<script>alert(1)</script>")
    assert "<script>" not in prose.html and "&lt;script&gt;" in prose.html
    blocks = split_blocks("Look:\n\n```python\ndef f(")
    assert blocks[-1].kind == "code" and blocks[-1].code == "def f("


def test_markdown_view_updates_in_place(qtbot):
    view = MarkdownView()
    qtbot.addWidget(view)
    view.set_markdown("Hello")
    first = view._widgets[0]
    view.set_markdown("Hello world\n\n```\ncode")
    assert view._widgets[0] is first and len(view.code_blocks()) == 1
    block = view.code_blocks()[0]
    view.set_markdown("Hello world\n\n```\ncode more\n```")
    assert view.code_blocks()[0] is block and block.code == "code more"
    view.set_markdown("Just text")
    assert view.code_blocks() == [] and len(view._widgets) == 1
