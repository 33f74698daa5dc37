"""Gemma 4's argument syntax: the value language inside tool calls and tool responses.

Contract:
- `format_value(v)` writes a JSON-like Python value the way the chat template does: strings between
  `<|"|>` quotes (no escaping: the quote is a special token), `true`/`false`/`null`, numbers as Python
  prints them, objects `{key:value,...}` with keys sorted and unquoted, arrays `[a,b]`.
- `format_tool_response(name, response)` writes a tool result block the same way.
- `parse_value(text)` reads one value back and `parse_calls(text)` reads `call:NAME{...}` blocks.
  Both raise `GemmaSyntaxError` (a `ValueError`) that says what was expected and where.
- The reader is lenient where the published template and the model are: keys may be bare or quoted,
  whitespace between tokens is skipped, Python's `True`/`False`/`None` are accepted.
- Not representable: a string that contains `<|"|>`, and a bare key that contains `:`, `,` or a brace.
"""

from __future__ import annotations

import math
import re
from typing import Any

QUOTE = '<|"|>'

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORDS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_NAME = re.compile(r"[A-Za-z_][\w.\-]*")


class GemmaSyntaxError(ValueError):
    """Malformed Gemma argument syntax; `pos` is the offset in the text where reading stopped."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(f"{message} at offset {pos}")
        self.pos = pos


def format_value(value: Any) -> str:
    """Format a value as the chat template renders it."""
    if isinstance(value, str):
        return QUOTE + value + QUOTE
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{format_value(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, (int, float)):
        return repr(value)
    raise TypeError(f"cannot format a {type(value).__name__} in Gemma syntax")


def format_tool_response(name: str, response: Any) -> str:
    """`<|tool_response>response:NAME{...}<tool_response|>` as the template renders a tool result
    (a non-mapping result becomes `{value:...}`). After the model stops at `<|tool_response>`, the
    session feeds this text without its first marker."""
    body = format_value(response if isinstance(response, dict) else {"value": response})
    return f"<|tool_response>response:{name}{body}<tool_response|>"


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def error(self, what: str) -> GemmaSyntaxError:
        if self.pos >= len(self.text):
            return GemmaSyntaxError(f"expected {what}, found the end of the text", self.pos)
        return GemmaSyntaxError(
            f"expected {what}, found {self.text[self.pos : self.pos + 12]!r}", self.pos
        )

    def expect(self, s: str) -> None:
        self.skip_ws()
        if not self.text.startswith(s, self.pos):
            raise self.error(repr(s))
        self.pos += len(s)

    def string(self) -> str:
        self.pos += len(QUOTE)
        end = self.text.find(QUOTE, self.pos)
        if end < 0:
            raise GemmaSyntaxError('unterminated <|"|> string', self.pos - len(QUOTE))
        s = self.text[self.pos : end]
        self.pos = end + len(QUOTE)
        return s

    def value(self) -> Any:
        self.skip_ws()
        t, p = self.text, self.pos
        if t.startswith(QUOTE, p):
            return self.string()
        if t.startswith("{", p):
            return self.obj()
        if t.startswith("[", p):
            return self.array()
        for word, v in _WORDS.items():
            if t.startswith(word, p) and not _is_word_char(t, p + len(word)):
                self.pos += len(word)
                return v
        m = _NUMBER.match(t, p)
        if m and not _is_word_char(t, m.end()):
            self.pos = m.end()
            s = m.group()
            num = float(s) if any(c in s for c in ".eE") else int(s)
            if isinstance(num, float) and not math.isfinite(num):
                raise GemmaSyntaxError(f"number out of range {s!r}", p)
            return num
        raise self.error("a value")

    def key(self) -> str:
        self.skip_ws()
        if self.text.startswith(QUOTE, self.pos):
            return self.string()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ":,{}[]":
            self.pos += 1
        k = self.text[start : self.pos].strip()
        if not k:
            raise self.error("a key")
        return k

    def obj(self) -> dict[str, Any]:
        self.expect("{")
        out: dict[str, Any] = {}
        self.skip_ws()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return out
        while True:
            k = self.key()
            self.expect(":")
            out[k] = self.value()
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.text.startswith("}", self.pos):
                self.pos += 1
                return out
            else:
                raise self.error("',' or '}'")

    def array(self) -> list[Any]:
        self.expect("[")
        out: list[Any] = []
        self.skip_ws()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return out
        while True:
            out.append(self.value())
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.text.startswith("]", self.pos):
                self.pos += 1
                return out
            else:
                raise self.error("',' or ']'")


def _is_word_char(text: str, i: int) -> bool:
    return i < len(text) and (text[i].isalnum() or text[i] in "_.")


def parse_value(text: str) -> Any:
    """Read exactly one value; trailing text other than whitespace is an error."""
    r = _Reader(text)
    v = r.value()
    r.skip_ws()
    if r.pos != len(text):
        raise r.error("the end of the value")
    return v


def parse_calls(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Read one or more `call:NAME{...}` blocks (the body of a `<|tool_call>` block)."""
    r = _Reader(text)
    calls: list[tuple[str, dict[str, Any]]] = []
    while True:
        r.expect("call:")
        m = _NAME.match(text, r.pos)
        if not m:
            raise r.error("a function name")
        r.pos = m.end()
        r.skip_ws()
        if not text.startswith("{", r.pos):
            raise r.error("'{' after the function name")
        calls.append((m.group(), r.obj()))
        r.skip_ws()
        if r.pos == len(text):
            return calls
