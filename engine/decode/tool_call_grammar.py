"""A forced tool call as a grammar: Gemma's call syntax, with arguments that follow each tool's schema.

`tool_call_lark(tools, name=None, thinking=False)` returns a Lark grammar (llguidance's dialect) that
accepts exactly `<|tool_call>call:NAME{...}<tool_call|>` blocks (one or more; exactly one call of
`name` when given) followed by `<|tool_response>`, the token after which the model waits for results.
With `thinking`, a thought channel (`<|channel>...<channel|>`) may come first.

Arguments are written the way the chat template writes them (`engine.inputs.gemma_syntax`): strings
between `<|"|>` tokens, keys bare (quoted only when they cannot be bare) in sorted order, no spaces,
so `parse_calls` reads every accepted text back. Numbers, booleans and null are the same in JSON and
in Gemma's syntax: their schemas go to llguidance's JSON compiler (`%json`), which enforces bounds.

Supported JSON Schema: type (or a list of types), properties, required, additionalProperties (a
schema gives a map when there are no properties; otherwise only the named properties are written),
items, prefixItems, minItems, maxItems, enum, const, anyOf/oneOf (as alternatives), allOf of one
schema, local $ref (#/$defs/..., #/definitions/...), minLength, maxLength, pattern, and the numeric
bounds. Annotations (description, title, default, examples, ...) are ignored. Any other keyword
raises `SchemaFeatureError`, which names it and where it is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.inputs.gemma_syntax import QUOTE
from engine.inputs.output_parser import (
    CALL_CLOSE,
    CALL_OPEN,
    CHANNEL_CLOSE,
    CHANNEL_OPEN,
    CONTROL_TOKENS,
    TOOL_RESPONSE,
)

ANNOTATIONS = frozenset({
    "description", "title", "default", "examples", "$schema", "$id", "$comment", "deprecated",
    "readOnly", "writeOnly", "strict", "$defs", "definitions", "nullable",
})
NUMBER_KEYS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
KNOWN = ANNOTATIONS | NUMBER_KEYS | {
    "type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems",
    "maxItems", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "minLength", "maxLength",
    "pattern",
}
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-.]*")
_TOOL_NAME = re.compile(r"[A-Za-z_][\w.\-]*")

# Text that does not spell a control token: the output parser would take it for the token itself.
NO_CONTROL = "~/(?s:.*)(" + "|".join(re.escape(t) for t in (*CONTROL_TOKENS, QUOTE)) + ")(?s:.*)/"

# Any Gemma value, for schemas that say nothing about it.
GENERIC_RULES = """\
g_value: g_string | g_number | "true" | "false" | "null" | g_object | g_array
g_string: QUOTE_TOKEN G_TEXT QUOTE_TOKEN | QUOTE_TOKEN QUOTE_TOKEN
G_TEXT: /(?s:.+)/ & NO_CONTROL
g_number: %json{"type": "number"}
g_object: "{" (g_member ("," g_member)*)? "}"
g_member: G_KEY ":" g_value
G_KEY: /[A-Za-z_][A-Za-z0-9_]*/
g_array: "[" (g_value ("," g_value)*)? "]"
""".replace("QUOTE_TOKEN", QUOTE).replace("NO_CONTROL", NO_CONTROL)


class SchemaFeatureError(ValueError):
    """A schema this grammar cannot enforce; the message names the feature and where it is."""


def lark_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def literal(value: Any) -> str:
    """A Lark sequence that matches exactly `value` as the chat template writes it."""
    if isinstance(value, str):
        return f"{QUOTE} {lark_string(value)} {QUOTE}" if value else f"{QUOTE} {QUOTE}"
    if isinstance(value, bool):
        return '"true"' if value else '"false"'
    if value is None:
        return '"null"'
    if isinstance(value, (int, float)):
        return lark_string(repr(value))
    if isinstance(value, dict):
        members = [f"{_key(k)} \":\" {literal(value[k])}" for k in sorted(value)]
        return '"{" ' + ' "," '.join(members) + ' "}"' if members else '"{" "}"'
    if isinstance(value, list):
        items = [literal(v) for v in value]
        return '"[" ' + ' "," '.join(items) + ' "]"' if items else '"[" "]"'
    raise SchemaFeatureError(f"a {type(value).__name__} value cannot appear in a tool call")


def _key(name: str) -> str:
    if _BARE_KEY.fullmatch(name):
        return lark_string(name)
    return f"{QUOTE} {lark_string(name)} {QUOTE}"


class _Builder:
    def __init__(self, root: dict) -> None:
        self.root = root
        self.rules: dict[str, str] = {}
        self.refs: dict[str, str] = {}
        self.generic = False

    def new_rule(self, body: str) -> str:
        name = f"r{len(self.rules)}"
        self.rules[name] = body
        return name

    def new_text(self, regex: str) -> str:
        """A terminal for string contents that match `regex` and spell no control token."""
        name = f"S{len(self.rules)}"
        self.rules[name] = f"{regex} & {NO_CONTROL}"
        return name

    def value(self, schema: Any, where: str) -> str:
        """The name of a rule (or a short expression) for values of `schema`."""
        if schema is True or schema == {}:
            self.generic = True
            return "g_value"
        if not isinstance(schema, dict):
            raise SchemaFeatureError(f"the schema at {where} must be an object")
        unknown = sorted(set(schema) - KNOWN)
        if unknown:
            raise SchemaFeatureError(
                f"the JSON schema keyword '{unknown[0]}' (at {where}) is not supported for a "
                "forced tool call")
        if "$ref" in schema:
            return self._ref(schema["$ref"], where)
        if "const" in schema:
            return self.new_rule(literal(schema["const"]))
        if "enum" in schema:
            if not isinstance(schema["enum"], list) or not schema["enum"]:
                raise SchemaFeatureError(f"'enum' at {where} must be a non-empty array")
            return self.new_rule(" | ".join(literal(v) for v in schema["enum"]))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = schema[key]
                if not isinstance(options, list) or not options:
                    raise SchemaFeatureError(f"'{key}' at {where} must be a non-empty array")
                return self.new_rule(" | ".join(
                    self.value(o, f"{where}.{key}[{i}]") for i, o in enumerate(options)))
        if "allOf" in schema:
            options = schema["allOf"]
            if not isinstance(options, list) or len(options) != 1:
                raise SchemaFeatureError(
                    f"'allOf' with more than one schema (at {where}) is not supported for a "
                    "forced tool call")
            return self.value(options[0], f"{where}.allOf[0]")
        kind = schema.get("type")
        if kind is None:
            kind = ("object" if "properties" in schema or "additionalProperties" in schema
                    else "array" if "items" in schema or "prefixItems" in schema
                    else "string" if {"minLength", "maxLength", "pattern"} & set(schema)
                    else "number" if NUMBER_KEYS & set(schema) else None)
        if kind is None:
            self.generic = True
            return "g_value"
        if isinstance(kind, list):
            return self.new_rule(" | ".join(
                self.value({**schema, "type": k}, where) for k in kind))
        if kind == "string":
            return self._string(schema, where)
        if kind in ("number", "integer"):
            numeric = {k: v for k, v in schema.items() if k in NUMBER_KEYS}
            return self.new_rule("%json" + json.dumps({"type": kind, **numeric}))
        if kind == "boolean":
            return self.new_rule('"true" | "false"')
        if kind == "null":
            return self.new_rule('"null"')
        if kind == "object":
            return self._object(schema, where)
        if kind == "array":
            return self._array(schema, where)
        raise SchemaFeatureError(f"the type {kind!r} at {where} is not a JSON schema type")

    def _ref(self, ref: Any, where: str) -> str:
        if not isinstance(ref, str) or not re.fullmatch(r"#/(\$defs|definitions)/[^/]+", ref):
            raise SchemaFeatureError(
                f"the $ref {ref!r} at {where} is not supported: only #/$defs/NAME and "
                "#/definitions/NAME refer inside the schema")
        if ref not in self.refs:
            group, name = ref[2:].split("/", 1)
            target = (self.root.get(group) or {}).get(name)
            if target is None:
                raise SchemaFeatureError(f"the $ref {ref!r} at {where} names nothing in the schema")
            rule = self.new_rule("")  # reserved first: the definition may refer to itself
            self.refs[ref] = rule
            self.rules[rule] = self.value(target, ref)
        return self.refs[ref]

    def _string(self, schema: dict, where: str) -> str:
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        if "pattern" in schema:
            if "minLength" in schema or high is not None:
                raise SchemaFeatureError(
                    f"'pattern' together with a length (at {where}) is not supported for a "
                    "forced tool call")
            pattern = schema["pattern"]
            if not isinstance(pattern, str):
                raise SchemaFeatureError(f"'pattern' at {where} must be a string")
            body = pattern.removeprefix("^").removesuffix("$").replace("/", "\\/")
            return self.new_rule(f"{QUOTE} {self.new_text(f'/{body}/')} {QUOTE}")
        if high is None and low == 0:
            text = self.new_text("/(?s:.+)/")
        else:
            low, top = max(low, 1), "" if high is None else str(int(high))
            if high is not None and int(high) < low:
                return self.new_rule(f"{QUOTE} {QUOTE}")  # only "" fits
            text = self.new_text(f"/(?s:.{{{low},{top}}})/")
        empty = f" | {QUOTE} {QUOTE}" if int(schema.get("minLength", 0)) == 0 else ""
        return self.new_rule(f"{QUOTE} {text} {QUOTE}{empty}")

    def _object(self, schema: dict, where: str) -> str:
        props = schema.get("properties") or {}
        if not isinstance(props, dict):
            raise SchemaFeatureError(f"'properties' at {where} must be an object")
        required = set(schema.get("required") or [])
        missing = sorted(required - set(props))
        extra = schema.get("additionalProperties", True)
        if not props and isinstance(extra, dict) and extra:
            value = self.value(extra, f"{where}.additionalProperties")
            member = self.new_rule(f'/[A-Za-z_][A-Za-z0-9_]*/ ":" {value}')
            return self.new_rule(f'"{{" ({member} ("," {member})*)? "}}"')
        if missing:
            raise SchemaFeatureError(
                f"'{missing[0]}' is required at {where} but not among its properties; such a "
                "schema is not supported for a forced tool call")
        names = sorted(props)
        members = [
            f"{_key(n)} \":\" {self.value(props[n], f'{where}.properties.{n}')}" for n in names]
        # Members are written in sorted order, optional ones may be left out, commas only between.
        # tail: the members after i, each with its leading comma (may match nothing);
        # head: the members from i on that are written, the first without a comma (never empty);
        # nullable: whether every member from i on may be left out.
        tail, head, nullable = "", "", True
        for i in range(len(names) - 1, -1, -1):
            first = f"{members[i]} {tail}".strip()
            if names[i] in required:
                head, nullable = self.new_rule(first), False
            else:
                head = self.new_rule(f"{first} | {head}" if head else first)
            if i > 0:
                comma = f'"," {members[i]}'
                tail = self.new_rule(f"{comma} {tail}".strip() if names[i] in required
                                     else f"({comma})? {tail}".strip())
        if not names:
            return self.new_rule('"{" "}"')
        return self.new_rule(f'"{{" {head}{"?" if nullable else ""} "}}"')

    def _array(self, schema: dict, where: str) -> str:
        low, high = int(schema.get("minItems", 0)), schema.get("maxItems")
        if "prefixItems" in schema:
            fixed = [self.value(s, f"{where}.prefixItems[{i}]")
                     for i, s in enumerate(schema["prefixItems"])]
            if schema.get("items", False) not in (False, None) or low > len(fixed):
                raise SchemaFeatureError(
                    f"'prefixItems' followed by more items (at {where}) is not supported for a "
                    "forced tool call")
            return self.new_rule('"[" ' + ' "," '.join(fixed) + ' "]"' if fixed else '"[" "]"')
        item = self.value(schema.get("items", True), f"{where}.items")
        if high is not None and int(high) == 0:
            return self.new_rule('"[" "]"')
        more_low = max(low - 1, 0)
        more_high = "" if high is None else str(int(high) - 1)
        more = f'("," {item}){{{more_low},{more_high}}}'
        items = f"{item} {more}"
        return self.new_rule(f'"[" {items} "]"' if low > 0 else f'"[" ({items})? "]"')


def arguments_rule(builder: _Builder, parameters: Any, where: str) -> str:
    """The rule for a call's arguments: always an object (`{}` when the tool takes none)."""
    if parameters in (None, {}):
        return builder.new_rule('"{" "}"')
    if not isinstance(parameters, dict):
        raise SchemaFeatureError(f"the parameters at {where} must be a JSON schema object")
    if parameters.get("type", "object") != "object":
        raise SchemaFeatureError(f"the parameters at {where} must describe an object")
    return builder.value({**parameters, "type": "object"}, where)


