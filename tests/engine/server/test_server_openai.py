"""The OpenAI-compatible API with the official `openai` client against a live tiny-model server."""

import numpy as np
import openai
import pytest
from grey_clips import grey_clip
from server_helpers import API_KEY, BODY_LIMIT
from PIL import Image
from server_helpers import png_bytes, png_data_url, post, wav_b64

from engine import protocol as ev
from engine.inputs.prompt import encode_prompt, load_tokenizer

GREEDY = {"temperature": 0, "max_tokens": 6}


@pytest.fixture()
def client(served):
    return openai.OpenAI(base_url=served.base + "/v1", api_key=API_KEY, max_retries=0)


def chat(client, messages, **kw):
    return client.chat.completions.create(model="tiny", messages=messages, **{**GREEDY, **kw})


def test_models_lists_the_loaded_model(client):
    ids = [m.id for m in client.models.list().data]
    assert ids == ["tiny"]


def test_plain_chat_gives_the_answer_and_real_usage(client, served):
    mark = served.mark()
    r = chat(
        client, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    )
    sent = served.since(mark)
    assert [type(c) for c in sent] == [ev.OpenSession, ev.SendMessage]
    assert sent[0].system_prompt == "Be brief." and sent[1].content == "Hello"
    stats = served.stats_of(sent[1].request_id)
    assert r.usage.prompt_tokens == stats.prompt_tokens > 0
    assert r.usage.completion_tokens == stats.generated_tokens
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.choices[0].message.role == "assistant"


def test_streamed_chat_adds_up_to_the_same_greedy_answer(client):
    messages = [{"role": "user", "content": "a b c"}]
    whole = chat(client, messages, max_tokens=12)
    stream = chat(
        client, messages, max_tokens=12, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert text == whole.choices[0].message.content
    assert finish == [whole.choices[0].finish_reason]
    assert (
        chunks[-1].choices == []
        and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    )


def test_image_and_audio_parts_reach_the_model(client, served, tmp_path):
    plain = chat(client, [{"role": "user", "content": [{"type": "text", "text": "What?"}]}])
    mark = served.mark()
    r = chat(
        client,
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What?"},
                    {"type": "image_url", "image_url": {"url": png_data_url()}},
                    {
                        "type": "input_audio",
                        "input_audio": {"data": wav_b64(seconds=0.5), "format": "wav"},
                    },
                ],
            }
        ],
    )
    content = served.since(mark)[-1].content
    assert [c["type"] for c in content] == ["text", "image", "audio"]
    assert isinstance(content[1]["image"], Image.Image) and content[1]["image"].size == (96, 64)
    assert isinstance(content[2]["audio"], np.ndarray) and content[2]["audio"].shape == (8000,)
    # 96x64 px is 2x1 blocks of 48 px (+2 for boi/eoi); 0.5 s is 13 frames of 40 ms (+2).
    extra = r.usage.prompt_tokens - plain.usage.prompt_tokens
    assert extra >= (2 + 2) + (13 + 2)

    path = tmp_path / "red.png"
    path.write_bytes(png_bytes())
    r2 = chat(
        client,
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What?"},
                    {"type": "image_url", "image_url": {"url": f"file://{path}"}},
                ],
            }
        ],
    )
    assert r2.usage.prompt_tokens > plain.usage.prompt_tokens


def test_a_video_part_reaches_the_model_with_its_sound(client, served, tmp_path):
    import base64

    from engine.inputs.video import VideoInputs

    path = grey_clip(tmp_path / "clip.webm", frames=4, rate=4, step=60)
    url = "data:video/webm;base64," + base64.b64encode(path.read_bytes()).decode()
    plain = chat(client, [{"role": "user", "content": [{"type": "text", "text": "What?"}]}])
    mark = served.mark()
    r = chat(client, [{"role": "user", "content": [
        {"type": "text", "text": "What?"}, {"type": "video_url", "video_url": {"url": url}}]}])
    content = served.since(mark)[-1].content
    assert [c["type"] for c in content] == ["text", "video"]  # this clip has no sound
    video = content[1]["video"]
    assert isinstance(video, VideoInputs) and len(video.timestamps) == 4
    # Each frame: "00:00 " (timestamp tokens), <|image>, its soft tokens, <image|>.
    assert r.usage.prompt_tokens - plain.usage.prompt_tokens >= 4 * (video.num_soft_tokens + 2)
    with pytest.raises(openai.BadRequestError, match="is not a video Tandem can read"):
        bad = "data:video/mp4;base64," + base64.b64encode(b"not a video" * 20).decode()
        chat(client, [{"role": "user", "content": [{"type": "video_url", "video_url": bad}]}])


