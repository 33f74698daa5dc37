"""Responses kept for `previous_response_id`: a bounded, least-recently-used store.

Contract:
- `put(response_id, messages, response)` keeps a response: the whole conversation it ended (the
  neutral messages of its input and every earlier stored turn, then its own output as an assistant
  message whose calls carry their `call_id`s) and the response object as it was sent.
- `get(response_id)` returns the `StoredResponse` (and marks it as recently used) or None.
- At most `max_responses` are kept and at most `max_bytes` of their messages' text and encoded
  media (counted per response, as if each held its whole conversation alone); the least recently
  used go first. A continued conversation shares its earlier messages with the response it
  continues, so the count is an upper bound of what is held.
- Stored responses live in memory only: a restart forgets them (a request that names one then gets
  a 400 saying so).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from engine.server.conversation import Message, message_bytes


@dataclass
class StoredResponse:
    messages: list[Message]
    response: dict
    nbytes: int


class ResponseStore:
    def __init__(self, max_responses: int = 256, max_bytes: int = 256 << 20) -> None:
        self.max_responses = max_responses
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, StoredResponse] = OrderedDict()

    def put(self, response_id: str, messages: list[Message], response: dict) -> None:
        nbytes = sum(message_bytes(m) for m in messages)
        self.entries[response_id] = StoredResponse(list(messages), response, nbytes)
        self.entries.move_to_end(response_id)
        while self.entries and (len(self.entries) > self.max_responses
                                or self.total_bytes > self.max_bytes):
            self.entries.popitem(last=False)

    def get(self, response_id: str) -> StoredResponse | None:
        stored = self.entries.get(response_id)
        if stored is not None:
            self.entries.move_to_end(response_id)
        return stored

    def delete(self, response_id: str) -> bool:
        return self.entries.pop(response_id, None) is not None

    @property
    def total_bytes(self) -> int:
        return sum(e.nbytes for e in self.entries.values())
