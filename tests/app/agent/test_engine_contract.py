"""The agent's declarations, transcript and hint fit the engine's template and output parser.

No weights: this checks the text formats both sides agree on, so that a restart with a shortened
transcript renders, and a call written in the native format reaches the tools intact.
"""

from pathlib import Path

from app.agent import tools
from app.agent.context import Transcript
from app.agent.control import Limits
from app.agent.events import StopReason
from app.agent.guards import FORMAT_HINT
from app.agent.loop import AgentRun
from app.agent.prompt import SYSTEM_PROMPT
from app.agent.scripted import ScriptedModel, call, calls
from engine.inputs.output_parser import ParseError, parse_output
from engine.inputs.template import render_chat
from engine.inputs.types import ToolCall


def test_declarations_render_in_the_system_turn():
    text = render_chat([{"role": "user", "content": "hi"}], tools=tools.DECLARATIONS)
    for name in tools.KINDS:
        assert f"<|tool>declaration:{name}{{" in text


def test_a_shortened_transcript_renders_for_restart(ws: Path, data_dir: Path):
    (ws / "big.txt").write_text("word " * 3000)
    model = ScriptedModel(
        [calls(call("read_file", path="big.txt")), calls(call("list_dir")), calls(call("list_dir"))]
    )
    run = AgentRun(
        model, ws, "task", data_dir=data_dir, on_event=lambda e: None, use_sandbox=False,
        mode="full_auto", limits=Limits(context_budget=2500),
    )  # fmt: skip
    assert run.run().reason is StopReason.DONE
    restarts = [payload for kind, payload in model.received if kind == "restart"]
    assert restarts
    text = render_chat(
        [{"role": "system", "content": SYSTEM_PROMPT}, *restarts[0]], tools=tools.DECLARATIONS
    )
    assert "response:read_file{" in text and "shortened to save context" in text
    assert text.endswith("<|channel>thought\n<channel|>")  # the model continues the open turn


def test_native_calls_parse_into_valid_tool_calls():
    out = (
        '<|tool_call>call:edit_file{new_text:<|"|>b = 3<|"|>,old_text:<|"|>b = 2<|"|>,'
        'path:<|"|>m.py<|"|>}<tool_call|>'
        '<|tool_call>call:read_file{end_line:5,path:<|"|>m.py<|"|>,start_line:2}<tool_call|>'
    )
    found = [item for item in parse_output(out) if isinstance(item, ToolCall)]
    assert [tools.check(c) for c in found] == [
        {"path": "m.py", "old_text": "b = 2", "new_text": "b = 3"},
        {"path": "m.py", "start_line": 2, "end_line": 5},
    ]


def test_the_format_hint_example_is_itself_a_valid_call():
    example = FORMAT_HINT[
        FORMAT_HINT.index("<|tool_call>") : FORMAT_HINT.index("<tool_call|>") + 12
    ]
    items = parse_output(example)
    assert not any(isinstance(i, ParseError) for i in items)
    (found,) = [i for i in items if isinstance(i, ToolCall)]
    assert tools.check(found) == {"path": "main.py"}


def test_transcript_messages_use_the_template_shape():
    t = Transcript("s", tools.DECLARATIONS)
    t.add_task("do it")
    step = t.add_step("", [ToolCall("list_dir", {"path": "."})])
    step["tool_responses"].append({"name": "list_dir", "response": {"entries": ["a.py"]}})
    text = render_chat(t.messages, tools=t.tools, add_generation_prompt=False)
    assert '<|tool_call>call:list_dir{path:<|"|>.<|"|>}<tool_call|>' in text
    assert '<|tool_response>response:list_dir{entries:[<|"|>a.py<|"|>]}<tool_response|>' in text
