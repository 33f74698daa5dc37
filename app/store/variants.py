"""The other versions of a conversation's tail, kept when an answer is regenerated or an earlier
message is edited ("< 2/3 >" moves between them).

At a position p a conversation may have several tails: the messages from p on. The live one is in
the messages table; each other one is a `message_variants` row holding its messages as JSON (and
the rows of the variants further down inside it, which belong to it). A row whose `tail` is NULL
marks where the live tail sits among them, so each position's versions keep their order:
version i of n is the i-th row by `ordinal`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Written to apply after any other migration, in any order (its number may change).
MESSAGE_VARIANTS = """
    CREATE TABLE message_variants (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        ordinal INTEGER NOT NULL,
        tail TEXT
    );
    CREATE INDEX message_variants_by_position ON message_variants(conversation_id, position, ordinal);
"""

MAX_VARIANTS = 20  # versions kept per position; the oldest stored one goes first


@dataclass(frozen=True)
class VariantPlace:
    """Which version of the tail at a position is live: `index` (1-based) of `count`."""

    index: int
    count: int


def tail_json(messages: list[dict[str, Any]], deeper: list[dict[str, Any]]) -> str:
    """A tail as stored: its messages (each a dict of the message's columns and attachments) and
    the variant rows further down that belong to it."""
    return json.dumps({"messages": messages, "variants": deeper})


def read_tail(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    data = json.loads(text)
    return list(data.get("messages", [])), list(data.get("variants", []))
