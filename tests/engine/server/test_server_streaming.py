"""Streams start at once and stay alive through a long prefill: with a slow scripted engine, each
API's first event and its keep-alives reach the client before the engine's first token exists, and
the prefill progress is visible in SSE comments."""

import json
import time

import httpx
import pytest
from scripted_worker import ScriptedWorker

from engine import protocol as ev
from engine.server.asgi import ServerConfig
from engine.server.server import start_server

KEEPALIVE = 0.25
# Progress comes more often than the keep-alive interval (as a fast prefill of many chunks does):
# progress comments do not count, since clients watch for events, not comments.
STEP, STEPS = 0.08, 15
SLOW = [x for k in range(1, STEPS + 1)
        for x in (ev.Progress(stage="prefill", done=k * 256, total=STEPS * 256), STEP)] + [
    ev.TextDelta(text="Hi"),
    ev.TurnStats(prompt_tokens=STEPS * 256, generated_tokens=1, context_used=STEPS * 256 + 1),
    ev.TurnFinished(reason="stop", text="Hi"),
]
REQUESTS = {
    "chat": ("/v1/chat/completions", {"model": "m", "stream": True,
                                      "messages": [{"role": "user", "content": "long"}]}),
    "anthropic": ("/v1/messages", {"model": "m", "stream": True, "max_tokens": 5,
                                   "messages": [{"role": "user", "content": "long"}]}),
    "responses": ("/v1/responses", {"model": "m", "stream": True, "input": "long"}),
}
# What a keep-alive looks like in each API, and what carries the first token.
KEEPALIVES = {"chat": ": keep-alive",
              # Anthropic's SDKs drop pings: an empty delta is what Claude Code's idle watchdog sees.
              "anthropic": 'data: {"type": "content_block_delta", "index": 0, "delta": {"type": '
                           '"text_delta", "text": ""}}',
              "responses": "event: response.in_progress"}
TOKEN = {"chat": '"content": "Hi"', "anthropic": '"text": "Hi"', "responses": '"delta": "Hi"'}


@pytest.fixture()
def slow():
    holder = {}
    worker = ScriptedWorker(lambda e: holder["handle"].on_event(e), {"SendMessage": SLOW})
    config = ServerConfig(keepalive_s=KEEPALIVE)
    holder["handle"] = handle = start_server(worker, "127.0.0.1", 0, None, config=config)
    yield handle, worker
    handle.stop()
    worker.stop()


def lines_with_times(url: str, body: dict) -> list[tuple[float, str]]:
    got = []
    with httpx.stream("POST", url, json=body, timeout=30) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line:
                got.append((time.monotonic(), line))
    return got


@pytest.mark.parametrize("api", list(REQUESTS))
def test_bytes_arrive_during_a_long_prefill(slow, api):
    handle, worker = slow
    path, body = REQUESTS[api]
    got = lines_with_times(handle.url + path, body)
    token_made = next(t for t, e in worker.sent if isinstance(e, ev.TextDelta))
    first_token = next(i for i, (_, line) in enumerate(got) if TOKEN[api] in line)
    before = got[:first_token]
    # The head of the stream and keep-alives were received before the engine made the token.
    assert before and before[0][0] < token_made
    keepalives = [t for t, line in before if line.startswith(KEEPALIVES[api])]
    assert len(keepalives) >= 2 and keepalives[0] < token_made
    assert [line for _, line in before if line.startswith(": prefill")] == [
        f": prefill {k * 256}/{STEPS * 256}" for k in range(1, STEPS + 1)]
    if api == "anthropic":
        assert sum(line == "event: ping" for _, line in before) >= 2
    if api == "responses":
        head = [json.loads(line[6:])["type"] for _, line in before if line.startswith("data: ")]
        assert head[:2] == ["response.created", "response.in_progress"]


REFUSED = [0.3, ev.ErrorEvent(message="the conversation is too long for the model's context",
                              kind="too_long")]
FAILED_EVENT = {"chat": 'data: {"error": {"message": "the conversation is too long',
                "anthropic": "event: error",
                "responses": "event: response.failed"}


@pytest.fixture()
def refusing():
    holder = {}
    worker = ScriptedWorker(lambda e: holder["handle"].on_event(e), {"SendMessage": REFUSED})
    holder["handle"] = handle = start_server(worker, "127.0.0.1", 0, None,
                                             config=ServerConfig(keepalive_s=KEEPALIVE))
    yield handle
    handle.stop()
    worker.stop()


@pytest.mark.parametrize("api", list(REQUESTS))
def test_an_engine_refusal_is_an_error_in_the_apis_shape(refusing, api):
    path, body = REQUESTS[api]
    lines = [line for _, line in lines_with_times(refusing.url + path, body)]
    assert any(line.startswith(FAILED_EVENT[api]) for line in lines), lines
    assert not any("[DONE]" in line or "message_stop" in line for line in lines)
    plain = httpx.post(refusing.url + path, json={**body, "stream": False}, timeout=30)
    assert plain.status_code == 400
    text = plain.json()["error"]["message"]
    # Anthropic's clients act on its own words for a prompt that does not fit
    start = "prompt is too long: " if api == "anthropic" else ""
    assert text.startswith(start + "the conversation is too long")


@pytest.mark.parametrize("thinking", [False, True])
def test_the_anthropic_client_sees_a_normal_message_after_keepalives(slow, thinking):
    import anthropic

    handle, _ = slow
    client = anthropic.Anthropic(base_url=handle.url, api_key="x", max_retries=0)
    kw = {"thinking": {"type": "adaptive"}} if thinking else {}
    with client.messages.stream(model="m", max_tokens=5, messages=[
            {"role": "user", "content": "long"}], **kw) as stream:
        message = stream.get_final_message()
    kinds = [b.type for b in message.content]
    assert kinds == (["thinking", "text"] if thinking else ["text"])
    assert message.content[-1].text == "Hi" and message.stop_reason == "end_turn"
