"""The conversation store: durability, migrations, attachments, search."""

from __future__ import annotations

import sqlite3

import pytest

from app.store import AGENT_RUN, Attachment, Store
from app.store.schema import AGENT_RUNS, MIGRATIONS, SCHEMA_VERSION, migrate, schema_version


def _png(path, color=(200, 30, 30)):
    from PIL import Image

    Image.new("RGB", (8, 8), color).save(path)
    return path


def test_message_is_committed_before_add_message_returns(tmp_path):
    store = Store(tmp_path)
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "hello there")
    # A second, independent connection sees it: it is on disk, not in an open transaction.
    other = sqlite3.connect(tmp_path / "tandem.sqlite3")
    assert other.execute("SELECT content FROM messages").fetchall() == [("hello there",)]
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_first_user_message_names_the_conversation(tmp_path):
    store = Store(tmp_path)
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "  What is   the capital\nof France?  ")
    assert store.conversation(conv.id).title == "What is the capital of France?"
    store.rename_conversation(conv.id, "Geography")
    store.add_message(conv.id, "assistant", "Paris.")
    assert store.conversation(conv.id).title == "Geography"


def test_rename_rejects_empty_title_and_unknown_role(tmp_path):
    store = Store(tmp_path)
    conv = store.create_conversation()
    with pytest.raises(ValueError, match="non-empty title"):
        store.rename_conversation(conv.id, "   ")
    with pytest.raises(ValueError, match="role"):
        store.add_message(conv.id, "system", "x")
    with pytest.raises(KeyError):
        store.add_message("missing", "user", "x")


def test_reopen_finds_messages_and_attachments(tmp_path):
    data = tmp_path / "data"
    store = Store(data)
    conv = store.create_conversation()
    att = store.import_file(_png(tmp_path / "cat.png"))
    store.add_message(conv.id, "user", "look", attachments=[att])
    store.add_message(conv.id, "assistant", "A red square.", thinking="hm",
                      tool_calls=[{"name": "f", "arguments": {"a": 1}}], finish_reason="stop",
                      stats={"decode_tokens_per_second": 12.5})
    store.close()
    (tmp_path / "cat.png").unlink()  # the store keeps its own copy

    again = Store(data)
    [c] = again.conversations()
    user, answer = again.messages(c.id)
    assert user.attachments[0].filename == "cat.png"
    assert user.attachments[0].path.read_bytes()[:4] == b"\x89PNG"
    assert answer.thinking == "hm" and answer.tool_calls == ({"name": "f", "arguments": {"a": 1}},)
    assert answer.stats["decode_tokens_per_second"] == 12.5


def test_attachments_are_content_addressed(tmp_path):
    store = Store(tmp_path / "d")
    a = store.import_file(_png(tmp_path / "a.png"))
    b = store.import_file(_png(tmp_path / "b.png"))
    c = store.import_file(_png(tmp_path / "c.png", color=(0, 0, 255)))
    assert a.path == b.path != c.path
    assert a.path.name == f"{a.sha256}.png"
    pasted = store.import_bytes(a.path.read_bytes(), "png")
    assert pasted.path == a.path and pasted.kind == "image"


def test_import_refuses_files_it_cannot_attach(tmp_path):
    store = Store(tmp_path / "d")
    doc = tmp_path / "notes.txt"
    doc.write_text("hi")
    with pytest.raises(ValueError, match="not an image or audio"):
        store.import_file(doc)


def test_delete_messages_from_and_delete_conversation(tmp_path):
    store = Store(tmp_path)
    conv = store.create_conversation()
    for i, role in enumerate(["user", "assistant", "user", "assistant"]):
        store.add_message(conv.id, role, f"m{i}")
    store.delete_messages_from(conv.id, 2)
    assert [m.content for m in store.messages(conv.id)] == ["m0", "m1"]
    store.add_message(conv.id, "user", "again")
    assert [m.position for m in store.messages(conv.id)] == [0, 1, 2]
    cache = store.session_cache_path(conv.id)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"kv")
    cache.with_name(cache.name + ".segments.npz").write_bytes(b"seg")
    other = store.session_cache_path("other")
    other.write_bytes(b"keep")
    store.delete_conversation(conv.id)
    assert store.conversations() == [] and store.messages(conv.id) == []
    assert [p.name for p in cache.parent.iterdir()] == [other.name]


def test_search_matches_titles_and_message_text(tmp_path):
    store = Store(tmp_path)
    a = store.create_conversation("Rust lifetimes")
    b = store.create_conversation()
    store.add_message(b.id, "user", "how do I bake 100% rye bread")
    assert [c.id for c in store.conversations("lifetimes")] == [a.id]
    assert [c.id for c in store.conversations("RYE")] == [b.id]
    assert [c.id for c in store.conversations("100%")] == [b.id]
    assert store.conversations("nothing like this") == []


def test_migration_from_version_1_keeps_data(tmp_path):
    path = tmp_path / "tandem.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    conn.execute("INSERT INTO conversations VALUES ('c1', 'Old chat', 1.0, 1.0)")
    conn.execute("INSERT INTO messages (conversation_id, position, role, content, created_at)"
                 " VALUES ('c1', 0, 'user', 'from an old release', 1.0)")
    conn.close()

    store = Store(tmp_path)
    [m] = store.messages("c1")
    assert m.content == "from an old release" and m.thinking == "" and m.tool_calls == ()
    assert schema_version(sqlite3.connect(path)) == SCHEMA_VERSION
    assert store.conversation("c1").kind == "chat"


