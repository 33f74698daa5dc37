"""Output-stream parser: tool calls rendered by the chat template parse back to the same values,
any split of a stream gives the same items, and malformed output becomes error items."""

import random

import pytest

from engine.inputs.gemma_syntax import GemmaSyntaxError, format_value, parse_calls, parse_value
from engine.inputs.output_parser import (
    EndOfTurn,
    OutputParser,
    ParseError,
    Text,
    Thinking,
    ToolResponseRequest,
    coalesce,
    parse_output,
)
from engine.inputs.template import OWN_TEMPLATE, render_chat
from engine.inputs.types import ToolCall

TEMPLATE = OWN_TEMPLATE.read_text(encoding="utf-8")
Q = '<|"|>'


def _random_value(rng, depth=0):
    kinds = ["str", "int", "float", "bool", "none"] + (["dict", "list"] if depth < 3 else [])
    k = rng.choice(kinds)
    if k == "str":
        return "".join(rng.choice("ab Z09\n\t{}[],:<>|\"'\\é→") for _ in range(rng.randint(0, 12)))
    if k == "int":
        return rng.choice([0, -1, 7, 10**12, -(2**40)])
    if k == "float":
        return rng.choice([0.5, -2.25, 1e-05, 3.0e20, 1.0, -0.0001, 123.456])
    if k == "bool":
        return rng.random() < 0.5
    if k == "none":
        return None
    if k == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {_random_key(rng): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _random_key(rng):
    return (
        rng.choice("abcxyz_")
        + "".join(rng.choice("abc_-9 .") for _ in range(rng.randint(0, 6))).strip()
    )


def _rendered_model_turn(calls):
    """The model-turn text the template renders for these calls (what the model learned to emit)."""
    msgs = [
        {
            "role": "assistant",
            "tool_calls": [{"name": n, "arguments": a} for n, a in calls],
            "content": "ok",
        }
    ]
    text = render_chat(msgs, template=TEMPLATE, add_generation_prompt=False)
    turn = text[text.index("<|turn>model\n") + len("<|turn>model\n") :]
    assert turn.endswith("<turn|>\n")
    return turn[:-1]  # generation stops at <turn|>


FIXED_CALLS = [
    ("read_file", {"path": "main.py"}),
    ("f", {}),
    (
        "write-file.v2",
        {"path": "a b/c.py", "text": "def f():\n    return {'a': [1, 2]}\n", "lines": [1, 20]},
    ),
    ("g", {"n": -3, "x": 2.5, "tiny": 1e-05, "big": 3e20, "ok": True, "no": False, "none": None}),
    ("h", {"deep": {"list": [{"k": "v"}, [], {}, [[1], ["s"]]], "empty": ""}}),
]


@pytest.mark.parametrize("name, args", FIXED_CALLS)
def test_template_rendered_calls_round_trip(name, args):
    items = parse_output(_rendered_model_turn([(name, args)]))
    assert items == [ToolCall(name, args), Text("ok"), EndOfTurn()]


def test_random_calls_round_trip():
    rng = random.Random(1234)
    for _ in range(200):
        calls = [
            (
                rng.choice(["f", "do_it", "a.b-c"]),
                {_random_key(rng): _random_value(rng) for _ in range(rng.randint(0, 4))},
            )
            for _ in range(rng.randint(1, 3))
        ]
        items = parse_output(_rendered_model_turn(calls))
        assert items == [ToolCall(n, a) for n, a in calls] + [Text("ok"), EndOfTurn()]


def test_format_value_matches_the_template():
    rng = random.Random(7)
    for _ in range(100):
        args = {_random_key(rng): _random_value(rng) for _ in range(3)}
        turn = _rendered_model_turn([("f", args)])
        assert turn.startswith("<|tool_call>call:f" + format_value(args) + "<tool_call|>")
        assert parse_value(format_value(args)) == args


STREAM = (
    "<|channel>thought\nLet me <think> about it<channel|>Sure, reading <main.py> now."
    '<|tool_call>call:read_file{path:<|"|>main.py<|"|>,lines:[1,2]}<tool_call|><|tool_response>'
    'It prints <|"|>hi<|"|>.<|tool_call>call:bad{x:<tool_call|>Done<turn|>'
)
EXPECTED = [
    Thinking("Let me <think> about it"),
    Text("Sure, reading <main.py> now."),
    ToolCall("read_file", {"path": "main.py", "lines": [1, 2]}),
    ToolResponseRequest(),
    Text('It prints <|"|>hi<|"|>.'),
    ParseError(
        "<|tool_call>call:bad{x:<tool_call|>",
        "malformed tool call: expected a value, found the end of the text at offset 11",
    ),
    Text("Done"),
    EndOfTurn(),
]


def test_whole_stream():
    assert parse_output(STREAM) == EXPECTED


def test_every_two_way_split_gives_the_same_items():
    for i in range(len(STREAM) + 1):
        p = OutputParser()
        assert coalesce(p.feed(STREAM[:i]) + p.feed(STREAM[i:]) + p.finish()) == EXPECTED, i


def test_character_by_character_and_random_splits():
    p = OutputParser()
    items = [it for ch in STREAM for it in p.feed(ch)] + p.finish()
    assert coalesce(items) == EXPECTED
    rng = random.Random(3)
    for _ in range(50):
        p, pos, items = OutputParser(), 0, []
        while pos < len(STREAM):
            step = rng.randint(0, 9)
            items += p.feed(STREAM[pos : pos + step])
            pos += step
        assert coalesce(items + p.finish()) == EXPECTED


def test_text_streams_without_delay():
    p = OutputParser()
    assert p.feed("Hello wor") == [Text("Hello wor")]
    assert p.feed("ld <") == [Text("ld ")]  # "<" could open a control token
    assert p.feed("b>") == [Text("<b>")]
    assert p.feed("x <tur") == [Text("x ")]
    assert p.feed("n|>") == [EndOfTurn()]
    p2 = OutputParser()
    assert p2.feed("<|channel>thought\nab") == [Thinking("ab")]
    assert p2.feed("c<chan") == [Thinking("c")]


@pytest.mark.parametrize(
    "stream, expected",
    [
        # cut off by the end of the stream
        (
            '<|tool_call>call:f{a:<|"|>x',
            [
                ParseError(
                    '<|tool_call>call:f{a:<|"|>x',
                    "tool call cut off: the stream ended before <tool_call|>",
                )
            ],
        ),
        # cut off by the end of the turn, then parsing goes on
        (
            "<|tool_call>call:f{a:1<turn|>",
            [ParseError("<|tool_call>call:f{a:1", "tool call cut off by <turn|>"), EndOfTurn()],
        ),
        # a second call opens before the first closes
        (
            "<|tool_call>call:f{<|tool_call>call:g{}<tool_call|>",
            [
                ParseError("<|tool_call>call:f{", "tool call cut off by <|tool_call>"),
                ToolCall("g", {}),
            ],
        ),
    ],
)
def test_truncated_calls(stream, expected):
    assert parse_output(stream) == expected


@pytest.mark.parametrize(
    "body",
    [
        "call:f{a:1,}",
        "call:f{a 1}",
        "call:{a:1}",
        "call:f",
        "f{a:1}",
        "call:f{a:[1,2}",
        "call:f{a:tru}",
        "call:f{a:1}}",
        'call:f{a:<|"|>x}',
        "call:f{a:1e999}",
        "",
    ],
)
def test_garbled_calls_become_errors_and_parsing_continues(body):
    raw = f"<|tool_call>{body}<tool_call|>"
    items = parse_output("before " + raw + " after<turn|>")
    assert items[0] == Text("before ")
    assert (
        isinstance(items[1], ParseError)
        and items[1].raw == raw
        and "malformed tool call" in items[1].message
    )
    assert items[2:] == [Text(" after"), EndOfTurn()]


def test_stray_closers_and_open_thinking():
    assert parse_output("a<channel|>b") == [
        Text("a"),
        ParseError("<channel|>", "<channel|> without an open channel"),
        Text("b"),
    ]
    assert parse_output("<|channel>thought\nhm<turn|>") == [Thinking("hm"), EndOfTurn()]
    assert parse_output("<|channel>thought\nhm") == [Thinking("hm")]
    assert parse_output("<|channel>x<channel|>y") == [Thinking("x"), Text("y")]  # no name line
    assert parse_output("<|channel>thought\nhm<|tool_call>call:f{}<tool_call|>") == [
        Thinking("hm"),
        ToolCall("f"),
    ]
    assert parse_output("<eos>") == [EndOfTurn()]


def test_several_calls_in_one_block_and_python_literals():
    assert parse_output(
        '<|tool_call>call:a{x:None} call:b{y:True,<|"|>q k<|"|>:False}<tool_call|>'
    ) == [ToolCall("a", {"x": None}), ToolCall("b", {"y": True, "q k": False})]


def test_feed_never_raises_on_odd_input():
    p = OutputParser()
    for piece in [
        "",
        "\x00",
        "<" * 50,
        "<|tool_call>" * 3,
        "}{][",
        "<tool_call|>" * 2,
        "\ud800",
        "<|channel>",
    ]:
        assert isinstance(p.feed(piece), list)
    assert isinstance(p.finish(), list)


def test_parse_value_errors_say_where():
    with pytest.raises(GemmaSyntaxError, match="offset 4"):
        parse_value("[1,2")
    with pytest.raises(GemmaSyntaxError, match="unterminated"):
        parse_calls('call:f{a:<|"|>x}')
    with pytest.raises(TypeError, match="set"):
        format_value({1, 2})