def test_a_second_request_extending_the_first_is_served_from_the_kept_cache(
    client, served, tiny_checkpoint
):
    first = [{"role": "user", "content": "Tell me a long story"}]
    r1 = chat(client, first)
    mark = served.mark()
    follow = first + [
        r1.choices[0].message.model_dump(exclude_none=True),
        {"role": "user", "content": "And then?"},
    ]
    r2 = chat(client, follow)
    sent = served.since(mark)
    assert [type(c) for c in sent] == [ev.SendMessage]  # no new session, no re-prefill
    kept = served.pool.entries[sent[0].session_id]
    assert kept.nbytes > 0  # the pool's memory budget sees the real cache size
    assert sent[0].content == "And then?"
    cached = r2.usage.prompt_tokens_details.cached_tokens
    assert cached >= r1.usage.prompt_tokens
    # Exactly the new turn was prefilled: close the answer, the user turn, the generation prompt.
    new_turn = "<turn|>\n<|turn>user\nAnd then?<turn|>\n<|turn>model\n<|channel>thought\n<channel|>"
    n_new = encode_prompt(new_turn, load_tokenizer(tiny_checkpoint)).input_ids.shape[1]
    assert r2.usage.prompt_tokens - cached == n_new

    # An edited last message goes back to that turn and feeds only the new text.
    mark = served.mark()
    edited = follow[:-1] + [{"role": "user", "content": "And after that?"}]
    r3 = chat(client, edited)
    assert [type(c) for c in served.since(mark)] == [ev.Rollback, ev.SendMessage]
    assert r3.usage.prompt_tokens_details.cached_tokens == cached


def test_a_history_no_kept_session_holds_is_fed_as_it_is_then_answered(client, served):
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "an answer this server never gave"},
        {"role": "user", "content": "go on"},
    ]
    mark = served.mark()
    r = chat(client, history)
    sent = served.since(mark)
    assert [type(c) for c in sent] == [ev.OpenSession, ev.LoadHistory, ev.SendMessage]
    assert sent[1].messages == history[:2] and not sent[1].answer
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    # The loaded conversation is kept: the next request extends it.
    follow = history + [{"role": "assistant", "content": r.choices[0].message.content or ""},
                        {"role": "user", "content": "and then?"}]
    mark = served.mark()
    chat(client, follow)
    assert [type(c) for c in served.since(mark)] == [ev.SendMessage]


def test_a_bad_or_missing_api_key_gets_401(served):
    bad = openai.OpenAI(base_url=served.base + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    status, body = post(served.base, "/v1/chat/completions", {"messages": []})
    assert status == 401 and body["error"]["code"] == "invalid_api_key"


def test_an_oversized_request_gets_413(client):
    with pytest.raises(openai.APIStatusError) as e:
        chat(client, [{"role": "user", "content": "x" * (BODY_LIMIT + 1)}])
    assert e.value.status_code == 413


@pytest.mark.parametrize(
    "body, param",
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        ({"model": "tiny"}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": 9}, "temperature"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "https://example.com/cat.png"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].image_url.url",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "data:image/png;base64,bm90IGFuIGltYWdl"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].image_url.url",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "a",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "b", "content": "1"},
                ]
            },
            "messages[1].tool_call_id",
        ),
    ],
)
def test_a_malformed_body_gets_400_naming_the_problem(served, body, param):
    status, reply = post(
        served.base, "/v1/chat/completions", body, {"Authorization": f"Bearer {API_KEY}"}
    )
    assert status == 400, reply
    assert reply["error"]["type"] == "invalid_request_error" and reply["error"]["message"]
    assert reply["error"]["param"] == param


