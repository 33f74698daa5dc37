"""Stored messages as the engine's chat content: one user message, or a conversation to replay."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.store import Attachment, Message


def message_content(text: str, attachments: Sequence[Attachment] = ()) -> str | list[dict]:
    """A user message for the engine: the text alone, or each attachment by path, then the text."""
    if not attachments:
        return text
    content: list[dict] = [{"type": a.kind, a.kind: str(a.path)} for a in attachments]
    if text:
        content.append({"type": "text", "text": text})
    return content


def messages_to_replay(messages: Iterable[Message]) -> list[dict]:
    """The stored turns to feed a session that has no saved cache (`LoadHistory`).

    Finished answers only, each after the user message it answers; media go by path. A user message
    left unanswered at the end is dropped: the person sends it again, it is not replayed.
    """
    out: list[dict] = []
    for m in messages:
        if m.role == "user":
            out.append({"role": "user", "content": message_content(m.content, m.attachments)})
        elif m.role == "assistant" and out and out[-1]["role"] == "user":
            out.append({"role": "assistant", "content": m.content})
    while out and out[-1]["role"] != "assistant":
        out.pop()
    return out
