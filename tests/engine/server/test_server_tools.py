"""Tool calls over the wire, both APIs, with a scripted engine (random weights never call a tool):
a ToolCallEvent becomes OpenAI `tool_calls` / Anthropic `tool_use`, and the client's tool results
go back to the same engine session as `SendToolResults`, fed after the kept cache."""

import json

import anthropic
import openai
import pytest
from scripted_worker import ScriptedWorker

from engine import protocol as ev
from engine.server.server import start_server

KEY = "k"
CALL = [
    ev.TextDelta(text="Let me look."),
    ev.ToolCallEvent(name="get_weather", arguments={"city": "Paris", "days": 2}),
    ev.TurnStats(prompt_tokens=20, generated_tokens=9, context_used=29),
    ev.TurnFinished(reason="tool_calls", text="Let me look."),
]
ANSWER = [
    ev.TextDelta(text="It is "),
    ev.TextDelta(text="sunny."),
    ev.TurnStats(prompt_tokens=40, generated_tokens=5, context_used=45),
    ev.TurnFinished(reason="stop", text="It is sunny."),
]
TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    },
}


@pytest.fixture()
def scripted():
    holder = {}
    worker = ScriptedWorker(
        lambda e: holder["handle"].on_event(e), {"SendMessage": CALL, "SendToolResults": ANSWER}
    )
    handle = start_server(worker, "127.0.0.1", 0, KEY, model_name="scripted")
    holder["handle"] = handle
    yield handle, worker
    handle.stop()
    worker.stop()


def kinds(worker):
    return [type(c).__name__ for c in worker.commands if not isinstance(c, ev.Cancel)]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_tool_call_round_trip(scripted, stream):
    handle, worker = scripted
    client = openai.OpenAI(base_url=handle.url + "/v1", api_key=KEY, max_retries=0)
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    tools = [{"type": "function", "function": TOOL}]
    if stream:
        chunks = list(
            client.chat.completions.create(model="m", messages=messages, tools=tools, stream=True)
        )
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        calls = [tc for d in deltas for tc in (d.tool_calls or [])]
        content = "".join(d.content or "" for d in deltas)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        call = calls[0]
        assert len(calls) == 1 and call.index == 0
    else:
        r = client.chat.completions.create(model="m", messages=messages, tools=tools)
        content, finish = r.choices[0].message.content, r.choices[0].finish_reason
        call = r.choices[0].message.tool_calls[0]
    assert finish == "tool_calls" and content == "Let me look."
    assert call.id.startswith("call_") and call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "days": 2}
    opened = worker.commands[0]
    assert isinstance(opened, ev.OpenSession) and opened.tools == tools

    follow = messages + [
        {
            "role": "assistant",
            "content": content,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    r2 = client.chat.completions.create(model="m", messages=follow, tools=tools)
    assert kinds(worker) == ["OpenSession", "SendMessage", "SendToolResults"]
    results = worker.commands[-1]
    assert results.session_id == opened.session_id
    assert results.results == [{"name": "get_weather", "response": "sunny, 21 C"}]
    assert r2.choices[0].message.content == "It is sunny."
    assert r2.usage.prompt_tokens == 40 and r2.usage.prompt_tokens_details.cached_tokens == 29


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_tool_use_round_trip(scripted, stream):
    handle, worker = scripted
    client = anthropic.Anthropic(base_url=handle.url, api_key=KEY, max_retries=0)
    tools = [
        {
            "name": TOOL["name"],
            "description": TOOL["description"],
            "input_schema": TOOL["parameters"],
        }
    ]
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        with client.messages.stream(model="m", max_tokens=50, messages=messages, tools=tools) as s:
            types = [e.type for e in s]
            m = s.get_final_message()
        assert "input_json" in types and types[-1] == "message_stop"
    else:
        m = client.messages.create(model="m", max_tokens=50, messages=messages, tools=tools)
    assert m.stop_reason == "tool_use"
    assert [b.type for b in m.content] == ["text", "tool_use"]
    use = m.content[1]
    assert use.name == "get_weather" and use.input == {"city": "Paris", "days": 2}
    assert use.id.startswith("toolu_")
    assert worker.commands[0].tools == [{"type": "function", "function": TOOL}]

    follow = messages + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "content": [{"type": "text", "text": "sunny, 21 C"}],
                }
            ],
        },
    ]
    m2 = client.messages.create(model="m", max_tokens=50, messages=follow, tools=tools)
    assert kinds(worker) == ["OpenSession", "SendMessage", "SendToolResults"]
    assert worker.commands[-1].results == [{"name": "get_weather", "response": "sunny, 21 C"}]
    assert m2.content[0].text == "It is sunny." and m2.stop_reason == "end_turn"
    assert m2.usage.cache_read_input_tokens == 29 and m2.usage.input_tokens == 40 - 29
    assert m2.usage.output_tokens == 5


def test_tool_results_for_a_conversation_no_session_holds_are_fed_with_their_history(scripted):
    handle, worker = scripted
    worker.replies["LoadHistory"] = ANSWER
    client = openai.OpenAI(base_url=handle.url + "/v1", api_key=KEY, max_retries=0)
    r = client.chat.completions.create(
        model="m",
        messages=[
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "x",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "x", "content": "1"},
        ],
    )
    assert kinds(worker) == ["OpenSession", "LoadHistory"]
    load = worker.commands[1]
    assert load.answer and load.messages[0] == {"role": "user", "content": "hi"}
    assert load.messages[1]["tool_calls"] == [{"function": {"name": "f", "arguments": {}}}]
    assert load.messages[1]["tool_responses"][0]["name"] == "f"
    assert r.choices[0].message.content


@pytest.mark.parametrize("stream", [False, True])
def test_responses_function_call_round_trip_on_the_stored_response(scripted, stream):
    handle, worker = scripted
    client = openai.OpenAI(base_url=handle.url + "/v1", api_key=KEY, max_retries=0)
    tools = [{"type": "function", **TOOL}]
    if stream:
        with client.responses.stream(model="m", input="Weather in Paris?", tools=tools) as s:
            types = [e.type for e in s]
            r = s.get_final_response()
        assert "response.function_call_arguments.done" in types
    else:
        r = client.responses.create(model="m", input="Weather in Paris?", tools=tools)
    assert r.output_text == "Let me look."
    call = [o for o in r.output if o.type == "function_call"][0]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris", "days": 2}
    r2 = client.responses.create(
        model="m", previous_response_id=r.id, tools=tools,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert kinds(worker) == ["OpenSession", "SendMessage", "SendToolResults"]
    assert worker.commands[-1].results == [{"name": "get_weather", "response": "sunny"}]
    assert worker.commands[-1].session_id == worker.commands[0].session_id
    assert r2.output_text == "It is sunny." and r2.usage.input_tokens_details.cached_tokens == 29


def test_responses_round_trip_with_the_whole_history_and_no_store(scripted):
    handle, worker = scripted
    client = openai.OpenAI(base_url=handle.url + "/v1", api_key=KEY, max_retries=0)
    tools = [{"type": "function", **TOOL}]
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    r = client.responses.create(model="m", input=ask, tools=tools, store=False)
    history = ask + [o.model_dump(exclude_none=True) for o in r.output]
    call = r.output[-1]
    client.responses.create(model="m", tools=tools, store=False, input=history + [
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert kinds(worker) == ["OpenSession", "SendMessage", "SendToolResults"]
