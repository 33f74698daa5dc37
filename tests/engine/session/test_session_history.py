"""engine.session.history: the pieces fed for a whole conversation are exactly its rendering, message by message."""

import numpy as np
import pytest

from engine.inputs.template import load_template, render_chat
from engine.session import SessionError
from engine.session.history import plan_history

TEMPLATE = load_template()  # the bundled Gemma 4 template
SYSTEM = [{"role": "system", "content": "Be brief."}]
CONVERSATION = [
    {"role": "user", "content": "Hi, what is 2+2?"},
    {"role": "assistant", "content": "It is 4."},
    {"role": "user", "content": [{"type": "audio", "audio": np.zeros(800, np.float32)},
                                 {"type": "text", "text": "And this?"}]},
    {"role": "assistant", "content": "A tone."},
]


def plan(messages, answer=False, before=SYSTEM, thinking=False):
    return plan_history(messages, before=before, template=TEMPLATE, tools=None,
                        enable_thinking=thinking, answer=answer)


@pytest.mark.parametrize("thinking", [False, True])
def test_pieces_concatenate_to_the_rendered_conversation(thinking):
    p = plan(CONVERSATION, thinking=thinking)
    assert p.ask is None and not p.continues
    assert [piece.message["role"] for piece in p.pieces] == ["user", "assistant", "user", "assistant"]
    expected = render_chat(SYSTEM + [piece.message for piece in p.pieces], template=TEMPLATE,
                           enable_thinking=thinking, add_generation_prompt=False)
    assert "".join(piece.text for piece in p.pieces) == expected
    assert p.pieces[0].text.startswith("<bos>") and "Be brief." in p.pieces[0].text
    assert len(p.pieces[2].audios) == 1 and p.pieces[2].images == []
    assert p.pieces[2].message["content"][0] == {"type": "audio"}  # no payload for the template


def test_a_video_item_goes_to_the_piece_and_its_placeholder_to_the_template():
    clip = object()  # a read video (`VideoInputs`) or a path: the plan passes it on as it is
    p = plan([{"role": "user", "content": [{"type": "video", "video": clip}, {"type": "text", "text": "Why?"}]},
              {"role": "assistant", "content": "It stutters."}])
    assert p.pieces[0].videos == [clip] and p.pieces[0].images == [] and p.pieces[0].audios == []
    assert p.pieces[0].message["content"][0] == {"type": "video"}
    assert p.pieces[0].text.count("<|video|>") == 1


def test_answer_asks_the_last_user_message_as_a_new_turn():
    p = plan(CONVERSATION[:3], answer=True)
    assert p.ask is CONVERSATION[2] and [x.message["role"] for x in p.pieces] == ["user", "assistant"]


def test_answer_continues_after_tool_responses():
    history = [
        {"role": "user", "content": "Read a.py"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"function": {"name": "read_file", "arguments": {"path": "a.py"}}}],
         "tool_responses": [{"name": "read_file", "response": {"text": "x = 1"}}]},
    ]
    p = plan(history, answer=True, before=[])
    assert p.continues and p.ask is None
    assert p.pieces[-1].text.endswith("<|channel>thought\n<channel|>")


def test_system_messages_are_dropped_and_bad_conversations_refused():
    p = plan([{"role": "developer", "content": "x"}, *CONVERSATION[:2]])
    assert [x.message["role"] for x in p.pieces] == ["user", "assistant"]
    with pytest.raises(SessionError, match="empty"):
        plan([{"role": "system", "content": "only this"}])
    with pytest.raises(SessionError, match="nothing to answer"):
        plan(CONVERSATION, answer=True)


def test_each_piece_is_rendered_after_the_messages_before_it():
    """A template whose text depends on earlier messages (it numbers them) still concatenates exactly."""
    numbered = "{% for m in messages %}{{ loop.index }}:{{ m.content }}\n{% endfor %}"
    p = plan_history(CONVERSATION[:2] + [{"role": "user", "content": "Next."}], before=SYSTEM,
                     template=numbered, tools=None, enable_thinking=False, answer=False)
    assert [piece.text for piece in p.pieces] == ["1:Be brief.\n2:Hi, what is 2+2?\n", "3:It is 4.\n",
                                                  "4:Next.\n"]
