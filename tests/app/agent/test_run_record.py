"""Agent runs as JSON records: every event survives the trip, long texts are cut and say so,
command output is joined per call and bounded, and records from a newer release are skipped."""

from __future__ import annotations

import json

import pytest

from app.agent.events import (
    ApprovalNeeded,
    CommandOutput,
    CommandStarted,
    ContextShortened,
    Decision,
    Finished,
    ModelReplied,
    Observation,
    StepStarted,
    StopReason,
    ToolCallProposed,
    UndoPointMade,
)
from app.agent.run_record import (
    MAX_LIST_ITEMS,
    MAX_OUTPUT_CHARS,
    MAX_RESULT_CHARS,
    MAX_TEXT_CHARS,
    Decided,
    RunRecorder,
    from_record,
    to_record,
)

EVENTS = [
    StepStarted(1, 30),
    ModelReplied(1, "Let me look.", "thinking… ✓"),
    ToolCallProposed(1, 1, "edit_file", {"path": "a.py", "old_text": "a", "new_text": "b"}),
    ToolCallProposed(1, 2, "read_file", {"unparsed": "call:read_file{path:"}),
    ApprovalNeeded(1, "edit_file", "edit", "Edit a.py", diff="-a\n+b", note=""),
    ApprovalNeeded(3, "run_command", "run", "ls", command="ls", note="No sandbox here."),
    CommandStarted(3, "ls", sandboxed=False, note="No sandbox here."),
    CommandOutput(3, "a.py\n"),
    Observation(1, "edit_file", {"ok": True, "lines": [1, 2]}, ok=True),
    Observation(2, "read_file", {"error": "did not parse", "hint": "h"}, False, format_hint=True),
    UndoPointMade(1, "abc123", "Step 1", ("a.py", "b/c.py")),
    ContextShortened(2, 9000, 4000),
    Finished(StopReason.STOPPED, "Stopped by you.", 2, "answer", 2, ("a.py",), 1,
             ("Commands ran without a sandbox.",)),
    Decided(1, Decision.deny("keep it")),
    Decided(3, Decision.allow_for_task()),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_comes_back_equal_through_json(event):
    record = json.loads(json.dumps(to_record(event)))
    assert from_record(record) == event


def test_long_texts_are_cut_and_say_how_much_was_left_out():
    content = "x" * (MAX_TEXT_CHARS + 1234)
    write = ToolCallProposed(1, 1, "write_file", {"path": "big.txt", "content": content})
    record = to_record(write)
    kept = record["arguments"]["content"]
    assert kept.startswith("x" * MAX_TEXT_CHARS)
    assert kept.endswith("(1,234 more characters not kept)")
    listing = {"entries": [f"f{i}" for i in range(MAX_LIST_ITEMS + 7)], "text": "y" * 10**5}
    response = to_record(Observation(1, "list_dir", listing, ok=True))["response"]
    assert len(response["entries"]) == MAX_LIST_ITEMS + 1
    assert response["entries"][-1] == "… (7 more not kept)"
    assert len(response["text"]) < MAX_RESULT_CHARS + 100
    reply = to_record(ModelReplied(1, "z" * 10**6, ""))
    assert len(json.dumps(reply)) < MAX_TEXT_CHARS + 200


def test_records_of_a_newer_release_or_broken_ones_are_skipped():
    assert from_record({"type": "SomethingNew", "x": 1}) is None
    assert from_record({"type": "StepStarted"}) is None  # its fields are missing
    assert from_record({"type": "Finished", "reason": "no such reason", "message": "",
                        "steps": 1}) is None
    assert from_record({"type": "Decided", "call_id": 1, "kind": "maybe"}) is None
    newer = {**to_record(StepStarted(2, 9)), "field_added_later": True}
    assert from_record(newer) == StepStarted(2, 9)


def test_the_recorder_joins_command_output_and_writes_it_with_the_result():
    written: list[list[dict]] = []
    recorder = RunRecorder(written.append)
    recorder.add(StepStarted(1, 5))
    recorder.add(CommandStarted(1, "make", sandboxed=True))
    for i in range(100):
        recorder.add(CommandOutput(1, f"line {i}\n"))
    assert len(written) == 2  # the chunks wait for the call's result
    recorder.add(Observation(1, "run_command", {"exit_code": 0}, ok=True))
    output, result = written[-1]
    assert from_record(output) == CommandOutput(1, "".join(f"line {i}\n" for i in range(100)))
    assert result["type"] == "Observation"
    recorder.add(Finished(StopReason.DONE, "Done.", 1), used="0:04")
    assert written[-1] == [{**to_record(Finished(StopReason.DONE, "Done.", 1)), "used": "0:04"}]


def test_a_flood_of_output_keeps_its_end_within_the_bound():
    written: list[list[dict]] = []
    recorder = RunRecorder(written.append)
    chunk = "0123456789" * 100 + "\n"  # 1,001 characters
    for _ in range(500):
        recorder.add(CommandOutput(7, chunk))
    recorder.add(CommandOutput(7, "the last line\n"))
    recorder.add(CommandOutput(8, "other call\n"))
    recorder.add(Finished(StopReason.STOPPED, "Stopped.", 1))  # no result came: written now
    seven, eight, finished = written[-1]
    text = from_record(seven).chunk
    dropped = 500 * len(chunk) + len("the last line\n") - MAX_OUTPUT_CHARS
    assert text.startswith(f"… ({dropped:,} earlier characters not kept)\n")
    assert text.endswith("the last line\n") and len(text) < MAX_OUTPUT_CHARS + 60
    assert from_record(eight) == CommandOutput(8, "other call\n")
    assert finished["type"] == "Finished"
    recorder.flush()
    assert len(written) == 1  # nothing was left to write
