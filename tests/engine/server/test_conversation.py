"""The one conversion the three APIs share: the same conversation is the same engine request
whichever API it came through; system messages, text beside tool results, tools and constraints."""

import pytest

from engine.server import anthropic_convert as ac
from engine.server import openai_convert as oc
from engine.server import responses_convert as rc
from engine.server.conversation import (
    Call,
    ChatRequest,
    Message,
    Tool,
    build_turns,
    text_part,
    turn_request,
)
from engine.protocol import GenerationSettings
from engine.server.items import AssistantTurn, RequestError, ToolResultsTurn, UserTurn

TOOL = {
    "name": "read",
    "description": "Read a file",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
}
COMMON = {"model": "m", "temperature": 0.5}

OPENAI_BODY = {
    **COMMON,
    "max_tokens": 7,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Show main.py"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "read", "arguments": '{"path": "main.py"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "print('hi')"},
        {"role": "assistant", "content": "It prints hi. "},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ],
    "tools": [{"type": "function", "function": TOOL}],
}
ANTHROPIC_BODY = {
    **COMMON,
    "max_tokens": 7,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "tools": [{"name": "read", "description": "Read a file", "input_schema": TOOL["parameters"]}],
    "messages": [
        {"role": "user", "content": "Show main.py"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "read", "input": {"path": "main.py"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "print('hi')"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "It prints hi."}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ],
}
RESPONSES_BODY = {
    **COMMON,
    "max_output_tokens": 7,
    "instructions": "Be brief.",
    "tools": [{"type": "function", **TOOL}],
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                         "text": "Show main.py"}]},
        {"type": "function_call", "call_id": "r1", "name": "read",
         "arguments": '{"path":"main.py"}'},
        {"type": "function_call_output", "call_id": "r1", "output": "print('hi')"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text",
                                                              "text": "It prints hi."}]},
        {"role": "user", "content": "Thanks"},
    ],
}


def test_one_conversation_is_one_engine_request_through_all_three_apis():
    o = turn_request(oc.parse_request(OPENAI_BODY))
    a = turn_request(ac.parse_request(ANTHROPIC_BODY))
    r = turn_request(rc.parse_request(RESPONSES_BODY).chat)
    assert o.key == a.key == r.key
    assert o.turns == a.turns == r.turns
    assert o.settings == a.settings == r.settings
    assert [type(t) for t in o.turns] == [UserTurn, AssistantTurn, ToolResultsTurn, AssistantTurn,
                                          UserTurn]
    assert o.key.system_prompt == "Be brief."
    assert o.turns[1].calls == (("read", '{"path":"main.py"}'),)
    assert o.turns[2].engine_results() == [{"name": "read", "response": "print('hi')"}]
    assert o.turns[3].text == "It prints hi."  # trimmed, as the chat template trims it


def msg(role, text="", **kw):
    parts = [text_part(text)] if role in ("system", "user") else []
    return Message(role, f"m.{role}", parts=parts, text=text if role == "assistant" else "", **kw)


def test_system_messages_are_rendered_where_they_stand():
    system, turns = build_turns([
        msg("system", "Top."),
        msg("system", "Also top."),
        msg("user", "Hi"),
        msg("system", "Reminder after the user."),
        msg("assistant", "Hello", calls=[Call("f", {}, "c")]),
        msg("tool", call_id="c", result="42"),
        msg("system", "Reminder after results."),
        msg("assistant", "Done."),
        msg("system", "Before the next question."),
        msg("user", "Next"),
    ])
    assert system == "Top.\n\nAlso top."
    assert turns[0].build() == [{"type": "text", "text": "Hi"},
                                {"type": "text", "text": "\n\nReminder after the user."}]
    assert turns[2] == ToolResultsTurn((("f", '"42"'), ("system", '"Reminder after results."')))
    assert turns[4].build() == [{"type": "text", "text": "Before the next question.\n\n"},
                                {"type": "text", "text": "Next"}]


