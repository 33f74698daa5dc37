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
from app.store.titles import PASTED_IMAGE_NAME, RECORDING_NAME
from app.store.variants import VariantPlace

__all__ = ["AGENT_RUN", "AgentRunInfo", "Attachment", "Conversation", "Message", "Store", "kind_of",
           "PASTED_IMAGE_NAME", "RECORDING_NAME", "VariantPlace"]