def test_newer_database_is_refused_with_a_clear_message(tmp_path):
    conn = sqlite3.connect(tmp_path / "tandem.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="Update Tandem"):
        Store(tmp_path)


def test_failed_migration_leaves_the_old_version(tmp_path, monkeypatch):
    conn = sqlite3.connect(tmp_path / "db", isolation_level=None)
    monkeypatch.setattr("app.store.schema.MIGRATIONS", [MIGRATIONS[0], "CREATE TABLE broken (;"])
    monkeypatch.setattr("app.store.schema.SCHEMA_VERSION", 2)
    with pytest.raises(sqlite3.Error):
        migrate(conn)
    assert schema_version(conn) == 1


def test_an_agent_run_is_a_conversation_with_its_task_folder_and_records(tmp_path):
    store = Store(tmp_path / "data")
    chat = store.create_conversation("A chat")
    shot = store.import_file(_png(tmp_path / "screen.png"))
    run = store.create_agent_run("Fix the  failing\ntest", [shot], "/work/project", "ask")
    assert run.kind == AGENT_RUN and run.title == "Fix the failing test"
    assert store.conversation(chat.id).kind == "chat"
    assert [c.id for c in store.conversations()] == [run.id, chat.id]
    assert [c.id for c in store.conversations("failing")] == [run.id]  # the task is searchable
    [task] = store.messages(run.id)
    assert task.role == "user" and task.attachments[0].filename == "screen.png"
    info = store.agent_run(run.id)
    assert (info.workspace, info.mode) == ("/work/project", "ask")
    assert store.agent_run(chat.id) is None and store.agent_records(run.id) == []
    store.add_agent_records(run.id, [{"type": "StepStarted", "step": 1, "max_steps": 30}])
    store.add_agent_records(run.id, [{"type": "ModelReplied", "step": 1, "text": "é ✓"},
                                     {"type": "X", "n": 2}])
    store.close()

    again = Store(tmp_path / "data")  # as after a restart
    assert [r["type"] for r in again.agent_records(run.id)] == ["StepStarted", "ModelReplied", "X"]
    assert again.agent_records(run.id)[1]["text"] == "é ✓"
    again.delete_conversation(run.id)
    assert again.agent_run(run.id) is None and again.agent_records(run.id) == []
    with pytest.raises(KeyError):
        again.add_agent_records(run.id, [{"type": "StepStarted"}])
    with pytest.raises(KeyError):  # a chat has no agent records
        again.add_agent_records(chat.id, [{"type": "StepStarted"}])


def test_an_agent_run_is_stored_whole_or_not_at_all(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(sqlite3.Error):  # the third insert fails: no conversation, no message left
        store.create_agent_run("task", [], None, "ask")
    other = sqlite3.connect(tmp_path / "tandem.sqlite3")
    assert store.conversations() == []
    assert other.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    run = store.create_agent_run("task", [], "/p", "ask")
    looped: dict = {}
    looped["self"] = looped
    with pytest.raises(ValueError):  # one record that cannot be stored: none of them is
        store.add_agent_records(run.id, [{"type": "A"}, {"type": "B", "x": looped}])
    assert store.agent_records(run.id) == []


def test_the_agent_runs_migration_keeps_chats_whatever_its_number(tmp_path):
    path = tmp_path / "tandem.sqlite3"
    before = MIGRATIONS.index(AGENT_RUNS)  # other migrations may come before or after it
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("\n".join(MIGRATIONS[:before]) + f"\nPRAGMA user_version = {before};")
    conn.execute("INSERT INTO conversations (id, title, created_at, updated_at)"
                 " VALUES ('c1', 'Old chat', 1.0, 1.0)")
    conn.close()
    store = Store(tmp_path)
    [old] = store.conversations()
    assert (old.id, old.kind) == ("c1", "chat")
    assert store.create_agent_run("t", [], "/p", "ask").kind == AGENT_RUN


def test_store_imports_no_qt():
    import subprocess
    import sys

    code = "import sys, app.store; sys.exit(any(k.startswith('PySide6') for k in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def write_bytes(path):
    path.write_bytes(b"\x00" * 16)
    return path


def test_first_message_titles_for_attachments_alone(tmp_path):
    from app.store.titles import first_message_title

    s = Store(tmp_path)
    wav = tmp_path / "long.wav"
    import numpy as np
    import soundfile
    soundfile.write(wav, np.zeros(16000 * 75, np.float32), 16000)
    recording = s.import_file(wav)
    recording = Attachment(recording.kind, recording.sha256, recording.suffix, "Voice message.wav",
                           recording.path)
    assert first_message_title("", [recording]) == "Voice message · 1:15"
    broken = Attachment("audio", "00", ".wav", "Voice message.wav", tmp_path / "missing.wav")
    assert first_message_title("", [broken]) == "Voice message"
    song = Attachment("audio", "00", ".mp3", "talk.mp3", tmp_path / "talk.mp3")
    assert first_message_title("", [song]) == "Audio · talk.mp3"
    photo = Attachment("image", "00", ".png", "photo.png", tmp_path / "photo.png")
    assert first_message_title("", [photo]) == "Image · photo.png"
    recording_of_screen = Attachment("video", "00", ".mov", "screen.mov", tmp_path / "screen.mov")
    assert first_message_title("", [recording_of_screen]) == "Video · screen.mov"
    assert s.import_file(write_bytes(tmp_path / "clip.M4V")).kind == "video"
    assert first_message_title("  a  question\n", [photo]) == "a question"
    assert first_message_title("x" * 60) == "x" * 47 + "…"
    assert first_message_title("") == "New chat"
    s.close()


def test_empty_chats_are_the_ones_without_messages(tmp_path):
    s = Store(tmp_path)
    empty = s.create_conversation()
    used = s.create_conversation()
    s.add_message(used.id, "user", "hi")
    run = s.create_agent_run("fix it", [], str(tmp_path), "ask")
    assert s.empty_chats() == {empty.id}
    assert run.id not in s.empty_chats()
    s.close()