def test_a_system_message_after_an_answer_at_the_end_is_a_turn_to_answer():
    _, turns = build_turns([msg("user", "Hi"), msg("assistant", "Hello"), msg("system", "Wrap up.")])
    assert isinstance(turns[-1], UserTurn) and turns[-1].build() == "Wrap up."


def test_text_beside_tool_results_goes_with_them():
    body = {**ANTHROPIC_BODY, "messages": ANTHROPIC_BODY["messages"][:2] + [{
        "role": "user", "content": [
            {"type": "text", "text": "<system-reminder>be careful</system-reminder>"},
            {"type": "tool_result", "tool_use_id": "t1",
             "content": [{"type": "text", "text": "print('hi')"},
                         {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                      "data": "AAAA"}}]},
        ]}]}
    req = turn_request(ac.parse_request(body))
    assert req.turns[-1].engine_results() == [
        {"name": "read", "response": "print('hi')[image omitted]"},
        {"name": "user", "response": "<system-reminder>be careful</system-reminder>"},
    ]
    req.check_shape()


def test_consecutive_assistant_messages_are_one_turn():
    _, turns = build_turns([msg("user", "Hi"), msg("assistant", "Let me look. "),
                            msg("assistant", calls=[Call("a", {"x": 1}, "1")]),
                            msg("assistant", calls=[Call("b", {}, "2")]),
                            msg("tool", call_id="2", result="B"), msg("tool", call_id="1",
                                                                      result="A")])
    assert turns[1] == AssistantTurn("Let me look.", (("a", '{"x":1}'), ("b", "{}")))
    assert turns[2].engine_results() == [{"name": "b", "response": "B"},
                                         {"name": "a", "response": "A"}]


@pytest.mark.parametrize("messages, words", [
    ([msg("user", "Hi"), msg("tool", call_id="x", result="1")], "not an unanswered call"),
    ([msg("user", "Hi"), msg("assistant", calls=[Call("f", {}, "x")]),
      msg("tool", call_id="x", result="1"), msg("tool", call_id="x", result="2")],
     "not an unanswered call"),
])
def test_tool_results_must_answer_a_call(messages, words):
    with pytest.raises(RequestError, match=words):
        build_turns(messages)


def chat(**kw):
    base = dict(messages=[msg("user", "Hi")], settings=GenerationSettings(),
                tools=[Tool("read", parameters=TOOL["parameters"]), Tool("ping")])
    return turn_request(ChatRequest(**{**base, **kw}))


def test_tool_choice_and_output_format_become_constraints():
    assert chat().settings.constraint is None
    required = chat(tool_choice="required").settings.constraint
    assert required["type"] == "tool_call" and "name" not in required
    assert [t["function"]["name"] for t in required["tools"]] == ["read", "ping"]
    assert chat(tool_choice="ping").settings.constraint["name"] == "ping"
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    fmt = {"type": "json_schema", "schema": schema}
    assert chat(output_format=fmt).settings.constraint == fmt
    assert chat(output_format=fmt, tool_choice="ping").settings.constraint["type"] == "tool_call"
    none = chat(tool_choice="none")
    assert none.key.tools is None and none.settings.constraint is None


@pytest.mark.parametrize("kw, param, words", [
    ({"tool_choice": "write"}, "tool_choice", "'write', which is not declared"),
    ({"tool_choice": "required", "tools": []}, "tool_choice", "no tool is declared"),
    ({"output_format": {"type": "json_schema", "schema": {"type": "string", "format": "bogus"}}},
     "response_format", "Unknown format: bogus"),
    ({"tool_choice": "required", "tools": [Tool("f", parameters={
        "type": "object", "properties": {"u": {"type": "string", "format": "uri"}}})]},
     "tool_choice", "'format'"),
    ({"tools": [Tool("f"), Tool("f")]}, "tools", "same name"),
])
def test_what_cannot_be_served_is_a_400_naming_it(kw, param, words):
    with pytest.raises(RequestError) as e:
        chat(**kw)
    assert e.value.param == param and words in str(e.value) and e.value.status == 400
