"""Incremental parser for the model's output stream.

`OutputParser.feed(text)` takes the detokenized stream (special tokens kept as text) in pieces of any
size and returns the items completed so far; `finish()` flushes what is left at the end of generation.
Neither ever raises: anything malformed becomes a `ParseError` item that carries the raw text, and
parsing goes on after it.

Items, in stream order:
- `Thinking(text)`: text inside `<|channel>NAME\\n ... <channel|>` (the channel name line is dropped).
- `Text(text)`: answer text outside channels and calls, streamed as it comes. Only a tail that could
  be the start of a control token (`<|tool_call>`, `<turn|>`, ...) is held back until the next piece.
- `ToolCall(name, arguments)`: one per `call:NAME{...}` inside `<|tool_call> ... <tool_call|>`.
- `ToolResponseRequest()`: the model emitted `<|tool_response>` and waits for a tool result.
- `EndOfTurn()`: `<turn|>` (or `<eos>`).
- `ParseError(raw, message)`: a malformed or cut-off tool call, or a stray closing token.

Splitting the same stream differently gives the same items once adjacent `Text`/`Thinking` pieces
are joined (`coalesce`). A thinking channel left open is closed by `<|tool_call>`, `<turn|>`,
`<|tool_response>` or the end of the stream; a tool call left open by any of these is a `ParseError`.
Control tokens are recognized anywhere, even inside a `<|"|>` string of a call: the tokenizer makes
each one a single special token, which the model does not emit as argument text.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.inputs.gemma_syntax import parse_calls
from engine.inputs.types import ToolCall

CHANNEL_OPEN = "<|channel>"
CHANNEL_CLOSE = "<channel|>"
CALL_OPEN = "<|tool_call>"
CALL_CLOSE = "<tool_call|>"
TURN_END = "<turn|>"
EOS = "<eos>"
TOOL_RESPONSE = "<|tool_response>"
CONTROL_TOKENS = (CHANNEL_OPEN, CHANNEL_CLOSE, CALL_OPEN, CALL_CLOSE, TURN_END, EOS, TOOL_RESPONSE)

# A channel name longer than this without a newline is treated as thinking text, not a name.
_MAX_CHANNEL_NAME = 64


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Thinking:
    text: str


@dataclass(frozen=True)
class EndOfTurn:
    pass


@dataclass(frozen=True)
class ToolResponseRequest:
    pass


@dataclass(frozen=True)
class ParseError:
    raw: str
    message: str


Item = Text | Thinking | ToolCall | EndOfTurn | ToolResponseRequest | ParseError

_TEXT, _CHANNEL_NAME, _THINK, _CALL = "text", "channel_name", "think", "call"


def _find_control(buf: str) -> tuple[int, str]:
    """Earliest control token in `buf` as (index, token), or (-1, "")."""
    best, tok = -1, ""
    for t in CONTROL_TOKENS:
        i = buf.find(t)
        if i >= 0 and (best < 0 or i < best):
            best, tok = i, t
    return best, tok


def _held_tail(buf: str) -> int:
    """Length of the longest suffix of `buf` that is a proper prefix of a control token."""
    start = buf.find("<", max(0, len(buf) - max(map(len, CONTROL_TOKENS)) + 1))
    while start >= 0:
        tail = buf[start:]
        if any(t.startswith(tail) for t in CONTROL_TOKENS):
            return len(tail)
        start = buf.find("<", start + 1)
    return 0


class OutputParser:
    """Turns the streamed output text of one model turn into items; see the module docstring."""

    def __init__(self) -> None:
        self._buf = ""
        self._state = _TEXT
        self._call_raw = ""  # the open tool call so far, markers included

    def feed(self, text: str) -> list[Item]:
        try:
            self._buf += text
            return self._drain(final=False)
        except Exception as e:  # noqa: BLE001  (never raise into the generation loop)
            raw, self._buf, self._state = self._buf, "", _TEXT
            return [ParseError(raw, f"internal parser error: {e!r}")]

    def finish(self) -> list[Item]:
        try:
            out = self._drain(final=True)
            if self._state == _CALL:
                out.append(
                    ParseError(
                        self._call_raw, "tool call cut off: the stream ended before <tool_call|>"
                    )
                )
            self._state, self._call_raw, self._buf = _TEXT, "", ""
            return out
        except Exception as e:  # noqa: BLE001
            raw, self._buf, self._state = self._buf, "", _TEXT
            return [ParseError(raw, f"internal parser error: {e!r}")]

    def _emit_text(self, out: list[Item], s: str) -> None:
        if not s:
            return
        if self._state == _THINK:
            out.append(Thinking(s))
        else:
            out.append(Text(s))

    def _drain(self, final: bool) -> list[Item]:
        out: list[Item] = []
        while self._buf:
            if self._state == _CHANNEL_NAME:
                nl = self._buf.find("\n", 0, _MAX_CHANNEL_NAME + 1)
                i, _ = _find_control(self._buf)
                if nl >= 0 and (i < 0 or nl < i):
                    self._buf = self._buf[nl + 1 :]  # the name ("thought") is not thinking text
                    self._state = _THINK
                elif i >= 0 or final or len(self._buf) > _MAX_CHANNEL_NAME:
                    self._state = _THINK  # no name line: everything so far is thinking
                else:
                    break
                continue
            i, tok = _find_control(self._buf)
            if self._state == _CALL:
                if i < 0:
                    keep = _held_tail(self._buf) if not final else 0
                    cut = len(self._buf) - keep
                    self._call_raw += self._buf[:cut]
                    self._buf = self._buf[cut:]
                    break
                self._call_raw += self._buf[:i]
                self._buf = self._buf[i + len(tok) :]
                if tok == CALL_CLOSE:
                    self._call_raw += tok
                    out.extend(self._parse_call(self._call_raw))
                    self._state, self._call_raw = _TEXT, ""
                else:
                    out.append(ParseError(self._call_raw, f"tool call cut off by {tok}"))
                    self._state, self._call_raw = _TEXT, ""
                    self._control(out, tok)
                continue
            if i < 0:
                keep = _held_tail(self._buf) if not final else 0
                cut = len(self._buf) - keep
                self._emit_text(out, self._buf[:cut])
                self._buf = self._buf[cut:]
                break
            self._emit_text(out, self._buf[:i])
            self._buf = self._buf[i + len(tok) :]
            self._control(out, tok)
        return out

    def _control(self, out: list[Item], tok: str) -> None:
        """Act on a control token met outside a tool call."""
        if tok == CHANNEL_OPEN:
            self._state = _CHANNEL_NAME
        elif tok == CHANNEL_CLOSE:
            if self._state != _THINK:
                out.append(ParseError(tok, "<channel|> without an open channel"))
            self._state = _TEXT
        elif tok == CALL_OPEN:
            self._state, self._call_raw = _CALL, tok
        elif tok == CALL_CLOSE:
            out.append(ParseError(tok, "<tool_call|> without an open tool call"))
            self._state = _TEXT
        elif tok == TOOL_RESPONSE:
            self._state = _TEXT
            out.append(ToolResponseRequest())
        else:  # TURN_END, EOS
            self._state = _TEXT
            out.append(EndOfTurn())

    @staticmethod
    def _parse_call(raw: str) -> list[Item]:
        body = raw[len(CALL_OPEN) : -len(CALL_CLOSE)]
        try:
            return [ToolCall(name, args) for name, args in parse_calls(body)]
        except ValueError as e:
            return [ParseError(raw, f"malformed tool call: {e}")]


def coalesce(items: list[Item]) -> list[Item]:
    """Join adjacent Text pieces and adjacent Thinking pieces."""
    out: list[Item] = []
    for it in items:
        if out and type(it) in (Text, Thinking) and type(out[-1]) is type(it):
            out[-1] = type(it)(out[-1].text + it.text)  # type: ignore[union-attr]
        else:
            out.append(it)
    return out


def parse_output(text: str) -> list[Item]:
    """Parse a whole output at once (coalesced items)."""
    p = OutputParser()
    return coalesce(p.feed(text) + p.finish())
