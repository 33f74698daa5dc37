"""Responses items and stream events, checked against the openai SDK's own types and its stream
accumulator (the reference's field names and event order)."""

import json

import pydantic
import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent

from engine.server import responses_convert as rc
from engine.server.errors import TurnError
from engine.server.responses_output import ResponseBuilder
from engine.server.turns import Done, TextOut, ToolCallOut, Usage

EVENT = pydantic.TypeAdapter(ResponseStreamEvent)
USAGE = Usage(prompt_tokens=40, completion_tokens=9, cached_tokens=25)


def builder():
    parsed = rc.parse_request({"input": "hi", "instructions": "Sys.", "metadata": {"a": "b"},
                               "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}]})
    return ResponseBuilder("resp_1", "tiny", parsed)


def run(b, outs, done=Done("tool_calls", USAGE)):
    events = b.start()
    for out in outs:
        events += b.feed(out)
    closing, final = b.finish(done)
    return events + closing, final


OUTS = [TextOut("Let me ", "thinking"), TextOut("think.", "thinking"), TextOut("Calling "),
        TextOut("now."), ToolCallOut("f", {"x": [1, 2]}), ToolCallOut("f", {})]


def test_every_event_is_a_valid_sdk_event_in_order():
    events, final = run(builder(), OUTS)
    for kind, data in events:
        assert EVENT.validate_python(data).type == kind
    kinds = [k for k, _ in events]
    assert kinds == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added",
        "response.reasoning_text.delta", "response.reasoning_text.delta",
        "response.reasoning_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed",
    ]
    assert [d["sequence_number"] for _, d in events] == list(range(1, len(events) + 1))
    Response.model_validate(final)


def test_the_sdk_accumulator_rebuilds_the_same_response():
    events, final = run(builder(), OUTS)
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    for _, data in events:
        state.handle_event(EVENT.validate_python(data))
    done = state._completed_response
    assert done.output_text == "Calling now."
    calls = [o for o in done.output if o.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("f", {"x": [1, 2]}), ("f", {})]
    assert done.output[0].type == "reasoning" and done.output[0].content[0].text == "Let me think."
    assert done.usage.input_tokens == 40 and done.usage.input_tokens_details.cached_tokens == 25
    assert final["metadata"]["tandem_note"].startswith("ignored tools of type web_search")
    assert final["metadata"]["a"] == "b" and final["instructions"] == "Sys."


def test_a_keepalive_between_outputs_is_harmless_to_the_sdk():
    b = builder()
    events = b.start() + [b.keepalive()] + b.feed(TextOut("a")) + [b.keepalive()]
    closing, _ = b.finish(Done("stop", USAGE))
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    for _, data in events + closing:
        state.handle_event(EVENT.validate_python(data))
    assert state._completed_response.output_text == "a"


def test_the_stored_answer_carries_the_call_ids_sent():
    b = builder()
    _, final = run(b, OUTS)
    kept = b.output_message()
    sent = [o["call_id"] for o in final["output"] if o["type"] == "function_call"]
    assert kept.text == "Calling now." and [c.id for c in kept.calls] == sent


@pytest.mark.parametrize("reason, kind, status", [
    ("length", "response.incomplete", "incomplete"), ("stop", "response.completed", "completed")])
def test_how_a_response_ends(reason, kind, status):
    events, final = run(builder(), [TextOut("x")], Done(reason, USAGE))
    assert events[-1][0] == kind and final["status"] == status
    if reason == "length":
        assert final["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failure_is_a_failed_response():
    kind, data = builder().fail(TurnError("the engine stopped", 500))
    assert kind == "response.failed"
    EVENT.validate_python(data)
    assert data["response"]["error"] == {"code": "server_error", "message": "the engine stopped"}
    # Codex CLI compacts its history on this code (the SDK's types do not list it yet).
    _, data = builder().fail(TurnError("the conversation is too long", 400, "too_long"))
    assert data["response"]["error"]["code"] == "context_length_exceeded"
