"""Constrained decoding with llguidance: a `TokenConstraint` from a plain-data spec.

A spec (what `GenerationSettings.constraint` carries) is one of:
- `{"type": "json_schema", "schema": {...}}`: the answer is JSON that the schema accepts;
- `{"type": "json_object"}`: the answer is a JSON object;
- `{"type": "tool_call", "tools": [...], "name": optional}`: the answer is one or more calls of the
  given tools (exactly one call of `name` when given) in Gemma's call syntax, with arguments that
  follow each tool's parameter schema (`engine.decode.tool_call_grammar`).

JSON is written without spaces or newlines between tokens (the same text a model writes compactly, and
it ends sooner under random weights). With thinking on, a thought channel may come first. Once the
grammar is complete, only the end of the turn (`<turn|>`) is allowed.

- `grammar_of(spec, thinking)` gives llguidance's grammar text; `check_spec(spec)` raises
  `ConstraintError` with a sentence that names what cannot be enforced (an unknown spec, a JSON
  schema feature llguidance does not implement, a tool schema feature the call grammar does not
  cover). Neither needs a tokenizer.
- `build_constraint(spec, tokenizer, vocab_size, thinking)` gives a `GrammarConstraint` over the
  checkpoint's tokenizer (an mlx-lm `TokenizerWrapper` or a Hugging Face fast tokenizer). llguidance's
  view of the tokenizer is built once per tokenizer and vocabulary size (about a second for
  Gemma's 262k tokens) and kept while the tokenizer lives.
"""

from __future__ import annotations

import copy
import json
import weakref
from typing import Any

import llguidance
import llguidance.numpy
import numpy as np

from engine.decode.tool_call_grammar import NO_CONTROL, SchemaFeatureError, tool_call_lark
from engine.inputs.output_parser import CHANNEL_CLOSE, CHANNEL_OPEN, TURN_END

SPEC_TYPES = ("json_schema", "json_object", "tool_call")
# Compact JSON: no whitespace between tokens.
JSON_OPTIONS = {"whitespace_flexible": False}


class ConstraintError(ValueError):
    """A constraint that cannot be enforced; the message says what and why."""


def grammar_of(spec: Any, thinking: bool = False) -> str:
    """llguidance's grammar text for `spec` (see the module docstring)."""
    if not isinstance(spec, dict) or spec.get("type") not in SPEC_TYPES:
        raise ConstraintError(
            f"a constraint must be an object whose type is one of {', '.join(SPEC_TYPES)}")
    kind = spec["type"]
    if kind == "tool_call":
        tools = spec.get("tools")
        if not isinstance(tools, list) or not tools:
            raise ConstraintError("a forced tool call needs at least one tool")
        try:
            return llguidance.LLMatcher.grammar_from_lark(
                tool_call_lark(tools, spec.get("name"), thinking))
        except SchemaFeatureError as e:
            raise ConstraintError(str(e)) from e
    schema = {"type": "object"} if kind == "json_object" else spec.get("schema")
    if isinstance(schema, bool):
        schema = {} if schema else {"not": {}}
    if not isinstance(schema, dict):
        raise ConstraintError("a json_schema constraint needs a 'schema' object")
    schema = copy.deepcopy(schema)
    schema["x-guidance"] = {**JSON_OPTIONS, **(schema.get("x-guidance") or {})}
    if not thinking:
        return llguidance.LLMatcher.grammar_from_json_schema(schema)
    lark = (f"start: ({CHANNEL_OPEN} THOUGHT? {CHANNEL_CLOSE})? answer\n"
            f"THOUGHT: /(?s:.+)/ & {NO_CONTROL}\nanswer: %json{json.dumps(schema)}\n")
    return llguidance.LLMatcher.grammar_from_lark(lark)


def check_spec(spec: Any, thinking: bool = False) -> None:
    """Raise `ConstraintError` when `spec` cannot be enforced."""
    grammar = grammar_of(spec, thinking)
    error = llguidance.LLMatcher.validate_grammar(grammar)
    if error:
        raise ConstraintError(f"this schema cannot be enforced: {_first_line(error)}")


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "unknown grammar error"
    return line.split(": failed to compile JSON schema: ")[-1]


_TOKENIZERS: "weakref.WeakKeyDictionary[Any, dict[int, Any]]" = weakref.WeakKeyDictionary()


def guidance_tokenizer(tokenizer: Any, vocab_size: int) -> Any:
    """llguidance's tokenizer for `tokenizer`, whose end of sequence is `<turn|>`."""
    try:
        kept = _TOKENIZERS.setdefault(tokenizer, {})
    except TypeError:  # not weakly referable: build it each time
        kept = {}
    if vocab_size not in kept:
        backend = copy.copy(tokenizer.backend_tokenizer)
        backend.no_padding()
        backend.no_truncation()
        end = tokenizer.convert_tokens_to_ids(TURN_END)
        kept[vocab_size] = llguidance.LLTokenizer(backend.to_str(), n_vocab=vocab_size,
                                                   eos_token=end)
    return kept[vocab_size]


class GrammarConstraint:
    """A `TokenConstraint` over an llguidance matcher (see `engine.decode.sampling`)."""

    def __init__(self, matcher: Any, vocab_size: int, end_token: int) -> None:
        self.matcher = matcher
        self.vocab_size = vocab_size
        self.end_token = end_token
        self._bits = llguidance.numpy.allocate_token_bitmask(1, vocab_size)

    def allowed(self) -> np.ndarray:
        if self.matcher.is_error():  # should not happen; end the turn rather than write garbage
            mask = np.zeros(self.vocab_size, bool)
            mask[self.end_token] = True
            return mask
        llguidance.numpy.fill_next_token_bitmask(self.matcher, self._bits)
        return np.unpackbits(self._bits.view(np.uint8), count=self.vocab_size,
                             bitorder="little").view(bool)

    def advance(self, token: int) -> None:
        if not self.matcher.is_error():
            self.matcher.consume_token(int(token))

    @property
    def finished(self) -> bool:
        """The grammar is complete (only the end of the turn may follow)."""
        return self.matcher.is_accepting()


def build_constraint(spec: dict, tokenizer: Any, vocab_size: int,
                     thinking: bool = False) -> GrammarConstraint:
    """A constraint for `spec` over this tokenizer; raises `ConstraintError` when it cannot be built."""
    grammar = grammar_of(spec, thinking)
    matcher = llguidance.LLMatcher(guidance_tokenizer(tokenizer, vocab_size), grammar, log_level=0)
    if matcher.is_error():
        raise ConstraintError(f"this schema cannot be enforced: {_first_line(matcher.get_error())}")
    return GrammarConstraint(matcher, vocab_size, tokenizer.convert_tokens_to_ids(TURN_END))
