"""Conversations, messages and attachments on disk (SQLite in WAL mode plus content-addressed files)."""

from app.store.store import (
    AGENT_RUN,
    AgentRunInfo,
    Attachment,
    Conversation,
    Message,
    Store,
    kind_of,
)

__all__ = ["AGENT_RUN", "AgentRunInfo", "Attachment", "Conversation", "Message", "Store", "kind_of"]
