"""Responses bodies as Codex CLI and the openai SDK send them: input items, tools, formats, options."""

import pytest

from engine.server import responses_convert as rc
from engine.server.conversation import Message, text_part, turn_request
from engine.server.items import RequestError, ToolResultsTurn, UserTurn


def codex_body(**kw):
    """Shaped like Codex CLI's request (codex-rs ResponsesApiRequest) to a custom provider."""
    return {
        "model": "tandem",
        "instructions": "You are Codex, a coding agent.",
        "input": [
            {"type": "message", "role": "developer",
             "content": [{"type": "input_text", "text": "<permissions>workspace-write</permissions>"}]},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "<environment_context>cwd=/w</environment_context>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ls"}]},
        ],
        "tools": [
            {"type": "function", "name": "shell", "description": "Run a command", "strict": False,
             "parameters": {"type": "object", "properties": {
                 "command": {"type": "array", "items": {"type": "string"}}},
                 "required": ["command"], "additionalProperties": False}},
            {"type": "web_search"},
            {"type": "namespace", "name": "mcp__fs", "tools": []},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199-session",
        **kw,
    }


def test_a_codex_request_maps_to_one_engine_request():
    parsed = rc.parse_request(codex_body())
    req = turn_request(parsed.chat)
    assert req.key.system_prompt == ("You are Codex, a coding agent.\n\n"
                                     "<permissions>workspace-write</permissions>")
    assert [t["function"]["name"] for t in req.key.tools] == ["shell"]
    assert req.key.enable_thinking and req.stream and not parsed.store
    assert [type(t) for t in req.turns] == [UserTurn, UserTurn]
    assert parsed.chat.notes == [
        "ignored tools of type namespace, web_search: this server runs function tools only"]
    assert req.settings.max_tokens == rc.DEFAULT_MAX_OUTPUT_TOKENS


def test_a_codex_follow_up_carries_calls_outputs_and_reasoning_items():
    items = codex_body()["input"] + [
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": [
            {"type": "reasoning_text", "text": "I should list."}], "encrypted_content": None},
        {"type": "function_call", "name": "shell", "arguments": '{"command":["ls"]}',
         "call_id": "call_1"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.py\nb.py"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
    ]
    parsed = rc.parse_request(codex_body(input=items))
    req = turn_request(parsed.chat)
    assert req.turns[-2].calls == (("shell", '{"command":["ls"]}'),)
    assert req.turns[-1] == ToolResultsTurn((("shell", '"a.py\\nb.py"'),))
    assert "skipped input items of type web_search_call" in parsed.chat.notes


def test_a_stored_conversation_comes_before_the_new_input():
    earlier = [Message("user", "e", parts=[text_part("old")]),
               Message("assistant", "o", text="answer")]
    parsed = rc.parse_request({"input": "new", "instructions": "Sys.",
                               "previous_response_id": "resp_1"})
    chat = parsed.with_history(earlier)
    req = turn_request(chat)
    assert parsed.previous_response_id == "resp_1" and req.key.system_prompt == "Sys."
    assert [t.build() for t in req.turns if isinstance(t, UserTurn)] == ["old", "new"]
    assert parsed.conversation() == earlier + parsed.input  # instructions are not carried over


def test_formats_choices_and_sampling():
    parsed = rc.parse_request({
        "input": "x", "temperature": 0.2, "top_p": 0.5, "max_output_tokens": 30,
        "text": {"format": {"type": "json_schema", "name": "r", "strict": True,
                            "schema": {"type": "object"}}},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "f"},
    })
    chat = parsed.chat
    assert chat.output_format == {"type": "json_schema", "schema": {"type": "object"}}
    assert chat.tool_choice == "f"
    assert (chat.settings.temperature, chat.settings.top_p, chat.settings.max_tokens) == (
        0.2, 0.5, 30)
    assert not chat.settings.enable_thinking
    assert rc.parse_request({"input": "x", "reasoning": {"effort": "minimal"}}).chat.settings \
        .enable_thinking is False


@pytest.mark.parametrize("body, param", [
    ({"input": 3}, "input"),
    ({"input": [{"type": "message", "role": "tool", "content": "x"}]}, "input[0].role"),
    ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0]"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
     "input[0].content[0].file_id"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_data": "x"}]}]},
     "input[0].content[0].type"),
    ({"input": "x", "background": True}, "background"),
    ({"input": [{"type": "function_call_output", "call_id": "nope", "output": "1"}]},
     "input[0].call_id"),
])
def test_bad_fields_are_named(body, param):
    with pytest.raises(RequestError) as e:
        turn_request(rc.parse_request(body).chat)
    assert e.value.param == param
