"""Stop strings over streamed text: cut the output at the first match, hold back what may start one.

`StopMatcher(stops).feed(text) -> (safe_text, matched)` returns the text that can be sent now and
the stop string found (or None). Text that could be the start of a stop string is held until the
next piece decides; `flush()` returns it at the end of the answer. The stop string itself is never
sent (as in OpenAI's and Anthropic's APIs).
"""

from __future__ import annotations

MAX_STOPS = 4  # OpenAI allows up to 4 stop sequences
MAX_STOP_CHARS = 256


class StopMatcher:
    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.held = ""

    def feed(self, text: str) -> tuple[str, str | None]:
        if not self.stops:
            return text, None
        buf = self.held + text
        hits = [(buf.find(s), s) for s in self.stops if s in buf]
        if hits:
            at, stop = min(hits)
            self.held = ""
            return buf[:at], stop
        keep = 0
        for s in self.stops:  # the longest tail of buf that begins some stop string
            for n in range(min(len(s) - 1, len(buf)), keep, -1):
                if s.startswith(buf[-n:]):
                    keep = n
                    break
        self.held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep], None

    def flush(self) -> str:
        held, self.held = self.held, ""
        return held
