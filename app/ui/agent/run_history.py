"""Agent runs kept as conversations in the store: the run being recorded, and runs read back.

No Qt here. `begin(...)` stores a new run (its task, folder and mode) before it starts; from then on
`record(event)` and `decided(call_id, decision)` add to it as the run goes (app.agent.run_record
bounds what is kept), until `end()`. `load(id)` reads a stored run back for showing. A run deleted
from the list while it is recorded stops being recorded (`forget`).

Saving is never what stops a run: when a record cannot be written, `record` says so once (it
returns False the first time) and the run goes on unrecorded from there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.agent import AgentEvent, Decision
from app.agent.run_record import Decided, RunRecorder
from app.store import AgentRunInfo, Attachment, Store

NOT_SAVED = (
    "The run could not be saved, so it did not start. Check that the disk has room, then try "
    "again."
)
RECORD_FAILED = (
    "This run's steps could not be saved, so it cannot be reopened later. The run itself goes on."
)


class RunNotSaved(Exception):
    """A run could not be stored before it started; the message is a sentence for the person."""


@dataclass(frozen=True)
class StoredRun:
    """A run as the store holds it: where it worked, its task, and its records."""

    info: AgentRunInfo
    task: str
    files: list[str] = field(default_factory=list)  # the names of the task's attachments
    records: list[dict] = field(default_factory=list)


class RunHistory:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.run_id: str | None = None  # the run begun last in this session (live or ended)
        self._recorder: RunRecorder | None = None
        self._failed = False

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def begin(
        self, task: str, attachments: Sequence[Attachment], workspace: str, mode: str
    ) -> str:
        """Store a new run and record into it from now on; its conversation id.

        Raises:
            RunNotSaved: nothing was stored.
        """
        try:
            conversation = self.store.create_agent_run(task, attachments, workspace, mode)
        except (sqlite3.Error, OSError) as exc:
            raise RunNotSaved(NOT_SAVED) from exc
        self.run_id = conversation.id
        self._recorder = RunRecorder(self._write)
        self._failed = False
        return conversation.id

    def abandon(self) -> None:
        """The run just begun did not start after all: it leaves nothing behind."""
        if self.run_id is not None:
            self.store.delete_conversation(self.run_id)
        self.run_id, self._recorder = None, None

    def record(self, event: AgentEvent, **extra: object) -> bool:
        """Add the live run's event; False only the first time saving it failed."""
        if self._recorder is None:
            return True
        failed_before = self._failed
        self._recorder.add(event, **extra)
        return failed_before or not self._failed

    def decided(self, call_id: int, decision: Decision) -> None:
        if self._recorder is not None:
            self._recorder.add(Decided(call_id, decision))

    def end(self) -> None:
        """The live run ended (its `Finished` was recorded): nothing more is added to it."""
        if self._recorder is not None:
            self._recorder.flush()
        self._recorder = None

    def forget(self, conversation_id: str) -> bool:
        """The run was deleted; True when it was the one begun last (it is recorded no more)."""
        if conversation_id != self.run_id:
            return False
        self.run_id, self._recorder = None, None
        return True

    def load(self, conversation_id: str) -> StoredRun | None:
        """A stored run, or None when `conversation_id` is not an agent run (or is gone)."""
        info = self.store.agent_run(conversation_id)
        if info is None:
            return None
        messages = self.store.messages(conversation_id)
        task = messages[0] if messages else None
        return StoredRun(
            info,
            task.content if task else "",
            [a.filename for a in task.attachments] if task else [],
            self.store.agent_records(conversation_id),
        )

    def _write(self, records: list[dict]) -> None:
        if self.run_id is None or self._failed:
            return
        try:
            self.store.add_agent_records(self.run_id, records)
        except KeyError:  # deleted from the list meanwhile
            self._recorder = None
        except (sqlite3.Error, OSError, ValueError):
            self._failed = True
