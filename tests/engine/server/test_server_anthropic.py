"""The Anthropic-compatible API with the official `anthropic` client against a live tiny-model
server."""

import anthropic
import pytest
from server_helpers import API_KEY, BODY_LIMIT
from server_helpers import png_bytes, post

from engine import protocol as ev


@pytest.fixture()
def client(served):
    return anthropic.Anthropic(base_url=served.base, api_key=API_KEY, max_retries=0)


def create(client, messages, **kw):
    # Greedy; this SDK has no `temperature` argument, the field still exists on the wire.
    kw = {"max_tokens": 6, **kw}
    return client.messages.create(
        model="tiny", messages=messages, extra_body={"temperature": 0}, **kw
    )


def test_plain_message_with_real_usage(client, served):
    mark = served.mark()
    m = create(client, [{"role": "user", "content": "Hello"}], system="Be brief.")
    sent = served.since(mark)
    assert [type(c) for c in sent] == [ev.OpenSession, ev.SendMessage]
    assert sent[0].system_prompt == "Be brief."
    stats = served.stats_of(sent[1].request_id)
    assert m.type == "message" and m.role == "assistant" and m.id.startswith("msg_")
    assert m.content[0].type == "text"
    assert m.stop_reason in ("end_turn", "max_tokens")
    assert m.usage.input_tokens == stats.prompt_tokens and m.usage.cache_read_input_tokens == 0
    assert m.usage.output_tokens == stats.generated_tokens


def test_streamed_message_follows_the_published_event_sequence(client):
    messages = [{"role": "user", "content": "a b c"}]
    whole = create(client, messages, max_tokens=10)
    events = list(create(client, messages, max_tokens=10, stream=True))
    types = [e.type for e in events]
    # (the SDK drops `ping` events)
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"]
    assert types[1] == "content_block_start" and types[-3] == "content_block_stop"
    assert set(types[2:-3]) == {"content_block_delta"}
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == whole.content[0].text
    assert events[-2].delta.stop_reason == whole.stop_reason
    assert events[-2].usage.output_tokens == whole.usage.output_tokens


def test_an_image_block_reaches_the_model(client, served):
    import base64

    plain = create(client, [{"role": "user", "content": "What?"}])
    image = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/png",
            "data": base64.b64encode(png_bytes()).decode(),
        },
    }
    mark = served.mark()
    m = create(client, [{"role": "user", "content": [{"type": "text", "text": "What?"}, image]}])
    content = served.since(mark)[-1].content
    assert [c["type"] for c in content] == ["text", "image"]
    assert m.usage.input_tokens >= plain.usage.input_tokens + 4


def test_a_follow_up_reads_the_kept_cache(client, served):
    first = [{"role": "user", "content": "Tell me a long story"}]
    m1 = create(client, first)
    mark = served.mark()
    m2 = create(
        client,
        first
        + [
            {"role": "assistant", "content": m1.content[0].text},
            {"role": "user", "content": "And then?"},
        ],
    )
    assert [type(c) for c in served.since(mark)] == [ev.SendMessage]
    assert m2.usage.cache_read_input_tokens >= m1.usage.input_tokens
    assert 0 < m2.usage.input_tokens < m1.usage.input_tokens


def test_errors_in_anthropic_shape(served, client):
    bad = anthropic.Anthropic(base_url=served.base, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        create(bad, [{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.APIStatusError) as e:
        create(client, [{"role": "user", "content": "x" * (BODY_LIMIT + 1)}])
    assert e.value.status_code == 413
    headers = {"x-api-key": API_KEY}
    for body, words in [
        (b"{oops", "not valid JSON"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "'max_tokens' is required"),
        (
            {
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "t", "content": "1"},
                            {"type": "text", "text": "and this"},
                        ],
                    }
                ],
            },
            "answers the tool call 't', which is not an unanswered call",
        ),
        (
            {
                "max_tokens": 5,
                "tool_choice": {"type": "any"},
                "messages": [{"role": "user", "content": "hi"}],
            },
            "no tool is declared",
        ),
        (
            {"max_tokens": 5, "thinking": {"type": "sometimes"},
             "messages": [{"role": "user", "content": "hi"}]},
            "'thinking.type' must be enabled, adaptive or disabled",
        ),
    ]:
        status, reply = post(served.base, "/v1/messages", body, headers)
        assert status == 400, reply
        assert reply["type"] == "error" and reply["error"]["type"] == "invalid_request_error"
        assert words in reply["error"]["message"]


def test_count_tokens_is_the_prompt_a_fresh_request_feeds(client, served):
    import base64

    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": base64.b64encode(png_bytes()).decode()}}
    tools = [{"name": "read", "description": "Read a file",
              "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Look"}, image]},
        {"role": "assistant", "content": "A red square."},
        {"role": "user", "content": "Count tokens, please."},
        {"role": "system", "content": "Be exact."},
    ]
    kw = {"system": "You count.", "tools": tools, "thinking": {"type": "adaptive"}}
    counted = client.messages.count_tokens(model="tiny", messages=messages, **kw)
    served.pool.clear()  # nothing kept: the request is fed whole
    m = create(client, messages, **kw)
    assert m.usage.cache_read_input_tokens == 0
    assert counted.input_tokens == m.usage.input_tokens > 280 // 4


def test_a_system_message_in_messages_and_adaptive_thinking(client, served):
    mark = served.mark()
    create(client, [{"role": "user", "content": "Hi"},
                    {"role": "system", "content": "Reply in one word."}],
           thinking={"type": "adaptive"})
    sent = served.since(mark)
    assert sent[-1].content[-1] == {"type": "text", "text": "\n\nReply in one word."}
    assert sent[-1].settings.enable_thinking and sent[0].system_prompt == ""


def test_tool_choice_any_gives_a_tool_use(client):
    tools = [{"name": "pick", "input_schema": {"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 3}}, "required": ["n"]}}]
    # Greedy, so the random model's run is the same on every machine.
    m = create(client, [{"role": "user", "content": "Pick"}], max_tokens=60, tools=tools,
               tool_choice={"type": "any"})
    assert m.stop_reason == "tool_use" and m.content[-1].type == "tool_use"
    assert m.content[-1].name == "pick" and 1 <= m.content[-1].input["n"] <= 3
