"""Other versions of a conversation's tail: kept on regenerate and edit, switched between, nested,
bounded, migrated into an existing database."""

from __future__ import annotations

import sqlite3

import pytest

from app.store import Store
from app.store.schema import MIGRATIONS, migrate
from app.store.variants import MAX_VARIANTS, MESSAGE_VARIANTS, VariantPlace


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path)
    yield s
    s.close()


def texts(store, conv_id):
    return [m.content for m in store.messages(conv_id)]


def test_regenerate_keeps_the_earlier_answers_in_order(store):
    conv = store.create_conversation().id
    store.add_message(conv, "user", "q")
    store.add_message(conv, "assistant", "a1", thinking="t1", finish_reason="stop",
                      stats={"generated_tokens": 3})
    store.set_aside_from(conv, 1)
    assert texts(store, conv) == ["q"]
    store.add_message(conv, "assistant", "a2")
    store.set_aside_from(conv, 1)
    store.add_message(conv, "assistant", "a3")
    assert store.variant_places(conv) == {1: VariantPlace(3, 3)}
    assert store.switch_variant(conv, 1, 1)
    assert texts(store, conv) == ["q", "a1"]
    [_, first] = store.messages(conv)
    assert (first.thinking, first.finish_reason, first.stats) == ("t1", "stop", {"generated_tokens": 3})
    assert store.variant_places(conv) == {1: VariantPlace(1, 3)}
    assert store.switch_variant(conv, 1, 3)
    assert texts(store, conv) == ["q", "a3"]
    assert not store.switch_variant(conv, 1, 3)  # already live: nothing changes
    assert not store.switch_variant(conv, 1, 4) and not store.switch_variant(conv, 0, 1)
    assert texts(store, conv) == ["q", "a3"]


def test_an_edit_keeps_the_old_branch_with_its_own_versions_and_attachments(store, tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "p.png")
    photo = store.import_file(tmp_path / "p.png")
    conv = store.create_conversation().id
    store.add_message(conv, "user", "q1")
    store.add_message(conv, "assistant", "a1")
    store.add_message(conv, "user", "q2", [photo])
    store.add_message(conv, "assistant", "a2")
    store.set_aside_from(conv, 3)  # regenerate a2
    store.add_message(conv, "assistant", "a2'")
    store.set_aside_from(conv, 2)  # edit q2: the old branch goes with its two answers
    store.add_message(conv, "user", "q2 edited")
    store.add_message(conv, "assistant", "b")
    assert store.variant_places(conv) == {2: VariantPlace(2, 2)}  # a2's versions are inside
    assert store.switch_variant(conv, 2, 1)
    assert texts(store, conv) == ["q1", "a1", "q2", "a2'"]
    assert store.messages(conv)[2].attachments == (photo,)
    assert store.variant_places(conv) == {2: VariantPlace(1, 2), 3: VariantPlace(2, 2)}
    assert store.switch_variant(conv, 3, 1)
    assert texts(store, conv) == ["q1", "a1", "q2", "a2"]
    assert store.switch_variant(conv, 2, 2)
    assert texts(store, conv) == ["q1", "a1", "q2 edited", "b"]
    assert store.variant_places(conv) == {2: VariantPlace(2, 2)}


def test_versions_are_bounded_and_go_with_their_conversation(store):
    conv = store.create_conversation().id
    store.add_message(conv, "user", "q")
    for i in range(MAX_VARIANTS + 5):
        store.add_message(conv, "assistant", f"a{i}")
        store.set_aside_from(conv, 1)
    store.add_message(conv, "assistant", "last")
    assert store.variant_places(conv)[1].count == MAX_VARIANTS
    assert store.switch_variant(conv, 1, 1)
    assert texts(store, conv) == ["q", "a6"]  # the oldest ones went first
    store.delete_messages_from(conv, 1)
    assert store.variant_places(conv) == {}
    store.delete_conversation(conv)
    assert store._conn.execute("SELECT COUNT(*) FROM message_variants").fetchone()[0] == 0


def test_a_failed_switch_changes_nothing(store, monkeypatch):
    conv = store.create_conversation().id
    store.add_message(conv, "user", "q")
    store.add_message(conv, "assistant", "a1")
    store.set_aside_from(conv, 1)
    store.add_message(conv, "assistant", "a2")
    real = store._insert_message

    def failing(*args):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_insert_message", failing)
    with pytest.raises(sqlite3.OperationalError):
        store.switch_variant(conv, 1, 1)
    monkeypatch.setattr(store, "_insert_message", real)
    assert texts(store, conv) == ["q", "a2"]
    assert store.variant_places(conv) == {1: VariantPlace(2, 2)}


def test_the_migration_keeps_conversations_whatever_its_number(tmp_path):
    path = tmp_path / "tandem.sqlite3"
    before = MIGRATIONS.index(MESSAGE_VARIANTS)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("\n".join(MIGRATIONS[:before]) + f"\nPRAGMA user_version = {before};")
    conn.execute("INSERT INTO conversations (id, title, created_at, updated_at)"
                 " VALUES ('c1', 'Old chat', 1.0, 1.0)")
    conn.execute("INSERT INTO messages (conversation_id, position, role, content, created_at)"
                 " VALUES ('c1', 0, 'user', 'hi', 1.0)")
    assert migrate(conn) == before
    conn.close()
    store = Store(tmp_path)
    assert [m.content for m in store.messages("c1")] == ["hi"] and store.variant_places("c1") == {}
    store.close()
