"""Request and response mapping of both APIs, stop strings and the session pool, without a server."""

import json

import pytest

from engine.server import anthropic_convert as ac
from engine.server import openai_convert as oc
from engine.server.items import AssistantTurn, RequestError, ToolResultsTurn, UserTurn
from engine.server.pool import SessionPool
from engine.server.stops import StopMatcher
from engine.server.turns import Done, Usage

TOOL = {
    "name": "read",
    "description": "Read a file",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
}

OPENAI_BODY = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Show main.py"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "read", "arguments": '{"path": "main.py"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "print('hi')"},
        {"role": "assistant", "content": "It prints hi. "},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ],
    "tools": [{"type": "function", "function": TOOL}],
    "max_tokens": 7,
    "temperature": 0.5,
    "seed": 3,
    "stop": "END",
}

ANTHROPIC_BODY = {
    "model": "m",
    "max_tokens": 7,
    "temperature": 0.5,
    "seed": 3,
    "system": [{"type": "text", "text": "Be brief."}],
    "tools": [{"name": "read", "description": "Read a file", "input_schema": TOOL["parameters"]}],
    "messages": [
        {"role": "user", "content": "Show main.py"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "read", "input": {"path": "main.py"}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "print('hi')"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "It prints hi."}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ],
}


def test_openai_messages_map_to_gemma_turns():
    req = oc.parse_request(OPENAI_BODY)
    assert req.key.system_prompt == "Be brief."
    assert req.key.tools == [{"type": "function", "function": TOOL}]
    kinds = [type(t) for t in req.turns]
    assert kinds == [UserTurn, AssistantTurn, ToolResultsTurn, AssistantTurn, UserTurn]
    assert req.turns[1].calls == (("read", '{"path":"main.py"}'),)
    assert req.turns[2].engine_results() == [{"name": "read", "response": "print('hi')"}]
    assert req.turns[3].text == "It prints hi."  # trimmed, as the chat template trims it
    assert req.turns[4].build() == [{"type": "text", "text": "Thanks"}]
    s = req.settings
    assert (s.max_tokens, s.temperature, s.seed, req.stop) == (7, 0.5, 3, ["END"])
    assert not s.enable_thinking


def test_the_same_conversation_compares_equal_across_both_apis():
    a, o = ac.parse_request(ANTHROPIC_BODY), oc.parse_request(OPENAI_BODY)
    assert a.key == o.key and a.turns == o.turns
    assert a.settings == o.settings


def test_tool_call_arguments_compare_equal_whatever_their_key_order():
    one = oc.parse_request({**OPENAI_BODY})
    body = json.loads(json.dumps(OPENAI_BODY))
    body["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{ "path" : "main.py" }'
    assert oc.parse_request(body).turns == one.turns


def test_thinking_switches():
    base = {"messages": [{"role": "user", "content": "hi"}]}
    assert oc.parse_request({**base, "reasoning_effort": "high"}).key.enable_thinking
    assert not oc.parse_request({**base, "reasoning_effort": "none"}).key.enable_thinking
    assert oc.parse_request(
        {**base, "chat_template_kwargs": {"enable_thinking": True}}
    ).settings.enable_thinking
    assert ac.parse_request(
        {**base, "max_tokens": 5, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    ).key.enable_thinking


@pytest.mark.parametrize(
    "change, param",
    [
        ({"n": 2}, "n"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "system", "content": "late"},
                ]
            },
            "messages[1]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "a", "function": {"name": "f", "arguments": "{broken"}}
                        ],
                    }
                ]
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "input_audio",
                                "input_audio": {"data": "AAAA", "format": "aiff"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].input_audio",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "file"}]}]},
            "messages[0].content[0].type",
        ),
    ],
)
def test_openai_bad_fields_are_named(change, param):
    with pytest.raises(RequestError) as e:
        oc.parse_request({**OPENAI_BODY, **change})
    assert e.value.param == param and e.value.status == 400


def test_bad_media_is_a_client_error_when_decoded():
    req = oc.parse_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_audio",
                            "input_audio": {"data": "bm90IGF1ZGlv", "format": "wav"},
                        }
                    ],
                }
            ]
        }
    )
    with pytest.raises(RequestError) as e:
        req.turns[0].build()
    assert e.value.param == "messages[0].content[0].input_audio"


def test_a_request_must_end_with_something_to_answer():
    req = oc.parse_request(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    )
    with pytest.raises(RequestError, match="last message is the assistant's"):
        req.check_shape()


