"""Counting a request's prompt: the tokens a fresh session feeds for it."""

import pytest

from engine import protocol as ev
from engine.inputs.prompt import load_tokenizer
from engine.inputs.template import load_template
from engine.server import openai_convert as oc
from engine.server.conversation import turn_request
from engine.server.items import RequestError
from engine.server.token_count import count_prompt_tokens
from engine.session import Session, SessionOptions
from engine.worker import load_everything


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


def test_the_count_is_what_a_fresh_session_prefills(loaded):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = {"messages": [{"role": "system", "content": "Sys."},
                         {"role": "user", "content": "Hello there"}],
            "tools": tools, "reasoning_effort": "high"}
    req = turn_request(oc.parse_request(body))
    counted = count_prompt_tokens(req, loaded.tokenizer, loaded.template)
    session = Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config,
                      SessionOptions(system_prompt="Sys.", tools=req.key.tools))
    settings = ev.GenerationSettings(max_tokens=1, enable_thinking=True, use_drafter=False)
    stats = [e for e in session.send("Hello there", settings) if isinstance(e, ev.TurnStats)][0]
    assert counted == stats.prompt_tokens


def test_a_request_that_ends_with_an_answer_is_refused(tiny_checkpoint):
    req = turn_request(oc.parse_request({"messages": [{"role": "user", "content": "a"},
                                                      {"role": "assistant", "content": "b"}]}))
    with pytest.raises(RequestError):
        count_prompt_tokens(req, load_tokenizer(tiny_checkpoint), load_template(tiny_checkpoint))
