"""Chat Completions bodies: fields, media, thinking, tools and formats, and the response shapes."""

import json

import pytest

from engine.server import openai_convert as oc
from engine.server.conversation import turn_request
from engine.server.items import RequestError
from engine.server.turns import Done, Usage

BODY = {
    "model": "m",
    "messages": [
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "Show main.py"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "read", "arguments": '{"path": "main.py", "n": 1}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "print('hi')"},
        {"role": "user", "content": "Thanks"},
    ],
    "tools": [{"type": "function", "function": {"name": "read", "parameters": {"type": "object"}}},
              {"type": "custom", "custom": {"name": "patch"}}],
    "max_tokens": 7,
    "temperature": 0.5,
    "seed": 3,
    "stop": "END",
}


def test_fields_reach_the_engine_request():
    chat = oc.parse_request(BODY)
    req = turn_request(chat)
    s = req.settings
    assert (s.max_tokens, s.temperature, s.seed, req.stop) == (7, 0.5, 3, ["END"])
    assert req.key.system_prompt == "Be brief." and not s.enable_thinking
    assert [t["function"]["name"] for t in req.key.tools] == ["read"]
    assert chat.notes == ["ignored tool of type 'custom': only functions are run"]


def test_tool_call_arguments_compare_equal_whatever_their_key_order():
    body = json.loads(json.dumps(BODY))
    body["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{ "n":1, "path" : "main.py" }'
    assert turn_request(oc.parse_request(body)).turns == turn_request(oc.parse_request(BODY)).turns


def test_thinking_switches():
    base = {"messages": [{"role": "user", "content": "hi"}]}
    assert oc.parse_request({**base, "reasoning_effort": "high"}).settings.enable_thinking
    assert not oc.parse_request({**base, "reasoning_effort": "none"}).settings.enable_thinking
    assert oc.parse_request(
        {**base, "chat_template_kwargs": {"enable_thinking": True}}).settings.enable_thinking


def test_tool_choice_and_response_format():
    base = {"messages": [{"role": "user", "content": "hi"}]}
    pick = {"type": "function", "function": {"name": "read"}}
    assert oc.parse_request({**base, "tool_choice": pick}).tool_choice == "read"
    assert oc.parse_request({**base, "tool_choice": "required"}).tool_choice == "required"
    schema = {"type": "object"}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    assert oc.parse_request({**base, "response_format": fmt}).output_format == {
        "type": "json_schema", "schema": schema}
    assert oc.parse_request({**base, "response_format": {"type": "json_object"}}).output_format == {
        "type": "json_object"}
    assert oc.parse_request({**base, "response_format": {"type": "text"}}).output_format is None


@pytest.mark.parametrize("change, param", [
    ({"n": 2}, "n"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"top_p": 0}, "top_p"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"response_format": {"type": "yaml"}}, "response_format.type"),
    ({"messages": [{"role": "assistant", "tool_calls": [
        {"id": "a", "function": {"name": "f", "arguments": "{broken"}}]}]},
     "messages[0].tool_calls[0].function.arguments"),
    ({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "aiff"}}]}]},
     "messages[0].content[0].input_audio"),
    ({"messages": [{"role": "user", "content": [{"type": "file"}]}]},
     "messages[0].content[0].type"),
])
def test_bad_fields_are_named(change, param):
    with pytest.raises(RequestError) as e:
        turn_request(oc.parse_request({**BODY, **change}))
    assert e.value.param == param and e.value.status == 400


def test_bad_media_is_a_client_error_when_decoded():
    req = turn_request(oc.parse_request({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "bm90IGF1ZGlv", "format": "wav"}}]}]}))
    with pytest.raises(RequestError) as e:
        req.turns[0].build()
    assert e.value.param == "messages[0].content[0].input_audio"


def test_a_request_must_end_with_something_to_answer():
    req = turn_request(oc.parse_request({"messages": [{"role": "user", "content": "hi"},
                                                      {"role": "assistant", "content": "hello"}]}))
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
    assert oc.FINISH["stop_sequence"] == "stop"
    chunk = oc.chunk("c", "m", {}, usage=usage)
    assert chunk["choices"] == [] and chunk["usage"]["completion_tokens"] == 5
