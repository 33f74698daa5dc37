"""Markdown to Qt rich text: prose as HTML, fenced code as separate highlighted blocks.

`split_blocks(text)` parses with markdown-it-py (CommonMark plus tables and strikethrough, raw
HTML off: model output is never trusted as markup) and returns the document as a list of `Block`s,
so each code block can get its own widget with a copy button. An unclosed fence (mid-stream)
runs to the end of the text, so partial answers render as they will when finished.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

MONO = "'SF Mono', Menlo, Monaco, 'DejaVu Sans Mono', monospace"

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])

# A QLabel wraps only where a line may break, so a long unbroken run (a URL, a hash, "xxxx…") would
# be clipped at the column's edge: such runs get zero-width break chances every BREAK_EVERY chars.
BREAK_EVERY = 16
_LONG_RUN = re.compile(r"\S{%d,}" % (2 * BREAK_EVERY))
ZERO_WIDTH_SPACE = "\u200b"


def breakable(text: str) -> str:
    """`text` with zero-width break chances inside runs of 32+ non-space characters."""
    def split(match: re.Match) -> str:
        run = match.group(0)
        return ZERO_WIDTH_SPACE.join(run[i:i + BREAK_EVERY] for i in range(0, len(run), BREAK_EVERY))
    return _LONG_RUN.sub(split, text)


def _render_text(_renderer, tokens, idx, _options, _env) -> str:
    return html.escape(breakable(tokens[idx].content), quote=False)


def _render_code_inline(_renderer, tokens, idx, _options, _env) -> str:
    return f"<code>{html.escape(breakable(tokens[idx].content), quote=False)}</code>"


_md.add_render_rule("text", _render_text)
_md.add_render_rule("code_inline", _render_code_inline)


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
    return html.escape(breakable(text)).replace("\n", "<br>")
