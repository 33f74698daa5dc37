"""A short title for a conversation, written by the model from its first exchange.

`write_title(loaded, text, cancel)` runs on the engine thread in a throwaway session (the
conversation's own session is not touched), greedily and briefly, and yields one `TitleWritten`.
The worker runs it only when no other command waits, and any other command sets `cancel`, which
stops it between tokens (`Cancelled` in the prefill, or a "cancelled" end: then nothing is yielded
but a `TurnFinished` with reason "cancelled").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from engine import protocol as ev

TITLE_PROMPT = (
    "Write a title of three to six words for the conversation the user shows you. Answer with "
    "the title alone: no quotes, no full stop, no explanation."
)
TITLE_SETTINGS = ev.GenerationSettings(temperature=0.0, max_tokens=16, enable_thinking=False,
                                       use_drafter=False)
MAX_TEXT_CHARS = 1500  # of the exchange shown to the model: a title needs little
MAX_TITLE_CHARS = 60


def write_title(loaded, text: str, cancel: threading.Event) -> Iterator[ev.Event]:
    from engine.session import Session, SessionOptions

    session = Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config,
                      SessionOptions(system_prompt=TITLE_PROMPT), cancel=cancel)
    pieces: list[str] = []
    reason = "stop"
    for event in session.send(text[:MAX_TEXT_CHARS], TITLE_SETTINGS):
        if isinstance(event, ev.TextDelta) and event.channel == "answer":
            pieces.append(event.text)
        elif isinstance(event, ev.TurnFinished):
            reason = event.reason
    if reason == "cancelled" or cancel.is_set():
        yield ev.TurnFinished(reason="cancelled")
        return
    yield ev.TitleWritten(title=clean_title("".join(pieces)))


def clean_title(raw: str) -> str:
    """The model's title as one short line: no quotes, markup or trailing full stop; "" if none."""
    line = next((ln for ln in raw.splitlines() if ln.strip()), "")
    line = line.strip().strip("#*_`\"'“”‘’ ").removeprefix("Title:").strip().rstrip(".")
    line = " ".join(line.split())
    if len(line) > MAX_TITLE_CHARS:
        line = line[:MAX_TITLE_CHARS - 1].rstrip() + "…"
    return line
