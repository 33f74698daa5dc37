"""Chat template and render_chat: the Gemma 4 format of the reference (§6.1), parity with transformers'
apply_chat_template, incremental-rendering invariants and bad input."""

import json

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.inputs.gemma_syntax import format_tool_response
from engine.inputs.template import (
    OWN_TEMPLATE,
    MessageError,
    load_template,
    render_chat,
    render_continuation,
    render_tool_results,
)

TEMPLATE = OWN_TEMPLATE.read_text(encoding="utf-8")
Q = '<|"|>'

READ_FILE = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file",
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File path"},
                "lines": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "First and last line",
                },
            },
            "required": ["path"],
        },
    },
}

# The two rendered examples of reference/gemma4_unified.md §6.1, verbatim.
EX1 = [{"role": "user", "content": "  Hello there!  "}]
EX1_TEXT = "<bos><|turn>user\nHello there!<turn|>\n<|turn>model\n<|channel>thought\n<channel|>"
EX2 = [
    {"role": "user", "content": "Show main.py"},
    {
        "role": "assistant",
        "tool_calls": [{"function": {"name": "read_file", "arguments": {"path": "main.py"}}}],
        "tool_responses": [{"name": "read_file", "response": "print('hi')"}],
        "content": "It prints hi.",
    },
    {"role": "user", "content": "Thanks"},
]
EX2_TEXT = (
    '<bos><|turn>system\n<|think|><|tool>declaration:read_file{description:<|"|>Read a file<|"|>,parameters:'
    '{properties:{lines:{description:<|"|>First and last line<|"|>,items:{type:<|"|>INTEGER<|"|>},type:<|"|>ARRAY'
    '<|"|>},path:{description:<|"|>File path<|"|>,type:<|"|>STRING<|"|>}},required:[<|"|>path<|"|>],type:<|"|>'
    'OBJECT<|"|>}}<tool|><turn|>\n<|turn>user\nShow main.py<turn|>\n<|turn>model\n<|tool_call>call:read_file{path:'
    '<|"|>main.py<|"|>}<tool_call|><|tool_response>response:read_file{value:<|"|>print(\'hi\')<|"|>}<tool_response|>'
    "It prints hi.<turn|>\n<|turn>user\nThanks<turn|>\n<|turn>model\n"
)

# Conversations covering every branch of the template (rendered by us and by transformers).
CASES = {
    "plain": {"messages": [{"role": "user", "content": "Hi"}]},
    "system_thinking": {
        "messages": [
            {"role": "system", "content": " Be brief. "},
            {"role": "user", "content": "Why?"},
        ],
        "enable_thinking": True,
    },
    "multi_turn_thinking_stripped": {
        "messages": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "<|channel>thought\nadd them<channel|> 4 "},
            {"role": "user", "content": "3+3?"},
        ]
    },
    "two_images": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare "},
                    {"type": "image"},
                    {"type": "image"},
                ],
            }
        ]
    },
    "image_audio": {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image"}, {"type": "audio"}, {"type": "text", "text": "?"}],
            }
        ]
    },
    "tools": {
        "messages": EX2[:2]
        + [
            {"role": "user", "content": "more"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "function": {
                            "name": "read_file",
                            "arguments": {"path": "a b.py", "lines": [1, 20]},
                        }
                    }
                ],
                "tool_responses": [
                    {"name": "read_file", "response": {"text": "x = 1", "ok": True, "size": 5}}
                ],
            },
        ],
        "tools": [READ_FILE],
    },
    "tool_role_and_video": {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "video"}, {"type": "text", "text": "what happens"}],
            },
            {"role": "tool", "content": '{"ok": true}'},
        ]
    },
}


def _hf_render(case, add_generation_prompt=True):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0, "<bos>": 1}, unk_token="<unk>")),
        bos_token="<bos>",
        unk_token="<unk>",
    )
    tok.chat_template = TEMPLATE
    kw = {"enable_thinking": True} if case.get("enable_thinking") else {}
    return tok.apply_chat_template(
        case["messages"],
        tools=case.get("tools"),
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
        **kw,
    )


