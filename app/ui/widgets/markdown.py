"""Markdown to Qt rich text: prose as HTML, fenced code as separate highlighted blocks.

`split_blocks(text)` parses with markdown-it-py (CommonMark plus tables and strikethrough, raw
HTML off: model output is never trusted as markup) and returns the document as a list of `Block`s,
so each code block can get its own widget with a copy button. An unclosed fence (mid-stream)
runs to the end of the text, so partial answers render as they will when finished.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

MONO = "'SF Mono', Menlo, Monaco, 'DejaVu Sans Mono', monospace"

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


@dataclass(frozen=True)
class Block:
    kind: str  # "prose" or "code"
    html: str  # rich text for a QLabel
    code: str = ""  # the raw code of a "code" block (what Copy puts on the clipboard)
    language: str = ""


def split_blocks(text: str, dark: bool = False) -> list[Block]:
    env: dict = {}
    tokens = _md.parse(text, env)
    blocks: list[Block] = []
    pending: list = []

    def flush() -> None:
        if pending:
            rendered = _md.renderer.render(pending, _md.options, env)
            blocks.append(Block("prose", _style_prose(rendered, dark)))
            pending.clear()

    for token in tokens:
        if token.level == 0 and token.type in ("fence", "code_block"):
            flush()
            language = token.info.strip().split(" ")[0] if token.type == "fence" else ""
            code = token.content.removesuffix("\n")
            blocks.append(Block("code", highlight_code(code, language, dark), code, language))
        else:
            pending.append(token)
    flush()
    return blocks


def highlight_code(code: str, language: str, dark: bool = False) -> str:
    try:
        lexer = get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    formatter = HtmlFormatter(nowrap=True, noclasses=True, nobackground=True,
                              style="github-dark" if dark else "xcode")
    body = highlight(code, lexer, formatter).rstrip("\n")
    return f'<pre style="margin:0; font-family:{MONO}; font-size:12px;">{body}</pre>'


def _style_prose(rendered: str, dark: bool) -> str:
    # QLabel has no default style sheet for rich text, so inline the few styles that matter.
    code_bg = "rgba(255,255,255,0.10)" if dark else "rgba(0,0,0,0.06)"
    border = "#555" if dark else "#ccc"
    return (
        rendered.replace("<code>", f'<code style="font-family:{MONO}; background-color:{code_bg};">')
        .replace("<table>", f'<table cellspacing="0" cellpadding="5" border="1" '
                            f'style="border-color:{border}; border-collapse:collapse;">')
        .replace("<blockquote>", '<blockquote style="margin-left:12px; color:gray;">')
        .strip()
    )


def plain_to_html(text: str) -> str:
    """User text shown as typed: escaped, line breaks kept."""
    return html.escape(text).replace("\n", "<br>")
