import pytest

from app.agent import tools
from app.agent.files import ToolError
from engine.inputs.types import ToolCall


def test_declarations_are_openai_style_functions_with_a_kind_each():
    names = [d["function"]["name"] for d in tools.DECLARATIONS]
    assert set(names) == set(tools.KINDS)
    for d in tools.DECLARATIONS:
        assert d["type"] == "function"
        params = d["function"]["parameters"]
        assert params["type"] == "object" and set(params["required"]) <= set(params["properties"])


def test_check_accepts_good_calls_and_coerces_quoted_numbers():
    args = tools.check(ToolCall("read_file", {"path": "a", "start_line": "3"}))
    assert args == {"path": "a", "start_line": 3}


@pytest.mark.parametrize(
    "call, message",
    [
        (ToolCall("delete_everything", {}), "no tool named"),
        (ToolCall("read_file", {}), "needs the argument"),
        (ToolCall("read_file", {"path": "a", "file": "b"}), "has no argument"),
        (ToolCall("read_file", {"path": 3}), "must be a string"),
        (ToolCall("search", {"pattern": "x", "regex": "yes"}), "must be a boolean"),
        (ToolCall("read_file", {"path": "a", "start_line": True}), "must be an integer"),
    ],
)
def test_check_rejects_bad_calls_with_a_message(call, message):
    with pytest.raises(ToolError, match=message):
        tools.check(call)


def test_command_timeout_is_clamped():
    assert tools.command_timeout({}) == tools.DEFAULT_COMMAND_TIMEOUT_S
    assert tools.command_timeout({"timeout_s": 10**6}) == tools.MAX_COMMAND_TIMEOUT_S
    assert tools.command_timeout({"timeout_s": -5}) == 1


def test_null_optional_arguments_are_left_out_but_null_required_ones_are_errors():
    assert tools.check(ToolCall("read_file", {"path": "a", "end_line": None})) == {"path": "a"}
    with pytest.raises(ToolError, match="must be a string"):
        tools.check(ToolCall("read_file", {"path": None}))
