"""What reaches a session's answer: output that follows a requested constraint, and no text of
control tokens even when the model emits them."""

import json

import jsonschema
import numpy as np
import pytest

from engine import protocol as ev
from engine.inputs.output_parser import parse_output
from engine.inputs.types import ToolCall
from engine.session import Session, SessionError, SessionOptions
from engine.worker import load_everything

from session_invariants import answer_of, assert_kept_cache_matches_fresh, run

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 5},
        "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
        "kind": {"enum": ["book", "film"]},
    },
    "required": ["title", "year", "kind"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


def new_session(loaded, **options) -> Session:
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config,
                   SessionOptions(chunk_tokens=16, **options))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_json_schema_constraint_gives_json_the_schema_accepts(loaded, seed):
    s = new_session(loaded)
    settings = ev.GenerationSettings(temperature=1.0, max_tokens=200, seed=seed, use_drafter=False,
                                     constraint={"type": "json_schema", "schema": SCHEMA})
    events = run(s.send("A record, please.", settings))
    finished = [e for e in events if isinstance(e, ev.TurnFinished)][0]
    assert finished.reason == "stop"
    jsonschema.validate(json.loads(finished.text), SCHEMA)
    assert_kept_cache_matches_fresh(s)
    run(s.send("Thanks.", ev.GenerationSettings(temperature=0.0, max_tokens=4, use_drafter=False)))
    assert_kept_cache_matches_fresh(s)


def test_a_loaded_history_answered_after_tool_results_follows_the_constraint(loaded):
    # The local API re-renders a conversation this way when it cannot continue a kept one.
    s = new_session(loaded)
    history = [
        {"role": "user", "content": "Read a.py"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"function": {"name": "read_file", "arguments": {"path": "a.py"}}}],
         "tool_responses": [{"name": "read_file", "response": {"text": "x = 1"}}]},
    ]
    settings = ev.GenerationSettings(temperature=1.0, max_tokens=200, seed=0, use_drafter=False,
                                     constraint={"type": "json_schema", "schema": SCHEMA})
    events = run(s.load_history(history, settings, answer=True))
    finished = [e for e in events if isinstance(e, ev.TurnFinished)][0]
    assert finished.reason == "stop"
    jsonschema.validate(json.loads(finished.text), SCHEMA)
    run(s.send("Thanks.", ev.GenerationSettings(temperature=0.0, max_tokens=4, use_drafter=False)))
    assert_kept_cache_matches_fresh(s)


def test_a_forced_tool_call_is_a_call_the_session_reports(loaded):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string", "maxLength": 4}},
        "required": ["q"]}}}]
    s = new_session(loaded, tools=tools)
    settings = ev.GenerationSettings(
        temperature=1.0, max_tokens=100, seed=0, use_drafter=False,
        constraint={"type": "tool_call", "tools": tools, "name": "lookup"})
    events = run(s.send("Find it.", settings))
    calls = [e for e in events if isinstance(e, ev.ToolCallEvent)]
    assert [c.name for c in calls] == ["lookup"] and len(calls[0].arguments["q"]) <= 4
    assert [e for e in events if isinstance(e, ev.TurnFinished)][0].reason == "tool_calls"
    assert s.awaiting_tools


def test_a_constraint_that_cannot_be_built_changes_nothing(loaded):
    s = new_session(loaded)
    run(s.send("Hello", ev.GenerationSettings(temperature=0.0, max_tokens=3, use_drafter=False)))
    before = s.token_ids().tolist()
    bad = ev.GenerationSettings(constraint={"type": "json_schema", "schema": {"format": "nope",
                                                                               "type": "string"}})
    with pytest.raises(SessionError, match="cannot be enforced"):
        run(s.send("Again", bad))
    assert s.token_ids().tolist() == before and s.user_turns == 1
    with pytest.raises(SessionError, match="cannot be enforced"):
        run(s.regenerate(bad))
    assert s.token_ids().tolist() == before and len(s.answer_marks) == 1


def test_tool_results_under_a_constraint_that_cannot_be_built_change_nothing(loaded):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string", "maxLength": 4}},
        "required": ["q"]}}}]
    s = new_session(loaded, tools=tools)
    run(s.send("Find it.", ev.GenerationSettings(
        temperature=1.0, max_tokens=100, seed=0, use_drafter=False,
        constraint={"type": "tool_call", "tools": tools, "name": "lookup"})))
    before, waiting = s.token_ids().tolist(), list(s.awaiting_tools)
    assert waiting
    bad = ev.GenerationSettings(constraint={"type": "json_schema", "schema": {"format": "nope",
                                                                               "type": "string"}})
    with pytest.raises(SessionError, match="cannot be enforced"):
        run(s.send_tool_results([{"name": "lookup", "response": {"text": "x"}}], bad))
    assert s.token_ids().tolist() == before and s.awaiting_tools == waiting


class Forced:
    """A constraint that makes the model emit the given tokens, then end the turn."""

    def __init__(self, tokens, vocab):
        self.tokens, self.vocab, self.n = list(tokens) + [106], vocab, 0

    def allowed(self):
        mask = np.zeros(self.vocab, bool)
        mask[self.tokens[self.n]] = True
        return mask

    def advance(self, token):
        self.n += 1


def test_control_tokens_the_model_emits_never_become_text(loaded):
    tok = loaded.tokenizer
    ids = tok.encode("Hi<bos> there<unused12><|turn><|image|>!", add_special_tokens=False)
    assert len(ids) > 6
    s = new_session(loaded)
    vocab = loaded.model.config.text_config.vocab_size
    events = run(s.send("Say hi", ev.GenerationSettings(temperature=0.0, max_tokens=40,
                                                        use_drafter=False),
                        constraint=Forced(ids, vocab)))
    text = answer_of(events)
    assert text == "Hi there!"
    assert "".join(e.text for e in events if isinstance(e, ev.TextDelta)) == "Hi there!"
    assert s.segments[-1].ids.tolist() == ids  # the cache holds what the model emitted
    assert_kept_cache_matches_fresh(s)


def test_parser_tokens_still_reach_the_parser(loaded):
    tok = loaded.tokenizer
    text = '<|channel>thought\nhm<channel|>ok<|tool_call>call:f{a:<|"|>x<|"|>}<tool_call|>'
    ids = tok.encode(text, add_special_tokens=False)
    s = new_session(loaded)
    forced = Forced(ids, loaded.model.config.text_config.vocab_size)
    events = run(s.send("Go", ev.GenerationSettings(temperature=0.0, max_tokens=60,
                                                   use_drafter=False, enable_thinking=True),
                        constraint=forced))
    assert [e.text for e in events if isinstance(e, ev.TextDelta) and e.channel == "thinking"]
    assert [(e.name, e.arguments) for e in events if isinstance(e, ev.ToolCallEvent)] == [
        ("f", {"a": "x"})]
    assert [i for i in parse_output(text) if isinstance(i, ToolCall)]
