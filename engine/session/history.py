"""Feed a whole conversation into a fresh session without generating it.

Used when a conversation's cache is not at hand: reopening one whose saved cache is missing, an API
request that arrives with earlier assistant turns, an agent that shortened its transcript. Each user
message starts a turn (with its mark), so rollback and regenerate work as if the turns had been live.
The text fed is the chat template's rendering, message by message; after it the session continues as
after a closed answer. With `answer=True` the model then answers: the last user message, or the tool
responses on the last assistant message.
"""

from __future__ import annotations

from typing import Iterator

from engine import protocol as ev
from engine.inputs.prompt import encode_prompt
from engine.inputs.template import render_chat
from engine.inputs.video import with_soundtracks


def load_history(session, messages: list[dict], settings: ev.GenerationSettings,
                 answer: bool = False) -> Iterator[ev.Event]:
    from engine.session.session import SessionError, _media_of, _segment_of, _template_message

    if session.voice is not None:
        raise SessionError("a voice turn is open; end it first")
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
    session.reset()
    kw = dict(template=session.template, tools=session.options.tools,
              enable_thinking=settings.enable_thinking)
    rendered = ""  # nothing is fed yet: the first piece carries <bos> and the system turn
    total = 0
    for i, message in enumerate(messages):
        if message["role"] == "user":
            message = {**message, "content": with_soundtracks(message.get("content"))}
        msg = _template_message(message)
        is_last = i == len(messages) - 1
        after = render_chat(session.messages + [msg],
                            add_generation_prompt=continues and is_last, **kw)
        if not after.startswith(rendered):
            raise SessionError("the chat template renders this conversation differently turn by "
                               "turn; it cannot be loaded into a live session")
        inputs = encode_prompt(after[len(rendered):], session.tokenizer,
                               image_budget=session.options.image_budget,
                               **_media_of(message.get("content") or ""))
        total += inputs.input_ids.shape[1]
        session._check_room(inputs.input_ids.shape[1], 0)
        if message["role"] == "user":
            session._begin_turn()
        session.messages.append(msg)
        logits = yield from session._prefill(_segment_of(inputs), want_logits=continues and is_last)
        rendered = render_chat(session.messages, add_generation_prompt=False, **kw)
    yield ev.Progress(stage="prefill", done=total, total=total)
    session.answer_open = False
    if ask:
        yield from session.send(last["content"], settings)
    elif continues:
        yield from session._answer(logits, settings, continuing=True)
