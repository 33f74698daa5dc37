"""The Responses API with the official `openai` client against a live tiny-model server:
`responses.create` and `.stream`, `previous_response_id` on the kept cache, structured output and a
forced function call (random weights: constrained decoding makes them valid anyway)."""

import json

import jsonschema
import openai
import pytest
from server_helpers import API_KEY

from engine import protocol as ev

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 6},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "rain": {"type": "boolean"},
    },
    "required": ["city", "days", "rain"],
    "additionalProperties": False,
}
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather for a city",
           "parameters": SCHEMA}


@pytest.fixture()
def client(served):
    return openai.OpenAI(base_url=served.base + "/v1", api_key=API_KEY, max_retries=0)


def create(client, **kw):
    return client.responses.create(model="tiny", **{"temperature": 0, "max_output_tokens": 6, **kw})


def test_create_gives_the_answer_and_real_usage(client, served):
    mark = served.mark()
    r = create(client, input="Hello", instructions="Be brief.")
    sent = served.since(mark)
    assert [type(c) for c in sent] == [ev.OpenSession, ev.SendMessage]
    assert sent[0].system_prompt == "Be brief." and sent[1].content == "Hello"
    stats = served.stats_of(sent[1].request_id)
    assert r.id.startswith("resp_") and r.object == "response" and r.model == "tiny"
    assert r.status in ("completed", "incomplete")
    assert r.usage.input_tokens == stats.prompt_tokens and r.usage.output_tokens == stats.generated_tokens
    assert r.usage.input_tokens_details.cached_tokens == 0
    assert isinstance(r.output_text, str)
    assert client.responses.retrieve(r.id).id == r.id


def test_stream_gives_the_same_greedy_answer_in_the_published_event_order(client):
    whole = create(client, input="a b c", max_output_tokens=10)
    with client.responses.stream(model="tiny", input="a b c", temperature=0,
                                 max_output_tokens=10) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response() if kinds[-1] == "response.completed" else None
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert kinds[-4:-1] == ["response.output_text.done", "response.content_part.done",
                            "response.output_item.done"]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    if final is not None:
        assert final.output_text == whole.output_text


def test_previous_response_id_continues_the_kept_session_without_prefilling_it_again(client, served):
    r1 = create(client, input="Tell me a long story")
    mark = served.mark()
    r2 = create(client, input="And then?", previous_response_id=r1.id)
    sent = served.since(mark)
    assert [type(c) for c in sent] == [ev.SendMessage]  # the same session: no re-prefill
    assert sent[0].content == "And then?"
    assert r2.previous_response_id == r1.id
    assert r2.usage.input_tokens_details.cached_tokens >= r1.usage.input_tokens
    # A third turn chains on the second.
    mark = served.mark()
    create(client, input="Go on.", previous_response_id=r2.id)
    assert [type(c) for c in served.since(mark)] == [ev.SendMessage]


def test_a_response_not_stored_cannot_be_continued(client):
    r = create(client, input="hi", store=False)
    with pytest.raises(openai.BadRequestError) as e:
        create(client, input="again", previous_response_id=r.id)
    assert e.value.code == "previous_response_not_found"
    assert e.value.body["param"] == "previous_response_id"


@pytest.mark.parametrize("seed", [0, 1])
def test_structured_output_follows_the_schema(client, seed):
    r = client.responses.create(
        model="tiny", input="Weather as JSON", temperature=1.0, max_output_tokens=120,
        text={"format": {"type": "json_schema", "name": "weather", "schema": SCHEMA,
                         "strict": True}},
        extra_body={"seed": seed})
    assert r.status == "completed"
    jsonschema.validate(json.loads(r.output_text), SCHEMA)


def test_a_forced_function_call_is_a_parsed_call(client):
    r = client.responses.create(
        model="tiny", input="Weather in Paris?", temperature=1.0, max_output_tokens=120,
        tools=[WEATHER, {"type": "web_search"}],
        tool_choice={"type": "function", "name": "get_weather"}, extra_body={"seed": 0})
    calls = [o for o in r.output if o.type == "function_call"]
    assert [c.name for c in calls] == ["get_weather"] and calls[0].call_id.startswith("call_")
    jsonschema.validate(json.loads(calls[0].arguments), SCHEMA)
    assert "web_search" in r.metadata["tandem_note"]


def test_an_unsupported_schema_feature_is_named(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="tiny", input="x", text={"format": {
            "type": "json_schema", "name": "x",
            "schema": {"type": "string", "format": "hostname-ish"}}})
    assert "hostname-ish" in e.value.message and e.value.body["param"] == "text.format"
