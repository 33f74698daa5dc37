"""JSON schemas as grammars over Gemma's call syntax: which call texts a forced call accepts."""

import llguidance
import pytest

from engine.decode.grammar import guidance_tokenizer
from engine.decode.tool_call_grammar import SchemaFeatureError, literal, tool_call_lark
from engine.inputs.prompt import load_tokenizer

Q = '<|"|>'


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    return load_tokenizer(tiny_checkpoint)


def accepts(tokenizer, parameters, args_text: str, name: str = "f") -> bool:
    tools = [{"type": "function", "function": {"name": name, "parameters": parameters}}]
    grammar = llguidance.LLMatcher.grammar_from_lark(tool_call_lark(tools))
    matcher = llguidance.LLMatcher(guidance_tokenizer(tokenizer, 512), grammar, log_level=0)
    text = f"<|tool_call>call:{name}{args_text}<tool_call|><|tool_response>"
    ids = tokenizer.encode(text, add_special_tokens=False)
    return matcher.consume_tokens(ids) and matcher.is_accepting() and not matcher.is_error()


OBJ = {
    "type": "object",
    "properties": {"b": {"type": "integer"}, "a": {"type": "string"}, "c": {"type": "boolean"}},
    "required": ["b"],
}


@pytest.mark.parametrize("text, ok", [
    ("{b:1}", True),
    (f"{{a:{Q}x{Q},b:1}}", True),
    (f"{{a:{Q}x{Q},b:1,c:true}}", True),
    ("{b:1,c:false}", True),
    (f"{{b:1,a:{Q}x{Q}}}", False),  # not in sorted order
    (f"{{a:{Q}x{Q}}}", False),  # b is required
    ("{}", False),
    ("{b:1,}", False),
    ("{b: 1}", False),  # no spaces, as the template writes it
    ('{b:"1"}', False),
    ("{b:1,d:2}", False),  # only the named properties
])
def test_required_and_optional_members_in_template_order(tokenizer, text, ok):
    assert accepts(tokenizer, OBJ, text) is ok


def test_all_optional_members_may_all_be_left_out(tokenizer):
    schema = {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "null"}}}
    assert accepts(tokenizer, schema, "{}") and accepts(tokenizer, schema, "{y:null}")
    assert accepts(tokenizer, schema, "{x:-3,y:null}") and not accepts(tokenizer, schema, "{,y:null}")


def test_numbers_keep_their_bounds_and_strings_their_lengths(tokenizer):
    schema = {"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 2, "maximum": 5},
        "s": {"type": "string", "minLength": 2, "maxLength": 3},
    }, "required": ["n", "s"]}
    assert accepts(tokenizer, schema, f"{{n:5,s:{Q}ab{Q}}}")
    assert not accepts(tokenizer, schema, f"{{n:6,s:{Q}ab{Q}}}")
    assert not accepts(tokenizer, schema, f"{{n:2,s:{Q}abcd{Q}}}")
    assert not accepts(tokenizer, schema, f"{{n:2,s:{Q}a{Q}}}")


def test_arrays_enums_consts_alternatives_and_refs(tokenizer):
    schema = {
        "type": "object",
        "properties": {
            "list": {"type": "array", "items": {"$ref": "#/$defs/pick"}, "minItems": 1, "maxItems": 2},
            "mode": {"const": "fast"},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 2}]},
            "tree": {"$ref": "#/$defs/node"},
        },
        "$defs": {
            "pick": {"enum": ["x", 1, None]},
            "node": {"type": "object", "properties": {"kids": {"type": "array", "items": {
                "$ref": "#/$defs/node"}}}},
        },
    }
    assert accepts(tokenizer, schema, f"{{list:[{Q}x{Q},null]}}")
    assert not accepts(tokenizer, schema, "{list:[]}")
    assert not accepts(tokenizer, schema, "{list:[1,1,1]}")
    assert accepts(tokenizer, schema, f"{{mode:{Q}fast{Q}}}")
    assert not accepts(tokenizer, schema, f"{{mode:{Q}slow{Q}}}")
    assert accepts(tokenizer, schema, "{either:7}") and accepts(tokenizer, schema, f"{{either:{Q}ab{Q}}}")
    assert accepts(tokenizer, schema, "{tree:{kids:[{kids:[]},{}]}}")


def test_keys_that_cannot_be_bare_are_quoted(tokenizer):
    schema = {"type": "object", "properties": {"a b": {"type": "boolean"}}, "required": ["a b"]}
    assert accepts(tokenizer, schema, f"{{{Q}a b{Q}:true}}")
    assert literal({"k": ["v", 1.5, None], "z y": False}) == (
        '"{" "k" ":" "[" <|"|> "v" <|"|> "," "1.5" "," "null" "]" "," <|"|> "z y" <|"|> ":" '
        '"false" "}"')


def test_a_schema_that_says_nothing_takes_any_value(tokenizer):
    schema = {"type": "object", "properties": {"v": {}}}
    for value in ("1.5", "true", f"{Q}s{Q}", f"{{k:[1,{Q}{Q}]}}", "null"):
        assert accepts(tokenizer, schema, f"{{v:{value}}}"), value


@pytest.mark.parametrize("parameters, words", [
    ({"type": "object", "properties": {"x": {"type": "string", "format": "date"}}}, "'format'"),
    ({"type": "object", "properties": {"x": {"not": {}}}}, "'not'"),
    ({"type": "object", "properties": {"x": {"allOf": [{}, {}]}}}, "'allOf'"),
    ({"type": "object", "properties": {"x": {"$ref": "http://x/y"}}}, "$ref"),
    ({"type": "object", "required": ["x"]}, "'x' is required"),
    ({"type": "array"}, "must describe an object"),
])
def test_unsupported_features_are_named(parameters, words):
    with pytest.raises(SchemaFeatureError) as e:
        tool_call_lark([{"type": "function", "function": {"name": "f", "parameters": parameters}}])
    assert words in str(e.value)
