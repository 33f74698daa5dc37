"""Conversation items: what compares equal across requests, and the chat template's messages."""

from engine.server.items import AssistantTurn, ToolResultsTurn, UserTurn, assistant_turn, template_messages


def test_template_messages_put_tool_results_on_the_asking_answer():
    turns = [
        UserTurn((("text", "hi"),), lambda: "hi"),
        assistant_turn("Let me look. ", [("read", {"b": 1, "a": "x"})]),
        ToolResultsTurn((("read", '"data"'), ("user", '"note"'))),
        AssistantTurn("Done."),
        UserTurn((("text", "thanks"),), lambda: "thanks"),
    ]
    assert template_messages(turns) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Let me look.",
         "tool_calls": [{"function": {"name": "read", "arguments": {"a": "x", "b": 1}}}],
         "tool_responses": [{"name": "read", "response": "data"},
                            {"name": "user", "response": "note"}]},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "thanks"},
    ]


def test_equality_ignores_how_the_payload_is_loaded():
    assert UserTurn((("image", "d1"),), lambda: 1) == UserTurn((("image", "d1"),), lambda: 2)
    assert assistant_turn(" a ", [("f", {"y": 1, "x": 2})]) == assistant_turn("a", [
        ("f", {"x": 2, "y": 1})])
