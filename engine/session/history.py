"""A whole conversation as the pieces of text a fresh session feeds, message by message, without generating.

Used when a conversation's cache is not at hand: reopening one whose saved cache is missing, an API
request that arrives with earlier assistant turns, an agent that shortened its transcript.
`plan_history(messages, ...)` renders the conversation with the chat template one message at a time; each
piece is what that message adds to the rendering (the first one also carries `<bos>` and the system turn),
so feeding the pieces in order feeds exactly the rendered conversation. `Session.load_history` feeds them,
starting a turn (with its mark) at each user message, so rollback and regenerate work as if the turns had
been live. With `answer=True` the model then answers: the last user message (sent as a new turn), or the
tool responses on the last assistant message (the rendering ends with the generation prompt).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.inputs.template import render_chat
from engine.session.errors import SessionError
from engine.session.messages import media_of, template_message


@dataclass
class HistoryPiece:
    message: dict  # as the template takes it (no media payloads)
    text: str  # what this message adds to the rendered conversation
    images: list = field(default_factory=list)
    audios: list = field(default_factory=list)
    videos: list = field(default_factory=list)


@dataclass
class HistoryPlan:
    pieces: list[HistoryPiece]
    ask: dict | None = None  # the last user message, to send as a new turn after the pieces
    continues: bool = False  # the model answers the tool responses that end the last piece


def plan_history(messages: list[dict], *, before: list[dict], template: str, tools: list[dict] | None,
                 enable_thinking: bool, answer: bool) -> HistoryPlan:
    """The pieces that feed `messages` after `before` (the session's system message, if any).

    System and developer messages in `messages` are dropped (the session has its own system prompt).
    Raises `SessionError` for an empty conversation, nothing to answer, or a template that renders the
    conversation differently turn by turn.
    """
    messages = [m for m in messages if m.get("role") not in ("system", "developer")]
    if not messages:
        raise SessionError("the conversation to load is empty")
    last = messages[-1]
    ask = answer and last["role"] == "user"
    if ask:
        messages = messages[:-1]
    continues = answer and not ask
    if continues and not (last["role"] == "assistant" and last.get("tool_responses")):
        raise SessionError("nothing to answer: the conversation ends with a finished answer")
    kw = dict(template=template, tools=tools, enable_thinking=enable_thinking)
    fed = list(before)
    rendered = ""  # nothing is fed yet: the first piece carries <bos> and the system turn
    pieces = []
    for i, message in enumerate(messages):
        msg = template_message(message)
        after = render_chat(fed + [msg], add_generation_prompt=continues and i == len(messages) - 1, **kw)
        if not after.startswith(rendered):
            raise SessionError("the chat template renders this conversation differently turn by "
                               "turn; it cannot be loaded into a live session")
        pieces.append(HistoryPiece(msg, after[len(rendered):], **media_of(message.get("content") or "")))
        fed.append(msg)
        rendered = render_chat(fed, add_generation_prompt=False, **kw)
    return HistoryPlan(pieces, last if ask else None, continues)
