"""Stored responses: found by id, least recently used evicted past the count or byte budget."""

from engine.server.conversation import Message, Part, text_part
from engine.server.response_store import ResponseStore


def convo(text: str, media: int = 0) -> list[Message]:
    parts = [text_part(text)] + ([Part("image", digest="d", size=media)] if media else [])
    return [Message("user", "input", parts=parts), Message("assistant", "output", text="ok")]


def test_kept_found_and_evicted_least_recent_first():
    store = ResponseStore(max_responses=2, max_bytes=10_000)
    store.put("a", convo("one"), {"id": "a"})
    store.put("b", convo("two"), {"id": "b"})
    assert store.get("a").response == {"id": "a"}  # a is now the most recent
    store.put("c", convo("three"), {"id": "c"})
    assert store.get("b") is None and store.get("a") and store.get("c")
    assert store.delete("a") and not store.delete("a")


def test_the_byte_budget_counts_text_and_media():
    store = ResponseStore(max_responses=10, max_bytes=5_000)
    store.put("small", convo("hi"), {})
    store.put("big", convo("x", media=4_000), {})
    assert store.total_bytes > 4_000 and store.get("small")
    store.put("bigger", convo("y", media=4_500), {})
    assert store.get("big") is None and store.total_bytes <= 5_000
