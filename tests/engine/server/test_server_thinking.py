"""Thinking: switched on per request, and its text kept apart from the answer in both APIs
(OpenAI `reasoning_content`, Anthropic `thinking` blocks), with a scripted engine."""

import anthropic
import openai
import pytest
from scripted_worker import ScriptedWorker

from engine import protocol as ev
from engine.server.server import start_server

REPLY = [
    ev.TextDelta(text="Let me think.", channel="thinking"),
    ev.TextDelta(text="Four."),
    ev.TurnStats(prompt_tokens=12, generated_tokens=6, context_used=18),
    ev.TurnFinished(reason="stop", text="Four."),
]


@pytest.fixture()
def scripted():
    holder = {}
    worker = ScriptedWorker(lambda e: holder["handle"].on_event(e), {"SendMessage": REPLY})
    holder["handle"] = handle = start_server(worker, "127.0.0.1", 0, None)
    yield handle, worker
    handle.stop()
    worker.stop()


def test_openai_reasoning_content(scripted):
    handle, worker = scripted
    client = openai.OpenAI(base_url=handle.url + "/v1", api_key="none", max_retries=0)
    messages = [{"role": "user", "content": "2+2?"}]
    r = client.chat.completions.create(model="m", messages=messages, reasoning_effort="high")
    assert worker.commands[-1].settings.enable_thinking
    assert worker.commands[0].session_id != "" and r.choices[0].message.content == "Four."
    assert r.choices[0].message.model_extra["reasoning_content"] == "Let me think."
    chunks = list(
        client.chat.completions.create(
            model="m", messages=messages, stream=True, reasoning_effort="high"
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas) == (
        "Let me think."
    )
    assert "".join(d.content or "" for d in deltas) == "Four."


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_thinking_blocks(scripted, stream):
    handle, worker = scripted
    client = anthropic.Anthropic(base_url=handle.url, api_key="none", max_retries=0)
    kw = {
        "model": "m",
        "max_tokens": 50,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "2+2?"}],
    }
    if stream:
        with client.messages.stream(**kw) as s:
            m = s.get_final_message()
    else:
        m = client.messages.create(**kw)
    assert worker.commands[-1].settings.enable_thinking
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking == "Let me think." and m.content[1].text == "Four."
