"""Who approves what: reading is free, writing and running ask, depending on the mode.

Modes:
    ASK         every write, edit and command waits for the person.
    AUTO_EDITS  writes and edits go ahead (they can be undone); commands still ask.
    FULL_AUTO   nothing asks.
"Allow for this task" widens an approval for the rest of the run: for an edit or write it covers
every later edit and write; for a command it covers later runs of exactly the same command text.
"""

from __future__ import annotations

import enum


class ApprovalMode(str, enum.Enum):
    ASK = "ask"
    AUTO_EDITS = "auto_edits"
    FULL_AUTO = "full_auto"


class Permissions:
    """The approval state of one run."""

    def __init__(self, mode: ApprovalMode = ApprovalMode.ASK) -> None:
        self.mode = ApprovalMode(mode)
        self._edits_granted = False
        self._commands_granted: set[str] = set()

    def needs_approval(self, kind: str, command: str = "") -> bool:
        """Whether a call of `kind` ("read", "edit" or "run") must wait for the person."""
        if kind == "read" or self.mode is ApprovalMode.FULL_AUTO:
            return False
        if kind == "edit":
            return not (self.mode is ApprovalMode.AUTO_EDITS or self._edits_granted)
        if kind == "run":
            return command not in self._commands_granted
        raise ValueError(f"unknown tool kind: {kind!r}")

    def grant_for_task(self, kind: str, command: str = "") -> None:
        """Record an "allow for this task" answer."""
        if kind == "edit":
            self._edits_granted = True
        elif kind == "run":
            self._commands_granted.add(command)
        else:
            raise ValueError(f"only edits and commands can be granted, not {kind!r}")
