"""Messages bodies: thinking types, system blocks and messages, tools, formats, unknown fields, and
the response shapes."""

import pytest

from engine.server import anthropic_convert as ac
from engine.server.conversation import turn_request
from engine.server.items import RequestError, ToolResultsTurn
from engine.server.turns import Usage

HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("thinking, on", [
    (None, False), ({"type": "enabled", "budget_tokens": 1024}, True), ({"type": "adaptive"}, True),
    ({"type": "disabled"}, False),
])
def test_thinking_types(thinking, on):
    body = {"max_tokens": 5, "messages": HI} | ({"thinking": thinking} if thinking else {})
    assert turn_request(ac.parse_request(body)).key.enable_thinking is on


def test_fields_claude_code_sends_are_accepted_and_ignored():
    body = {
        "model": "m", "max_tokens": 32000, "stream": True, "temperature": 1,
        "metadata": {"user_id": "user_abc_account__session_x"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "thinking": {"type": "adaptive"},
        "system": [{"type": "text", "text": "You are Claude Code.",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "tools": [{"name": "Bash", "description": "Run", "input_schema": {"type": "object"},
                   "cache_control": {"type": "ephemeral"}},
                  {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]}],
    }
    chat = ac.parse_request(body)
    req = turn_request(chat)
    assert req.key.system_prompt == "You are Claude Code." and req.key.enable_thinking
    assert [t["function"]["name"] for t in req.key.tools] == ["Bash"]
    assert chat.notes == ["ignored server tool 'web_search_20250305': only client tools are run"]
    assert req.settings.max_tokens == 32000 and req.stream


def test_system_messages_inside_messages_are_accepted():
    body = {"max_tokens": 5, "messages": HI + [
        {"role": "system", "content": [{"type": "text", "text": "Answer in French."}]}]}
    req = turn_request(ac.parse_request(body))
    assert req.key.system_prompt == ""
    assert req.turns[0].build() == [{"type": "text", "text": "hi"},
                                    {"type": "text", "text": "\n\nAnswer in French."}]


def test_tool_choice_and_output_format():
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    base = {"max_tokens": 5, "messages": HI, "tools": tools}
    assert ac.parse_request({**base, "tool_choice": {"type": "any"}}).tool_choice == "required"
    assert ac.parse_request({**base, "tool_choice": {"type": "tool", "name": "f"}}).tool_choice == "f"
    schema = {"type": "object", "properties": {"a": {"type": "boolean"}}}
    for body in ({**base, "output_config": {"format": {"type": "json_schema", "schema": schema}}},
                 {**base, "output_format": {"type": "json_schema", "schema": schema}}):
        assert turn_request(ac.parse_request(body)).settings.constraint == {
            "type": "json_schema", "schema": schema}


def test_tool_results_and_errors():
    body = {"max_tokens": 5, "messages": HI + [
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                                          {"type": "tool_use", "id": "t", "name": "f",
                                           "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                      "content": "boom", "is_error": True}]}]}
    req = turn_request(ac.parse_request(body))
    assert req.turns[-1] == ToolResultsTurn((("f", '{"error":"boom"}'),))


@pytest.mark.parametrize("body, param", [
    ({"messages": HI}, "max_tokens"),
    ({"max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    ({"max_tokens": 5, "messages": HI, "tool_choice": {"type": "maybe"}}, "tool_choice.type"),
    ({"max_tokens": 5, "messages": HI, "output_config": {"format": {"type": "yaml"}}},
     "output_config.format"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {}}]}]}, "messages[0].content[0].type"),
])
def test_bad_fields_are_named(body, param):
    with pytest.raises(RequestError) as e:
        turn_request(ac.parse_request(body))
    assert e.value.param == param


def test_count_tokens_bodies_need_no_max_tokens():
    assert ac.parse_request({"messages": HI}, counting=True).settings.max_tokens > 0


def test_response_shapes():
    usage = Usage(prompt_tokens=50, completion_tokens=5, cached_tokens=30)
    assert ac.usage_dict(usage) == {"input_tokens": 20, "output_tokens": 5,
                                    "cache_read_input_tokens": 30,
                                    "cache_creation_input_tokens": 0}
    assert ac.STOP_REASONS["tool_calls"] == "tool_use"
    m = ac.message("msg_x", "m", [], "end_turn", None, usage)
    assert m["type"] == "message" and m["usage"]["cache_read_input_tokens"] == 30
