"""Constraints from plain-data specs over the tiny checkpoint's tokenizer: random walks through the
allowed tokens always end in text that parses and that the schema accepts."""

import json

import jsonschema
import numpy as np
import pytest

from engine.decode.grammar import ConstraintError, build_constraint, check_spec, grammar_of
from engine.inputs.gemma_syntax import format_value
from engine.inputs.output_parser import Text, Thinking, parse_output
from engine.inputs.prompt import load_tokenizer
from engine.inputs.types import ToolCall

TURN_END, TOOL_RESPONSE = 106, 50
VOCAB = 512
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 6},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "ok": {"type": "boolean"},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 8},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "unit": {"enum": ["c", "f"]},
            },
            "required": ["city"],
        },
    },
}
PING = {"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}}


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    return load_tokenizer(tiny_checkpoint)


def walk(spec, tokenizer, seed, thinking=False, limit=600) -> tuple[str, int]:
    """Random allowed tokens until the turn ends; returns (text, the ending token)."""
    constraint = build_constraint(spec, tokenizer, VOCAB, thinking)
    rng = np.random.default_rng(seed)
    ids = []
    for _ in range(limit):
        token = int(rng.choice(np.flatnonzero(constraint.allowed())))
        if token in (TURN_END, TOOL_RESPONSE):
            return tokenizer.decode(ids, skip_special_tokens=False), token
        ids.append(token)
        constraint.advance(token)
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("seed", range(6))
def test_json_schema_walks_give_json_the_schema_accepts(tokenizer, seed):
    text, end = walk({"type": "json_schema", "schema": PERSON}, tokenizer, seed)
    assert end == TURN_END
    jsonschema.validate(json.loads(text), PERSON)
    assert text == json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("seed", range(6))
def test_forced_calls_parse_and_follow_each_tools_schema(tokenizer, seed):
    text, end = walk({"type": "tool_call", "tools": [WEATHER, PING]}, tokenizer, seed)
    assert end == TOOL_RESPONSE
    items = parse_output(text)
    calls = [i for i in items if isinstance(i, ToolCall)]
    assert calls and len(calls) == len(items)  # nothing but calls, all of them well formed
    # Written as the chat template writes calls (sorted bare keys, no spaces): what the model knows.
    assert text == "".join(
        f"<|tool_call>call:{c.name}{format_value(c.arguments)}<tool_call|>" for c in calls)
    for call in calls:
        schema = WEATHER if call.name == "get_weather" else PING
        jsonschema.validate(call.arguments, schema["function"]["parameters"])


@pytest.mark.parametrize("seed", range(4))
def test_a_named_call_is_exactly_one_call_of_that_tool_after_optional_thinking(tokenizer, seed):
    spec = {"type": "tool_call", "tools": [WEATHER, PING], "name": "get_weather"}
    text, end = walk(spec, tokenizer, seed, thinking=True, limit=3000)
    items = parse_output(text)
    calls = [i for i in items if isinstance(i, ToolCall)]
    assert end == TOOL_RESPONSE and [c.name for c in calls] == ["get_weather"]
    assert all(isinstance(i, (Thinking, ToolCall)) for i in items)
    assert not any(isinstance(i, Text) for i in items)


def test_json_after_thinking_still_parses(tokenizer):
    for seed in range(4):
        text, _ = walk({"type": "json_schema", "schema": PERSON}, tokenizer, seed, thinking=True,
                       limit=3000)
        answer = "".join(i.text for i in parse_output(text) if isinstance(i, Text))
        jsonschema.validate(json.loads(answer), PERSON)


def test_a_json_object_is_closed_when_closing_is_preferred(tokenizer):
    constraint = build_constraint({"type": "json_object"}, tokenizer, VOCAB)
    closers = [tokenizer.convert_tokens_to_ids(t) for t in ("}", '"', "1")]
    ids = []
    for _ in range(50):
        allowed = np.flatnonzero(constraint.allowed())
        if TURN_END in allowed:
            break
        token = next((c for c in closers if c in allowed), int(allowed[0]))
        ids.append(token)
        constraint.advance(token)
    assert isinstance(json.loads(tokenizer.decode(ids)), dict)


def test_strings_never_spell_a_control_token(tokenizer):
    """Text such as '<|"|>' made of plain characters would end the string for the output parser."""
    note = {"type": "function", "function": {"name": "note", "parameters": {
        "type": "object", "properties": {"a": {"type": "string"}}}}}
    for inside in ('x<|"|', "x<tool_call|"):
        constraint = build_constraint({"type": "tool_call", "tools": [note]}, tokenizer, VOCAB)
        head = tokenizer.encode('<|tool_call>call:note{a:<|"|>', add_special_tokens=False)
        for token in head + [tokenizer.convert_tokens_to_ids(c) for c in inside]:
            assert constraint.allowed()[token]
            constraint.advance(token)
        assert not constraint.allowed()[tokenizer.convert_tokens_to_ids(">")]


@pytest.mark.parametrize("spec, words", [
    ({"type": "json_schema", "schema": {"type": "string", "format": "bogus"}}, "bogus"),
    ({"type": "json_schema", "schema": {"type": "object", "if": {}}}, "if"),
    ({"type": "tool_call", "tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"u": {"type": "string", "format": "uri"}}}}}]},
     "'format' (at tools[0].parameters.properties.u)"),
    ({"type": "tool_call", "tools": [PING], "name": "other"}, "no tool is named 'other'"),
    ({"type": "regex"}, "json_schema, json_object, tool_call"),
])
def test_what_cannot_be_enforced_is_named(spec, words):
    with pytest.raises(ConstraintError) as e:
        check_spec(spec)
    assert words in str(e.value)


def test_supported_specs_pass_the_check_without_a_tokenizer():
    check_spec({"type": "json_schema", "schema": PERSON})
    check_spec({"type": "json_object"})
    check_spec({"type": "tool_call", "tools": [WEATHER, PING]}, thinking=True)
    assert "%json" not in grammar_of({"type": "json_schema", "schema": PERSON})
