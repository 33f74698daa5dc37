from app.agent.model import Reply
from app.agent.scripted import ScriptedModel, call, calls


def test_replays_in_order_and_records_what_it_was_sent():
    m = ScriptedModel([calls(call("list_dir", path=".")), Reply(text="bye")])
    first = m.begin("sys", [{"type": "function"}], "task")
    assert first.tool_calls[0].name == "list_dir" and first.tool_calls[0].arguments == {"path": "."}
    assert m.reply_to_tools([{"name": "list_dir", "response": {"entries": []}}]).text == "bye"
    assert m.reply_to_tools([]).text == "done"  # out of script: a plain answer ends the run
    assert m.received[0] == ("begin", "task")
    assert m.tool_results() == [{"name": "list_dir", "response": {"entries": []}}]
    m.cancel()
    assert m.cancelled