def test_a_stop_string_cuts_the_answer_and_cancels_the_rest(client, served):
    messages = [{"role": "user", "content": "a b c"}]
    full = chat(client, messages, max_tokens=40).choices[0].message.content
    stop = full[12:15]
    cut = full[: full.index(stop)]
    mark = served.mark()
    r = chat(client, messages, max_tokens=40, stop=[stop])
    assert r.choices[0].message.content == cut
    assert r.choices[0].finish_reason == "stop"
    assert any(isinstance(c, ev.Cancel) for c in served.seen[mark:])
    send = next(c for c in served.since(mark) if isinstance(c, ev.SendMessage))
    assert served.wait_finished(send.request_id).reason == "cancelled"


def test_a_client_that_disconnects_mid_stream_cancels_and_the_engine_goes_on(client, served):
    mark = served.mark()
    # A seeded sample that runs to its 2000-token limit when nobody stops it.
    stream = chat(
        client,
        [{"role": "user", "content": "Write"}],
        temperature=1.0,
        seed=3,
        max_tokens=2000,
        stream=True,
    )
    got = [next(iter(stream)) for _ in range(3)]
    assert got
    stream.close()
    send = next(c for c in served.since(mark) if isinstance(c, ev.SendMessage))
    done = served.wait_finished(send.request_id)
    assert done.reason == "cancelled"
    assert served.stats_of(send.request_id).generated_tokens < 2000
    r = chat(client, [{"role": "user", "content": "Hello again"}])
    assert r.usage.completion_tokens >= 1


def test_a_client_that_hangs_up_on_a_plain_request_cancels_it(served):
    import http.client
    import json
    import time

    mark = served.mark()
    host, port = served.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    body = {
        "messages": [{"role": "user", "content": "Write"}],
        "temperature": 1.0,
        "seed": 3,
        "max_tokens": 2000,
    }
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=json.dumps(body),
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    deadline = time.monotonic() + 30
    while not any(isinstance(c, ev.SendMessage) for c in served.seen[mark:]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # generating now
    conn.sock.close()
    send = next(c for c in served.since(mark) if isinstance(c, ev.SendMessage))
    assert served.wait_finished(send.request_id).reason == "cancelled"
    assert served.stats_of(send.request_id).generated_tokens < 2000


SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "score": {"type": "integer", "minimum": 0, "maximum": 10},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
    },
    "required": ["name", "score"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("seed", [0, 1])
def test_a_json_schema_response_format_gives_json_the_schema_accepts(client, seed):
    import json

    import jsonschema

    r = chat(client, [{"role": "user", "content": "Rate it"}], temperature=1.0, seed=seed,
             max_tokens=150, response_format={"type": "json_schema", "json_schema": {
                 "name": "rating", "schema": SCHEMA, "strict": True}})
    assert r.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(r.choices[0].message.content), SCHEMA)


def test_tool_choice_required_gives_a_parsed_tool_call(client, served):
    import json

    import jsonschema

    tools = [{"type": "function", "function": {"name": "rate", "parameters": SCHEMA}},
             {"type": "function", "function": {"name": "skip", "parameters": {
                 "type": "object", "properties": {}}}}]
    r = chat(client, [{"role": "user", "content": "Rate it"}], temperature=1.0, seed=2,
             max_tokens=150, tools=tools, tool_choice={"type": "function", "function": {
                 "name": "rate"}})
    assert r.choices[0].finish_reason == "tool_calls"
    calls = r.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["rate"]
    jsonschema.validate(json.loads(calls[0].function.arguments), SCHEMA)
    r = chat(client, [{"role": "user", "content": "Something"}], temperature=1.0, seed=3,
             max_tokens=150, tools=tools, tool_choice="required")
    assert r.choices[0].finish_reason == "tool_calls" and r.choices[0].message.tool_calls


def test_a_system_message_after_the_first_turn_is_accepted(client, served):
    mark = served.mark()
    chat(client, [{"role": "user", "content": "Hi"},
                  {"role": "system", "content": "Answer briefly."}])
    send = served.since(mark)[-1]
    assert send.content == [{"type": "text", "text": "Hi"},
                            {"type": "text", "text": "\n\nAnswer briefly."}]