def test_reference_examples_byte_for_byte():
    assert render_chat(EX1, template=TEMPLATE) == EX1_TEXT
    assert render_chat(EX2, template=TEMPLATE, tools=[READ_FILE], enable_thinking=True) == EX2_TEXT


@pytest.mark.parametrize("env_kwargs", [{}, {"trim_blocks": True, "lstrip_blocks": True}])
def test_reference_examples_with_plain_jinja2(env_kwargs):
    tpl = ImmutableSandboxedEnvironment(**env_kwargs).from_string(TEMPLATE)
    assert tpl.render(messages=EX1, add_generation_prompt=True, bos_token="<bos>") == EX1_TEXT
    out = tpl.render(
        messages=EX2,
        tools=[READ_FILE],
        enable_thinking=True,
        add_generation_prompt=True,
        bos_token="<bos>",
    )
    assert out == EX2_TEXT


def test_reference_examples_with_transformers():
    assert _hf_render({"messages": EX1}) == EX1_TEXT
    assert _hf_render({"messages": EX2, "tools": [READ_FILE], "enable_thinking": True}) == EX2_TEXT


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("gen", [True, False])
def test_same_as_transformers_apply_chat_template(name, gen):
    case = CASES[name]
    ours = render_chat(
        case["messages"],
        template=TEMPLATE,
        tools=case.get("tools"),
        enable_thinking=case.get("enable_thinking", False),
        add_generation_prompt=gen,
    )
    assert ours == _hf_render(case, add_generation_prompt=gen)


def test_format_rules():
    r = lambda name, **kw: render_chat(
        CASES[name]["messages"],
        template=TEMPLATE,
        **{k: v for k, v in CASES[name].items() if k != "messages"},
        **kw,
    )
    assert r("system_thinking") == (
        "<bos><|turn>system\n<|think|>Be brief.<turn|>\n<|turn>user\nWhy?<turn|>\n<|turn>model\n"
    )
    assert r("multi_turn_thinking_stripped") == (
        "<bos><|turn>user\n2+2?<turn|>\n<|turn>model\n4<turn|>\n<|turn>user\n3+3?<turn|>\n"
        "<|turn>model\n<|channel>thought\n<channel|>"
    )
    assert r("two_images").startswith(
        "<bos><|turn>user\nCompare\n\n<|image|>\n\n\n\n<|image|>\n\n<turn|>\n"
    )
    assert r("image_audio").startswith("<bos><|turn>user\n\n\n<|image|>\n\n<|audio|>?<turn|>\n")
    assert r("tool_role_and_video").endswith(
        '<|turn>user\n\n\n<|video|>\n\nwhat happens<turn|>\n<|turn>tool\n{"ok": true}<turn|>\n'
        "<|turn>model\n<|channel>thought\n<channel|>"
    )
    # An open tool response: no <turn|>, and the generation prompt adds only the empty thought channel.
    assert r("tools").endswith(
        f"<|tool_call>call:read_file{{lines:[1,20],path:{Q}a b.py{Q}}}<tool_call|>"
        f"<|tool_response>response:read_file{{ok:true,size:5,text:{Q}x = 1{Q}}}<tool_response|>"
        "<|channel>thought\n<channel|>"
    )


