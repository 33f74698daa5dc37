"""The kept conversations: a bounded LRU pool of live engine sessions, and how a request uses one.

Contract:
- Each `Entry` is one engine session (its own `session_id`) and the conversation its cache holds, as
  `items.ConversationItem`s, with the cache offset before each user turn and after the last answer.
- `plan(key, turns)` picks how to serve a request:
  * "extend": the request's turns are a kept conversation plus one new user turn, or plus the
    results of that conversation's pending tool calls: only the new turn is fed;
  * "rollback": the request shares a kept conversation's turns up to a user turn and then has one
    new user turn (an edited or regenerated last message): the session goes back to that user
    turn (engine `Rollback`) and feeds the new one;
  * "fresh": the request is one user turn: a new session is opened;
  * "history": a conversation no kept session holds (written elsewhere, evicted, or from before a
    restart): a new session is opened, the earlier turns are fed as they are (engine `LoadHistory`,
    nothing generated), and the last turn is answered. Its user offsets are unknown to the server,
    so a later rollback in it reports no reused tokens.
- A planned entry is checked out (busy) until `checkin` or `discard`; busy entries are never
  planned for another request nor evicted. Every call happens on the server's event loop thread.
- Limits: at most `max_sessions` entries and `max_bytes` of KV cache (as `measure(session_id)`
  reports it after each turn); the least recently used idle entries are closed first.
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.server.items import (
    AssistantTurn,
    RequestError,
    SessionKey,
    ToolResultsTurn,
    ConversationItem,
    UserTurn,
)

_serial = itertools.count(1)


@dataclass
class Entry:
    session_id: str
    key: SessionKey
    turns: list[ConversationItem] = field(default_factory=list)
    user_offsets: list[int] = field(default_factory=list)  # cache offset before each user turn
    context_used: int = 0  # cache offset after the last answer
    awaiting_tools: bool = False
    nbytes: int = 0
    busy: bool = False
    opened: bool = False  # the engine session exists


@dataclass
class Plan:
    kind: str  # "fresh", "extend", "rollback"
    entry: Entry
    new_turn: UserTurn | ToolResultsTurn
    rollback_to: int | None = None  # user turn index for "rollback"
    start_offset: int = 0  # cache tokens reused


class SessionPool:
    def __init__(
        self,
        close: Callable[[str], None],
        measure: Callable[[str], int] | None = None,
        max_sessions: int = 4,
        max_bytes: int = 8 << 30,
    ) -> None:
        self._close = close
        self._measure = measure or (lambda sid: 0)
        self.max_sessions = max_sessions
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, Entry] = OrderedDict()  # oldest first

    # ------------------------------------------------------------ planning

    def plan(self, key: SessionKey, turns: list[ConversationItem]) -> Plan:
        best: Plan | None = None
        busy = False
        for entry in reversed(self.entries.values()):
            if entry.key != key:
                continue
            found = _match(entry, turns)
            if found and entry.busy:
                busy = True
            elif found and (best is None or found.start_offset > best.start_offset):
                best = found
        if best is None:
            if busy and (len(turns) != 1 or not isinstance(turns[0], UserTurn)):
                raise RequestError(
                    "this conversation is being answered for another request right now; send "
                    "this one when that answer is finished",
                    "messages",
                    status=409,
                )
            last, before = turns[-1], turns[-2] if len(turns) > 1 else None
            if isinstance(last, ToolResultsTurn) and not (
                isinstance(before, AssistantTurn) and before.calls
            ):
                raise RequestError("tool results must follow an assistant message with tool calls",
                                   "messages")
            entry = Entry(session_id=f"api-{next(_serial)}-{uuid.uuid4().hex[:8]}", key=key)
            kind = "fresh" if len(turns) == 1 and isinstance(turns[0], UserTurn) else "history"
            best = Plan(kind, entry, turns[-1])
        best.entry.busy = True
        self.entries[best.entry.session_id] = best.entry
        self.entries.move_to_end(best.entry.session_id)
        return best

    # ------------------------------------------------------------ after a turn

    def checkin(self, entry: Entry) -> None:
        entry.busy = False
        entry.nbytes = self._measure(entry.session_id)
        self.entries[entry.session_id] = entry
        self.entries.move_to_end(entry.session_id)
        self._evict()

    def discard(self, entry: Entry) -> None:
        entry.busy = False
        if self.entries.pop(entry.session_id, None) is not None and entry.opened:
            self._close(entry.session_id)

    def clear(self) -> None:
        """Forget every idle entry (the engine dropped its sessions, e.g. on a model load)."""
        for sid, entry in list(self.entries.items()):
            if not entry.busy:
                del self.entries[sid]

    @property
    def total_bytes(self) -> int:
        return sum(e.nbytes for e in self.entries.values())

    def _evict(self) -> None:
        for entry in list(self.entries.values()):
            if len(self.entries) <= self.max_sessions and self.total_bytes <= self.max_bytes:
                return
            if not entry.busy:
                self.discard(entry)


def _match(entry: Entry, turns: list[ConversationItem]) -> Plan | None:
    kept = entry.turns
    n = len(kept)
    if len(turns) == n + 1 and turns[:n] == kept:
        new = turns[n]
        if isinstance(new, UserTurn):
            return Plan("extend", entry, new, start_offset=entry.context_used)
        if isinstance(new, ToolResultsTurn) and entry.awaiting_tools:
            return Plan("extend", entry, new, start_offset=entry.context_used)
        return None
    # Go back to the last user turn both share, when the request ends with that one new user turn.
    new = turns[-1]
    q = len(turns) - 1
    if (
        not isinstance(new, UserTurn)
        or q >= n
        or turns[:q] != kept[:q]
        or not isinstance(kept[q], UserTurn)
    ):
        return None
    user_index = sum(isinstance(t, UserTurn) for t in kept[:q])
    if user_index == 0:
        return None  # nothing reused: a fresh session is as cheap
    return Plan(
        "rollback", entry, new, rollback_to=user_index, start_offset=entry.user_offsets[user_index]
    )
