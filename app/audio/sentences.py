"""Sentences to speak, cut from a Markdown answer while it streams in.

`SentenceSplitter.feed(delta)` takes the next piece of the answer's text and returns the sentences
it completed, ready for a voice: code blocks (fenced with ``` or ~~~) are left out, and so are
Markdown's marks (headings, list bullets and numbers, quotes, emphasis, inline-code ticks, link
targets, table pipes, HTML tags). `flush()` returns what is left when the answer ends.

A sentence ends at ".", "!", "?" or "…" followed by a space, at the end of a heading, a list item
or a table row, and at a blank line. A point does not end a sentence inside a number ("3.14"),
after a common abbreviation ("e.g.", "Dr.", "vs."), after a single initial ("J. Smith") or
inside inline code. A sentence is given out only once the character after its end has arrived,
so the text streamed so far never yields half a sentence.
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    "e.g i.e a.m p.m etc vs cf al approx dr mr mrs ms prof st jr sr no fig eq ca resp incl".split()
)
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_BLOCK_START = re.compile(r"^\s{0,3}(#{1,6}\s+|[-*+]\s+|\d{1,3}[.)]\s+|>\s?)+")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")
_END = re.compile(r"[.!?…]+[\"'”’)\]*_]*(?=\s)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_AUTOLINK = re.compile(r"<(https?://[^>]+)>")
_HTML = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"(?<![\w*_~])[*_~]{1,3}|[*_~]{1,3}(?![\w*_~])")
_SPACES = re.compile(r"\s+")
_CELL = re.compile(r"\s*\|\s*")


def clean(text: str) -> str:
    """The words of one line or sentence of Markdown, without its marks."""
    text = text.replace("`", "")
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _HTML.sub(" ", text)
    text = _EMPHASIS.sub("", text)
    if text.count("|") >= 2:  # a table row: its cells, one after the other
        text = _CELL.sub(", ", text)
    text = _SPACES.sub(" ", text).strip(" ,")
    return text if any(ch.isalnum() for ch in text) else ""


def _ends_sentence(line: str, match: re.Match[str]) -> bool:
    if line[: match.start()].count("`") % 2:
        return False  # inside inline code
    if match.group().startswith(".") and len(match.group().rstrip("\"'”’)]*_")) == 1:
        word = re.search(r"[\w.]*$", line[: match.start()]).group().lower()  # type: ignore[union-attr]
        if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False
    return True


class SentenceSplitter:
    """Cuts a streamed Markdown answer into speakable sentences."""

    def __init__(self) -> None:
        self._line = ""  # the line being received, not yet ended by "\n"
        self._said = 0  # how much of `_line` was already given out
        self._carry = ""  # the start of a sentence from earlier lines of the same paragraph
        self._fence: str | None = None  # the open code fence's marker

    def feed(self, delta: str) -> list[str]:
        """Add the next piece of the answer; return the sentences it completed."""
        out: list[str] = []
        *done, self._line = (self._line + delta).split("\n")
        if done:
            out += self._line_ended(done[0])
            for line in done[1:]:
                self._said = 0
                out += self._line_ended(line)
            self._said = 0
        if self._fence is None and not self._may_be_special(self._line):
            out += self._scan(self._line, final=False)
        return out

    def flush(self) -> list[str]:
        """The answer ended: everything not yet given out, then a fresh start."""
        out = self._line_ended(self._line) if self._line else []
        out += self._end_paragraph()
        self.__init__()  # type: ignore[misc]
        return out

    # ---- lines

    def _line_ended(self, line: str) -> list[str]:
        if self._fence is not None:
            if line.strip().startswith(self._fence):
                self._fence = None
            return []
        fence = _FENCE.match(line)
        if fence:
            self._fence = fence.group(1)[0] * 3
            return self._end_paragraph()
        if not line.strip() or _RULE.match(line) or _TABLE_RULE.match(line):
            return self._end_paragraph()
        block = _BLOCK_START.match(line)
        if block or line.lstrip().startswith("|"):
            out = self._end_paragraph() if self._said == 0 else []  # a new block begins
            out += self._scan(line, final=True)
            return out + self._end_paragraph()
        return self._scan(line, final=True)

    def _may_be_special(self, line: str) -> bool:
        """A line start that may still become a fence, a rule or a table: wait for its end."""
        head = line.lstrip()
        return head[:3] in ("`", "``", "~", "~~") or head.startswith(("```", "~~~", "|")) or (
            bool(head) and set(head) <= set("-*_ ") and self._said == 0
        )

    def _scan(self, line: str, final: bool) -> list[str]:
        """Sentences that end in `line` after what was already said of it."""
        out: list[str] = []
        start = self._said
        body = line + " " if final else line  # the end of a line is a space
        if start == 0:
            block = _BLOCK_START.match(line)
            if block:
                if not final and block.end() == len(line):
                    return []  # "1. " or "## " so far: wait for the words
                out += self._end_paragraph()  # a heading or an item starts a new sentence
                start = block.end()
                self._said = start
        for match in _END.finditer(body, start):
            if not _ends_sentence(body, match):
                continue
            out += self._sentence(body[self._said : match.end()])
            self._said = match.end()
        if final:
            rest = clean(body[self._said :])
            if rest:
                self._carry = f"{self._carry} {rest}".strip()
            self._said = len(body)
        return out

    def _sentence(self, raw: str) -> list[str]:
        text = f"{self._carry} {clean(raw)}".strip()
        self._carry = ""
        return [text] if text else []

    def _end_paragraph(self) -> list[str]:
        text, self._carry = self._carry, ""
        return [text] if text else []


def split_sentences(text: str) -> list[str]:
    """Every speakable sentence of a whole Markdown text."""
    splitter = SentenceSplitter()
    return splitter.feed(text) + splitter.flush()