def test_tool_shapes_are_equivalent():
    bare_tool = READ_FILE["function"]
    openai = [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "f", "arguments": json.dumps({"b": 1, "a": "x"})},
                }
            ],
        }
    ]
    bare = [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": {"a": "x", "b": 1}}]}]
    a = render_chat(openai, template=TEMPLATE, tools=[READ_FILE])
    assert a == render_chat(bare, template=TEMPLATE, tools=[bare_tool])
    assert f"<|tool_call>call:f{{a:{Q}x{Q},b:1}}<tool_call|>" in a


def test_declaration_enum_nested_and_nullable():
    tool = {
        "name": "t",
        "description": "d",
        "parameters": {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "enum": ["r", "w"]},
                "opts": {
                    "type": "object",
                    "properties": {"deep": {"type": "boolean"}},
                    "required": ["deep"],
                },
                "tags": {"type": "array", "items": {"type": "string", "enum": ["a"]}},
                "n": {"type": "integer", "nullable": True},
            },
        },
    }
    out = render_chat([{"role": "user", "content": "x"}], template=TEMPLATE, tools=[tool])
    assert out.startswith(
        f"<bos><|turn>system\n<|tool>declaration:t{{description:{Q}d{Q},parameters:{{properties:{{"
        f"mode:{{enum:[{Q}r{Q},{Q}w{Q}],type:{Q}STRING{Q}}},n:{{nullable:true,type:{Q}INTEGER{Q}}},"
        f"opts:{{properties:{{deep:{{type:{Q}BOOLEAN{Q}}}}},required:[{Q}deep{Q}],type:{Q}OBJECT{Q}}},"
        f"tags:{{items:{{enum:[{Q}a{Q}],type:{Q}STRING{Q}}},type:{Q}ARRAY{Q}}}}},type:{Q}OBJECT{Q}}}}}<tool|><turn|>\n"
    )


def test_incremental_rendering_is_prefix_stable():
    convo = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image"}]},
        {"role": "assistant", "content": "<|channel>thought\nhm<channel|>ok"},
        {"role": "user", "content": [{"type": "audio"}]},
        {
            "role": "assistant",
            "tool_calls": [{"name": "read_file", "arguments": {"path": "p"}}],
            "tool_responses": [{"name": "read_file", "response": "r"}],
            "content": "done",
        },
        {"role": "user", "content": "bye"},
    ]
    for thinking in (False, True):
        for n in range(1, len(convo)):
            short = render_chat(
                convo[:n],
                template=TEMPLATE,
                tools=[READ_FILE],
                enable_thinking=thinking,
                add_generation_prompt=False,
            )
            longer = render_chat(
                convo[: n + 1],
                template=TEMPLATE,
                tools=[READ_FILE],
                enable_thinking=thinking,
                add_generation_prompt=False,
            )
            assert longer.startswith(short)


def test_media_payload_never_reaches_the_template():
    class Opaque:
        pass

    msgs = [
        {
            "role": "user",
            "content": [{"type": "image", "image": Opaque()}],
            "attachments": [Opaque()],
        }
    ]
    assert "<|image|>" in render_chat(msgs, template=TEMPLATE)


@pytest.mark.parametrize(
    "messages, match",
    [
        ([{"content": "x"}], "role None"),
        ([{"role": "robot", "content": "x"}], "role 'robot'"),
        (["hello"], "must be a dict"),
        ([{"role": "user", "content": 5}], "content must be"),
        ([{"role": "user", "content": [{"type": "gif"}]}], "type 'gif'"),
        ([{"role": "user", "content": [{"type": "text"}]}], "without a 'text'"),
        ([{"role": "assistant", "tool_calls": [{"arguments": {}}]}], "tool_calls\\[0\\]"),
        ([{"role": "assistant", "tool_responses": [{"name": "f"}]}], "tool_responses\\[0\\]"),
        (
            [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": {"x": object()}}]}],
            "cannot render",
        ),
    ],
)
def test_bad_messages_raise_clear_errors(messages, match):
    with pytest.raises(ValueError, match=match):
        render_chat(messages, template=TEMPLATE)


def test_template_errors_become_value_errors():
    with pytest.raises(ValueError, match="chat template failed: nope"):
        render_chat(EX1, template="{{ raise_exception('nope') }}")


def test_transformers_environment_features():
    t = (
        "{% generation %}{{ messages[0]['content'] | tojson }}{% endgeneration %}{% for m in messages %}"
        "{% if loop.first %}{% break %}{% endif %}{% endfor %}"
    )
    assert render_chat([{"role": "user", "content": "é<>"}], template=t) == '"é<>"'


def test_load_template_search_order(tmp_path):
    assert load_template(tmp_path) == TEMPLATE
    (tmp_path / "chat_template.json").write_text(json.dumps({"chat_template": "C"}))
    assert load_template(tmp_path) == "C"
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "chat_template": [
                    {"name": "tool_use", "template": "T"},
                    {"name": "default", "template": "D"},
                ]
            }
        )
    )
    assert load_template(tmp_path) == "D"
    (tmp_path / "chat_template.jinja").write_text("J")
    assert load_template(tmp_path) == "J"