def test_response_shapes():
    usage = Usage(prompt_tokens=50, completion_tokens=5, cached_tokens=30)
    calls = [oc.tool_call(0, "read", {"path": "a.py"})]
    body = oc.completion("chatcmpl-x", "m", "", "", calls, Done("tool_calls", usage))
    msg = body["choices"][0]["message"]
    assert msg["content"] is None and body["choices"][0]["finish_reason"] == "tool_calls"
    assert msg["tool_calls"][0]["function"] == {"name": "read", "arguments": '{"path": "a.py"}'}
    assert "index" not in msg["tool_calls"][0]
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 30}
    assert body["usage"]["total_tokens"] == 55
    assert ac.usage_dict(usage) == {
        "input_tokens": 20,
        "output_tokens": 5,
        "cache_read_input_tokens": 30,
        "cache_creation_input_tokens": 0,
    }
    assert oc.FINISH["stop_sequence"] == "stop"
    assert ac.STOP_REASONS["tool_calls"] == "tool_use"


# ---------------------------------------------------------------- stop strings


def test_stop_strings_split_across_deltas_are_found_and_never_sent():
    m = StopMatcher(["</end>", "STOP"])
    out = []
    for piece in ["Hello </", "en", "d> more"]:
        text, hit = m.feed(piece)
        out.append(text)
        if hit:
            break
    assert "".join(out) == "Hello " and hit == "</end>"


def test_text_that_only_looks_like_a_stop_start_is_released():
    m = StopMatcher(["STOP"])
    assert m.feed("a ST") == ("a ", None)
    assert m.feed("ory") == ("STory", None)
    assert m.feed("ST") == ("", None)
    assert m.flush() == "ST"
    assert StopMatcher([]).feed("anything") == ("anything", None)


# ---------------------------------------------------------------- the pool


def user(text):
    return UserTurn((("text", text),), lambda: text)


def answer(text):
    return AssistantTurn(text)


def fill(pool, key, turns, context_used, offsets):
    plan = pool.plan(key, turns[:1])
    e = plan.entry
    e.turns, e.context_used, e.user_offsets, e.opened = list(turns), context_used, offsets, True
    pool.checkin(e)
    return e


def test_pool_extends_rolls_back_or_refuses():
    from engine.server.items import SessionKey

    closed = []
    pool = SessionPool(close=closed.append)
    key = SessionKey("sys")
    convo = [user("a"), answer("A"), user("b"), answer("B")]
    entry = fill(pool, key, convo, 40, [0, 20])

    plan = pool.plan(key, convo + [user("c")])
    assert (plan.kind, plan.entry, plan.start_offset) == ("extend", entry, 40)
    # Busy: the same conversation cannot be served twice at once, nor does it fall back silently.
    with pytest.raises(RequestError, match="being answered for another request") as e:
        pool.plan(key, convo + [user("c")])
    assert e.value.status == 409
    pool.checkin(entry)

    plan = pool.plan(key, convo[:2] + [user("b2")])
    assert (plan.kind, plan.rollback_to, plan.start_offset) == ("rollback", 1, 20)
    pool.checkin(entry)

    assert pool.plan(SessionKey("other"), [user("a")]).kind == "fresh"
    assert pool.plan(key, [user("x"), answer("y"), user("z")]).kind == "history"
    # Tool results extend only a conversation that waits for them.
    with pytest.raises(RequestError):
        pool.plan(key, convo + [ToolResultsTurn((("f", '"1"'),))])


def test_pool_closes_the_least_recently_used_past_its_limits():
    from engine.server.items import SessionKey

    closed = []
    sizes = {}
    pool = SessionPool(
        close=closed.append, measure=lambda sid: sizes.get(sid, 0), max_sessions=2, max_bytes=100
    )
    key = SessionKey()
    a = fill(pool, key, [user("a"), answer("A")], 10, [0])
    b = fill(pool, key, [user("b"), answer("B")], 10, [0])
    pool.plan(key, [user("a"), answer("A"), user("more")])  # a is now the most recent
    pool.checkin(a)
    fill(pool, key, [user("c"), answer("C")], 10, [0])
    assert closed == [b.session_id]
    sizes[a.session_id] = 150  # over the byte budget on its own
    pool.plan(key, [user("a"), answer("A"), user("x")])
    pool.checkin(a)
    assert a.session_id in closed and a.session_id not in pool.entries
