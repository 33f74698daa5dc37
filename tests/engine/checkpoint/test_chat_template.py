"""The checkpoint's chat_template.jinja, through AutoTokenizer.apply_chat_template, renders the Gemma 4 format.

Expected strings are the two rendered examples of the reference (§6.1) and strings built from its rules.
"""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

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
Q = '<|"|>'
GEN = "<|turn>model\n<|channel>thought\n<channel|>"


@pytest.fixture(scope="module")
def tok(tiny_checkpoint):
    from transformers import AutoTokenizer

    assert (tiny_checkpoint / "chat_template.jinja").is_file()
    return AutoTokenizer.from_pretrained(tiny_checkpoint)


def render(tok, messages, **kw):
    return tok.apply_chat_template(messages, tokenize=False, **kw)


def test_reference_example_text(tok):
    out = render(tok, [{"role": "user", "content": "  Hello there!  "}], add_generation_prompt=True)
    assert (
        out == "<bos><|turn>user\nHello there!<turn|>\n<|turn>model\n<|channel>thought\n<channel|>"
    )


def test_reference_example_tools_calls_responses_thinking(tok):
    messages = [
        {"role": "user", "content": "Show main.py"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "read_file", "arguments": {"path": "main.py"}},
                }
            ],
            "tool_responses": [{"name": "read_file", "response": "print('hi')"}],
            "content": "It prints hi.",
        },
        {"role": "user", "content": "Thanks"},
    ]
    out = render(tok, messages, tools=[READ_FILE], enable_thinking=True, add_generation_prompt=True)
    expected = (
        '<bos><|turn>system\n<|think|><|tool>declaration:read_file{description:<|"|>Read a file<|"|>,'
        'parameters:{properties:{lines:{description:<|"|>First and last line<|"|>,items:{type:<|"|>INTEGER<|"|>},'
        'type:<|"|>ARRAY<|"|>},path:{description:<|"|>File path<|"|>,type:<|"|>STRING<|"|>}},'
        'required:[<|"|>path<|"|>],type:<|"|>OBJECT<|"|>}}<tool|><turn|>\n<|turn>user\nShow main.py<turn|>\n'
        '<|turn>model\n<|tool_call>call:read_file{path:<|"|>main.py<|"|>}<tool_call|><|tool_response>'
        "response:read_file{value:<|\"|>print('hi')<|\"|>}<tool_response|>It prints hi.<turn|>\n"
        "<|turn>user\nThanks<turn|>\n<|turn>model\n"
    )
    assert out == expected


def test_system_prompt_and_multi_turn_with_thinking_stripped(tok):
    messages = [
        {"role": "system", "content": " Be brief. "},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<|channel>thought\nadd them<channel|> 4 "},
        {"role": "user", "content": "And 3+3?"},
    ]
    out = render(tok, messages, add_generation_prompt=True)
    assert out == (
        "<bos><|turn>system\nBe brief.<turn|>\n<|turn>user\n2+2?<turn|>\n<|turn>model\n4<turn|>\n"
        "<|turn>user\nAnd 3+3?<turn|>\n" + GEN
    )


def test_thinking_on_without_system_opens_system_turn(tok):
    out = render(
        tok, [{"role": "user", "content": "Hi"}], enable_thinking=True, add_generation_prompt=True
    )
    assert out == "<bos><|turn>system\n<|think|><turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n"


def test_image_and_audio_placeholders(tok):
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "text", "text": "What is this?"},
                {"type": "audio"},
                {"type": "video"},
            ],
        }
    ]
    out = render(tok, messages, add_generation_prompt=True)
    assert out == (
        "<bos><|turn>user\n\n\n<|image|>\n\nWhat is this?<|audio|>\n\n<|video|>\n\n<turn|>\n" + GEN
    )
    ids = tok.encode(out, add_special_tokens=False)
    assert ids.count(502) == 1 and ids.count(503) == 1 and ids.count(506) == 1 and ids[0] == 2


def test_tool_call_values_and_open_tool_response(tok):
    """Keys sorted and unquoted, strings quoted, booleans/lists/objects; a response with no text keeps the turn open."""
    call = {
        "name": "search",
        "arguments": {
            "query": "cats",
            "limit": 3,
            "exact": False,
            "tags": ["a", "b"],
            "opts": {"z": 1, "a": "x"},
        },
    }
    messages = [
        {"role": "user", "content": "Find cats"},
        {
            "role": "assistant",
            "tool_calls": [{"type": "function", "function": call}],
            "tool_responses": [{"name": "search", "response": {"hits": 2, "ok": True}}],
        },
    ]
    out = render(tok, messages, add_generation_prompt=True)
    assert out == (
        "<bos><|turn>user\nFind cats<turn|>\n<|turn>model\n"
        f"<|tool_call>call:search{{exact:false,limit:3,opts:{{a:{Q}x{Q},z:1}},query:{Q}cats{Q},tags:[{Q}a{Q},{Q}b{Q}]}}"
        "<tool_call|><|tool_response>response:search{hits:2,ok:true}<tool_response|>"
        "<|channel>thought\n<channel|>"
    )


def test_tool_role_message_is_its_own_turn(tok):
    messages = [{"role": "user", "content": "x"}, {"role": "tool", "content": "result"}]
    out = render(tok, messages)
    assert out == "<bos><|turn>user\nx<turn|>\n<|turn>tool\nresult<turn|>\n"