def test_render_continuation():
    history = [
        {"role": "user", "content": "Show main.py"},
        {
            "role": "assistant",
            "tool_calls": [{"name": "read_file", "arguments": {"path": "main.py"}}],
            "tool_responses": [{"name": "read_file", "response": "x"}],
        },
    ]
    new = [{"role": "user", "content": [{"type": "text", "text": "and this?"}, {"type": "audio"}]}]
    for thinking in (False, True):
        kw = {"template": TEMPLATE, "tools": [READ_FILE], "enable_thinking": thinking}
        full = render_chat(history + new, **kw)
        suffix = "<|turn>user\nand this?<|audio|><turn|>\n<|turn>model\n"
        if not thinking:
            suffix += "<|channel>thought\n<channel|>"
        assert full.endswith(suffix)
        assert render_continuation(history, new, **kw) == suffix
        assert render_chat(history, add_generation_prompt=False, **kw) + suffix == full
    # The first turn: the continuation of nothing is the whole prompt but "<bos>".
    assert render_continuation([], EX1, template=TEMPLATE) == EX1_TEXT[len("<bos>") :]


def test_render_continuation_refuses_templates_that_look_ahead():
    t = "{{ messages | length }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    with pytest.raises(MessageError, match="re-render the whole conversation"):
        render_continuation([{"role": "user", "content": "a"}], EX1, template=t)


def test_format_tool_response_matches_the_template():
    for response in ["print('hi')", {"b": [1, 2.5], "a": {"x": None, "y": True}}, 3, [1, "z"], {}]:
        msg = {"role": "assistant", "tool_responses": [{"name": "run", "response": response}]}
        text = render_chat([msg], template=TEMPLATE, add_generation_prompt=False)
        assert text == "<bos><|turn>model\n" + format_tool_response("run", response)


def test_render_tool_results_continues_the_open_turn():
    responses = [
        {"name": "read_file", "response": "x"},
        {"name": "ls", "response": {"files": ["a"]}},
    ]
    blocks = format_tool_response("read_file", "x") + format_tool_response("ls", {"files": ["a"]})
    assert blocks == (
        f"<|tool_response>response:read_file{{value:{Q}x{Q}}}<tool_response|>"
        f"<|tool_response>response:ls{{files:[{Q}a{Q}]}}<tool_response|>"
    )
    assert (
        render_tool_results(responses, template=TEMPLATE)
        == blocks + "<|channel>thought\n<channel|>"
    )
    assert render_tool_results(responses, template=TEMPLATE, enable_thinking=True) == blocks
    # The same text ends the whole conversation rendered with the results on the calling message.
    call = {"name": "read_file", "arguments": {"path": "a"}}
    convo = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [call], "tool_responses": responses},
    ]
    for thinking in (False, True):
        full = render_chat(convo, template=TEMPLATE, tools=[READ_FILE], enable_thinking=thinking)
        ours = render_tool_results(responses, template=TEMPLATE, enable_thinking=thinking)
        assert full.endswith("<tool_call|>" + ours)
    with pytest.raises(MessageError, match="at least one"):
        render_tool_results([], template=TEMPLATE)
