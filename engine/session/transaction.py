"""What a session command may change, recorded when it starts so that a failure or a cancel can put it back.

Every command that changes a session runs inside one transaction (`Session._command`): `SavedState.of(session)`
records the conversation (the cache object and its offset, the segments fed, the messages, the turn and answer
marks with their snapshots, the open-answer flag, the awaited tool calls, the open voice turn); `put_back` restores
all of it but the cache's contents, which the session rebuilds itself (trim, or snapshot and replay: the cache
keeps the rows a trim back to the start of the command needs, within its retention). Recording is cheap: lists are
copied shallowly (segments and marks are never changed in place, except a mark's snapshot, recorded apart),
messages deeply (the answer text and tool responses are written into the last message).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from engine.inputs.types import ToolCall
from engine.session.marks import Mark
from engine.session.segments import Segment
from engine.session.voice_buffer import VoiceBuffer


@dataclass
class SavedState:
    cache: list
    offset: int
    segments: list[Segment]
    messages: list[dict]
    turns: list[Mark]
    answer_marks: list[Mark]
    snapshots: list[tuple[Mark, list | None]]
    answer_open: bool
    awaiting_tools: list[ToolCall]
    voice: VoiceBuffer | None

    @classmethod
    def of(cls, session) -> SavedState:
        marks = session.turns + session.answer_marks
        return cls(
            cache=session.cache,
            offset=session.offset,
            segments=list(session.segments),
            messages=copy.deepcopy(session.messages),
            turns=list(session.turns),
            answer_marks=list(session.answer_marks),
            snapshots=[(m, m.snapshot) for m in marks],
            answer_open=session.answer_open,
            awaiting_tools=list(session.awaiting_tools),
            voice=None if session.voice is None else copy.copy(session.voice),  # its arrays are replaced, never written
        )

    def put_back(self, session) -> None:
        """Restore everything recorded except the cache's contents (the cache object itself is put back)."""
        session.cache = self.cache
        session.offset = self.offset
        session.segments = list(self.segments)
        session.messages = copy.deepcopy(self.messages)
        session.turns = list(self.turns)
        session.answer_marks = list(self.answer_marks)
        for mark, snapshot in self.snapshots:
            mark.snapshot = snapshot
        session.answer_open = self.answer_open
        session.awaiting_tools = list(self.awaiting_tools)
        session.voice = None if self.voice is None else copy.copy(self.voice)