def tool_call_lark(tools: list[dict], name: str | None = None, thinking: bool = False) -> str:
    """The Lark grammar of a forced call (see the module docstring)."""
    calls = []
    rules: list[str] = []
    for i, tool in enumerate(tools):
        fn = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise SchemaFeatureError(f"tools[{i}] must be a function with a name")
        if name is not None and fn["name"] != name:
            continue
        if not _TOOL_NAME.fullmatch(fn["name"]):
            raise SchemaFeatureError(
                f"the tool name {fn['name']!r} cannot be written in Gemma's call syntax")
        builder = _Builder(fn.get("parameters") or {})
        args = arguments_rule(builder, fn.get("parameters"), f"tools[{i}].parameters")
        renamed = {r: (f"T{i}_" if r[0] == "S" else f"t{i}_") + r for r in builder.rules}

        def rename(body: str) -> str:
            return re.sub(r"\b[rS]\d+\b", lambda m: renamed.get(m.group(), m.group()), body)

        rules += [f"{renamed[r]}: {rename(body)}" for r, body in builder.rules.items()]
        calls.append(f'{lark_string("call:" + fn["name"])} {renamed.get(args, args)}')
        if builder.generic and GENERIC_RULES not in rules:
            rules.append(GENERIC_RULES)
    if not calls:
        raise SchemaFeatureError(f"no tool is named {name!r}" if name else "there is no tool to call")
    block = f"{CALL_OPEN} call {CALL_CLOSE}"
    blocks = "block" if name is not None else "block+"
    think = f"({CHANNEL_OPEN} THOUGHT? {CHANNEL_CLOSE})? " if thinking else ""
    head = [
        f"start: {think}{blocks} {TOOL_RESPONSE}",
        f"THOUGHT: /(?s:.+)/ & {NO_CONTROL}",
        f"block: {block}",
        "call: " + " | ".join(calls),
    ]
    return "\n".join(head + rules) + "\n"
