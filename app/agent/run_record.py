"""An agent run as plain JSON records, to keep it on disk and show it again later.

`to_record(event)` turns an `AgentEvent`, or a `Decided` (the person's answer to an approval),
into a dict that `json.dumps` takes; `from_record(record)` gives the event back, or None for a
record it does not know (one written by a newer release). Records are bounded: a long text is cut
with a line saying how much was left out, so a run that read or wrote big files stays small on disk
(the files themselves are in the workspace and in the undo store, not here).

`RunRecorder(write)` makes the records of one run as its events come and hands them to `write`, a
list at a time. A command's output arrives in many small chunks: they are joined per call (its last
MAX_OUTPUT_CHARS kept) and written with the call's result, or by `flush()` when the run ends early.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.agent.events import (
    AgentEvent,
    ApprovalNeeded,
    CommandOutput,
    CommandStarted,
    ContextShortened,
    Decision,
    DecisionKind,
    Finished,
    ModelReplied,
    Observation,
    StepStarted,
    StopReason,
    ToolCallProposed,
    UndoPointMade,
)

MAX_TEXT_CHARS = 20_000  # a reply, an argument (a whole file written), a result's text
MAX_DIFF_CHARS = 100_000  # the diff view shows 2,000 lines; this keeps about as many
MAX_RESULT_CHARS = 8_000  # each text in a tool result; the card shows 6,000 characters in all
MAX_OUTPUT_CHARS = 32_000  # the end of a command's output, where the errors are
MAX_LIST_ITEMS = 500  # entries of a list in arguments or results (a folder listing)


@dataclass(frozen=True)
class Decided:
    """The person answered the approval of `call_id` (kept so a reopened run shows the answer)."""

    call_id: int
    decision: Decision


Record = dict[str, Any]
EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        StepStarted,
        ModelReplied,
        ToolCallProposed,
        ApprovalNeeded,
        CommandStarted,
        CommandOutput,
        Observation,
        UndoPointMade,
        ContextShortened,
        Finished,
    )
}
TEXT_LIMITS = {  # (event type, field) -> characters kept
    ("ModelReplied", "text"): MAX_TEXT_CHARS,
    ("ModelReplied", "thinking"): MAX_TEXT_CHARS,
    ("ApprovalNeeded", "diff"): MAX_DIFF_CHARS,
    ("ApprovalNeeded", "command"): MAX_TEXT_CHARS,
    ("CommandStarted", "command"): MAX_TEXT_CHARS,
    ("Finished", "answer"): MAX_TEXT_CHARS,
}


def cut(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and a line saying how many were left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit:,} more characters not kept)"


def bounded(value: Any, limit: int) -> Any:
    """A JSON-like value with every text cut at `limit` and every list at MAX_LIST_ITEMS."""
    if isinstance(value, str):
        return cut(value, limit)
    if isinstance(value, dict):
        return {str(k): bounded(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [bounded(v, limit) for v in value[:MAX_LIST_ITEMS]]
        if len(value) > MAX_LIST_ITEMS:
            items.append(f"… ({len(value) - MAX_LIST_ITEMS:,} more not kept)")
        return items
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return cut(str(value), limit)  # anything else a tool put in its result


def to_record(event: AgentEvent | Decided) -> Record:
    """The event as a dict of plain values: {"type": its class name, its fields...}."""
    if isinstance(event, Decided):
        return {
            "type": "Decided",
            "call_id": event.call_id,
            "kind": event.decision.kind.value,
            "message": cut(event.decision.message, MAX_TEXT_CHARS),
        }
    name = type(event).__name__
    record: Record = {"type": name}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif f.name == "arguments":
            value = bounded(value, MAX_TEXT_CHARS)
        elif f.name == "response":
            value = bounded(value, MAX_RESULT_CHARS)
        elif isinstance(value, tuple):
            value = bounded(list(value), MAX_TEXT_CHARS)
        elif isinstance(value, str) and (name, f.name) in TEXT_LIMITS:
            value = cut(value, TEXT_LIMITS[(name, f.name)])
        record[f.name] = value
    return record


def from_record(record: Record) -> AgentEvent | Decided | None:
    """The event a record holds; None for a record of an unknown type or shape."""
    kind = record.get("type")
    try:
        if kind == "Decided":
            decision = Decision(DecisionKind(record["kind"]), str(record.get("message", "")))
            return Decided(int(record["call_id"]), decision)
        cls = EVENT_TYPES.get(str(kind))
        if cls is None:
            return None
        values = {}
        for f in dataclasses.fields(cls):
            if f.name not in record:
                continue  # a field added later: the class's default
            value = record[f.name]
            if isinstance(value, list):
                value = tuple(value)
            values[f.name] = value
        if cls is Finished:
            values["reason"] = StopReason(values["reason"])
        return cls(**values)
    except (KeyError, TypeError, ValueError):
        return None


class RunRecorder:
    """The records of one run, handed to `write` as the events come (see the module docstring)."""

    def __init__(self, write: Callable[[list[Record]], None]) -> None:
        self.write = write
        self._output: dict[int, str] = {}  # call id -> its output so far (bounded)
        self._dropped: dict[int, int] = {}  # call id -> characters dropped from its start

    def add(self, event: AgentEvent | Decided, **extra: Any) -> None:
        """Record `event`; `extra` keys go into its record (for example the run's working time)."""
        if isinstance(event, CommandOutput):
            self._collect(event.call_id, event.chunk)
            return
        records = []
        if isinstance(event, Observation):
            records += self._output_records([event.call_id])
        elif isinstance(event, Finished):
            records += self._output_records(list(self._output))
        records.append({**to_record(event), **extra})
        self.write(records)

    def flush(self) -> None:
        """Write the output still held (the run ended without the calls' results)."""
        records = self._output_records(list(self._output))
        if records:
            self.write(records)

    def _collect(self, call_id: int, chunk: str) -> None:
        text = self._output.get(call_id, "") + chunk
        if len(text) > 2 * MAX_OUTPUT_CHARS:  # trimmed now and then, not on every chunk
            self._dropped[call_id] = self._dropped.get(call_id, 0) + len(text) - MAX_OUTPUT_CHARS
            text = text[-MAX_OUTPUT_CHARS:]
        self._output[call_id] = text

    def _output_records(self, call_ids: list[int]) -> list[Record]:
        records = []
        for call_id in call_ids:
            text = self._output.pop(call_id, None)
            if text is None:
                continue
            dropped = self._dropped.pop(call_id, 0) + max(0, len(text) - MAX_OUTPUT_CHARS)
            text = text[-MAX_OUTPUT_CHARS:]
            if dropped:
                text = f"… ({dropped:,} earlier characters not kept)\n" + text
            records.append(to_record(CommandOutput(call_id, text)))
        return records
