"""Conversations on disk: one SQLite database (WAL) and a folder of content-addressed attachment files.

Layout under the data folder `root`:
    tandem.sqlite3              conversations, messages, attachment rows, agent runs (schema.py)
    attachments/ab/<sha256>.png the bytes of every attached file, named by their SHA-256
    sessions/<id>.safetensors   the engine's saved KV cache of a conversation, when present

Every write commits before the method returns, so when the UI shows a message as sent, it is on disk.
A conversation is a chat or an agent run (`Conversation.kind`). An agent run's task is its first
message; its folder and approval mode are an `AgentRunInfo`, and what happened in it is a list of
JSON records (`add_agent_records`, `agent_records`; their shape is app.agent.run_record's).
The store is used from one thread (the GUI's). It imports no Qt.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.store.schema import migrate
from app.store.titles import DEFAULT_TITLE, first_message_title
from app.store.variants import MAX_VARIANTS, VariantPlace, read_tail, tail_json

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".oga", ".aiff", ".aif"}  # what engine.inputs.audio decodes
VIDEO_SUFFIXES = {".mov", ".mp4", ".webm", ".m4v"}  # screen recordings and phone clips (engine.inputs.video)


def kind_of(path: str | Path) -> str:
    """"image", "audio", "video" or "" for a file name the app cannot attach."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return ""


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message; `path` is the store's own copy."""

    kind: str
    sha256: str
    suffix: str
    filename: str
    path: Path


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created_at: float
    updated_at: float
    kind: str = "chat"  # or AGENT_RUN


AGENT_RUN = "agent"


@dataclass(frozen=True)
class AgentRunInfo:
    """Where an agent run worked, and in which approval mode (an app.agent.ApprovalMode value)."""

    conversation_id: str
    workspace: str
    mode: str


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: str
    position: int
    role: str  # "user" or "assistant"
    content: str
    attachments: tuple[Attachment, ...] = ()
    thinking: str = ""
    tool_calls: tuple[dict, ...] = ()
    finish_reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


class Store:
    """The conversation database and attachment folder under `root` (created if missing)."""

    DEFAULT_TITLE = DEFAULT_TITLE

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.attachments_dir = self.root / "attachments"
        self.sessions_dir = self.root / "sessions"
        self.db_path = self.root / "tandem.sqlite3"
        self._conn = sqlite3.connect(self.db_path, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # a sent message survives a power cut
        self._conn.execute("PRAGMA foreign_keys=ON")
        migrate(self._conn)

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------ conversations

    def create_conversation(self, title: str = DEFAULT_TITLE) -> Conversation:
        return self._insert_conversation(title, "chat")

    def conversation(self, conversation_id: str) -> Conversation | None:
        row = self._conn.execute(
            "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        return _conversation(row) if row else None

    def conversations(self, query: str = "") -> list[Conversation]:
        """Newest first; with `query`, only those whose title or any message contains it."""
        if not query.strip():
            rows = self._conn.execute("SELECT * FROM conversations ORDER BY updated_at DESC")
        else:
            like = "%" + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = self._conn.execute(
                "SELECT * FROM conversations c WHERE c.title LIKE ?1 ESCAPE '\\' OR EXISTS ("
                " SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.content LIKE ?1 ESCAPE '\\')"
                " ORDER BY updated_at DESC",
                (like,),
            )
        return [_conversation(r) for r in rows]

    def empty_chats(self) -> set[str]:
        """The ids of chats with no message yet (one made for an attachment being prepared)."""
        rows = self._conn.execute(
            "SELECT id FROM conversations c WHERE c.kind = 'chat' AND NOT EXISTS ("
            " SELECT 1 FROM messages m WHERE m.conversation_id = c.id)")
        return {row[0] for row in rows}

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        title = title.strip()
        if not title:
            raise ValueError("A conversation needs a non-empty title.")
        self._conn.execute(
            "UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id)
        )

    def delete_conversation(self, conversation_id: str) -> None:
        self._conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        if self.sessions_dir.is_dir():  # the KV cache and the engine's files beside it
            for path in self.sessions_dir.glob(f"{conversation_id}.*"):
                path.unlink(missing_ok=True)

    # ------------------------------------------------------------ messages

    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        attachments: Iterable[Attachment] = (),
        thinking: str = "",
        tool_calls: Iterable[dict] = (),
        finish_reason: str = "",
        stats: dict[str, Any] | None = None,
    ) -> Message:
        """Append a message (committed to disk when this returns) and return it."""
        if role not in ("user", "assistant"):
            raise ValueError(f"Unknown message role {role!r}; expected 'user' or 'assistant'.")
        attachments = tuple(attachments)
        tool_calls = tuple(tool_calls)
        with self._transaction():
            message = self._insert_message(conversation_id, role, content, attachments,
                                           thinking, tool_calls, finish_reason, stats or {})
        return message

    def messages(self, conversation_id: str) -> list[Message]:
        rows = self._conn.execute(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY position", (conversation_id,)
        ).fetchall()
        return [self._message(r) for r in rows]

    def delete_messages_from(self, conversation_id: str, position: int) -> None:
        """Remove the message at `position` and every later one, and their other versions."""
        with self._transaction():
            self._conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                (conversation_id, position),
            )
            self._conn.execute(
                "DELETE FROM message_variants WHERE conversation_id = ? AND position >= ?",
                (conversation_id, position),
            )

    # ------------------------------------------------------------ other versions of a tail

    def set_aside_from(self, conversation_id: str, position: int) -> None:
        """Keep the messages from `position` on as another version of the tail there, and remove
        them from the conversation: the next message at `position` starts a new version
        (regenerate, edit). Nothing is kept when there is nothing at `position`."""
        with self._transaction():
            if not self._tail_rows(conversation_id, position):
                return
            live = self._live_row(conversation_id, position)
            if live is None:
                self._conn.execute(
                    "INSERT INTO message_variants (conversation_id, position, ordinal, tail)"
                    " VALUES (?, ?, 0, ?)",
                    (conversation_id, position, self._take_tail(conversation_id, position)))
            else:
                self._conn.execute("UPDATE message_variants SET tail = ? WHERE id = ?",
                                   (self._take_tail(conversation_id, position), live))
            self._conn.execute(
                "INSERT INTO message_variants (conversation_id, position, ordinal, tail)"
                " SELECT ?, ?, COALESCE(MAX(ordinal) + 1, 0), NULL FROM message_variants"
                " WHERE conversation_id = ? AND position = ?",
                (conversation_id, position, conversation_id, position))
            self._drop_oldest(conversation_id, position)

    def variant_places(self, conversation_id: str) -> dict[int, VariantPlace]:
        """For each position with other versions: which one is live, of how many."""
        places: dict[int, VariantPlace] = {}
        rows = self._conn.execute(
            "SELECT position, tail FROM message_variants WHERE conversation_id = ?"
            " ORDER BY position, ordinal", (conversation_id,))
        counts: dict[int, list] = {}
        for row in rows:
            counts.setdefault(row["position"], []).append(row["tail"] is None)
        for position, live_flags in counts.items():
            if True in live_flags:
                places[position] = VariantPlace(live_flags.index(True) + 1, len(live_flags))
        return places

    def switch_variant(self, conversation_id: str, position: int, index: int) -> bool:
        """Make version `index` (1-based) of the tail at `position` the live one; the live one is
        kept in its place. False (and nothing changed) when there is no such version."""
        with self._transaction():
            rows = self._conn.execute(
                "SELECT id, tail FROM message_variants WHERE conversation_id = ? AND position = ?"
                " ORDER BY ordinal", (conversation_id, position)).fetchall()
            live = self._live_row(conversation_id, position)
            if live is None or not 1 <= index <= len(rows) or rows[index - 1]["tail"] is None:
                return False
            chosen = rows[index - 1]
            self._conn.execute("UPDATE message_variants SET tail = ? WHERE id = ?",
                               (self._take_tail(conversation_id, position), live))
            messages, deeper = read_tail(chosen["tail"])
            for m in messages:
                attachments = tuple(
                    Attachment(a["kind"], a["sha256"], a["suffix"], a["filename"],
                               self.blob_path(a["sha256"], a["suffix"]))
                    for a in m["attachments"])
                self._insert_message(conversation_id, m["role"], m["content"], attachments,
                                     m["thinking"], tuple(m["tool_calls"]), m["finish_reason"],
                                     m["stats"])
            for row in deeper:
                self._conn.execute(
                    "INSERT INTO message_variants (conversation_id, position, ordinal, tail)"
                    " VALUES (?, ?, ?, ?)",
                    (conversation_id, row["position"], row["ordinal"], row["tail"]))
            self._conn.execute("UPDATE message_variants SET tail = NULL WHERE id = ?",
                               (chosen["id"],))
        return True

    def _tail_rows(self, conversation_id: str, position: int) -> list[sqlite3.Row]:
        return self._conn.execute(
            "SELECT * FROM messages WHERE conversation_id = ? AND position >= ? ORDER BY position",
            (conversation_id, position)).fetchall()

    def _live_row(self, conversation_id: str, position: int) -> int | None:
        row = self._conn.execute(
            "SELECT id FROM message_variants WHERE conversation_id = ? AND position = ?"
            " AND tail IS NULL", (conversation_id, position)).fetchone()
        return row["id"] if row else None

    def _take_tail(self, conversation_id: str, position: int) -> str:
        """The live tail from `position` as JSON, with the variant rows below it; both are
        removed from the tables (inside the caller's transaction)."""
        messages = []
        for row in self._tail_rows(conversation_id, position):
            m = self._message(row)
            messages.append({
                "role": m.role, "content": m.content, "thinking": m.thinking,
                "tool_calls": list(m.tool_calls), "finish_reason": m.finish_reason,
                "stats": m.stats,
                "attachments": [{"kind": a.kind, "sha256": a.sha256, "suffix": a.suffix,
                                 "filename": a.filename} for a in m.attachments],
            })
        deeper = [dict(row) for row in self._conn.execute(
            "SELECT position, ordinal, tail FROM message_variants"
            " WHERE conversation_id = ? AND position > ? ORDER BY position, ordinal",
            (conversation_id, position))]
        self._conn.execute("DELETE FROM message_variants WHERE conversation_id = ? AND position > ?",
                           (conversation_id, position))
        self._conn.execute("DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                           (conversation_id, position))
        return tail_json(messages, deeper)

    def _drop_oldest(self, conversation_id: str, position: int) -> None:
        """Keep at most MAX_VARIANTS versions at `position`: memory and disk are a budget."""
        rows = self._conn.execute(
            "SELECT id FROM message_variants WHERE conversation_id = ? AND position = ?"
            " AND tail IS NOT NULL ORDER BY ordinal", (conversation_id, position)).fetchall()
        for row in rows[:max(0, len(rows) - (MAX_VARIANTS - 1))]:
            self._conn.execute("DELETE FROM message_variants WHERE id = ?", (row["id"],))

    # ------------------------------------------------------------ agent runs

    def create_agent_run(self, task: str, attachments: Iterable[Attachment], workspace: str,
                         mode: str) -> Conversation:
        """Store a new agent run: its task (the first message, which names it), folder and mode."""
        with self._transaction():
            conv = self._insert_conversation(self.DEFAULT_TITLE, AGENT_RUN)
            self._insert_message(conv.id, "user", task, tuple(attachments), "", (), "", {})
            self._conn.execute(
                "INSERT INTO agent_runs (conversation_id, workspace, mode) VALUES (?, ?, ?)",
                (conv.id, workspace, mode),
            )
        return self.conversation(conv.id)

    def agent_run(self, conversation_id: str) -> AgentRunInfo | None:
        row = self._conn.execute(
            "SELECT * FROM agent_runs WHERE conversation_id = ?", (conversation_id,)
        ).fetchone()
        return AgentRunInfo(row["conversation_id"], row["workspace"], row["mode"]) if row else None

    def add_agent_records(self, conversation_id: str, records: Iterable[dict]) -> None:
        """Append records to an agent run, all or none (on disk when this returns).

        Raises:
            KeyError: there is no such agent run (it was deleted).
        """
        rows = [(conversation_id, json.dumps(r, ensure_ascii=False, default=str)) for r in records]
        with self._transaction():
            if self.agent_run(conversation_id) is None:
                raise KeyError(f"No agent run with id {conversation_id!r}.")
            self._conn.executemany(
                "INSERT INTO agent_records (conversation_id, record) VALUES (?, ?)", rows
            )
            self._conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?",
                (time.time(), conversation_id),
            )

    def agent_records(self, conversation_id: str) -> list[dict]:
        """An agent run's records in the order they were added."""
        rows = self._conn.execute(
            "SELECT record FROM agent_records WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return [json.loads(row["record"]) for row in rows]

    # ------------------------------------------------------------ files

    def import_file(self, source: str | Path) -> Attachment:
        """Copy `source` into the attachment folder under its SHA-256 and describe it.

        Raises:
            ValueError: the file is not an image or audio file the app can attach.
            OSError: the file cannot be read.
        """
        source = Path(source)
        kind = kind_of(source)
        if not kind:
            raise ValueError(
                f"{source.name} is not an image or audio file (supported: "
                f"{', '.join(sorted(IMAGE_SUFFIXES | AUDIO_SUFFIXES))})."
            )
        digest = hashlib.sha256()
        with source.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        suffix = source.suffix.lower()
        target = self.blob_path(digest.hexdigest(), suffix)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(suffix + ".part")
            shutil.copyfile(source, partial)
            partial.replace(target)  # atomic: a blob is either whole or absent
        return Attachment(kind, digest.hexdigest(), suffix, source.name, target)

    def import_bytes(self, data: bytes, suffix: str, filename: str = "") -> Attachment:
        """Store `data` (a pasted image, say) as if it had been a file named `filename`."""
        suffix = suffix.lower() if suffix.startswith(".") else "." + suffix.lower()
        kind = kind_of("x" + suffix)
        if not kind:
            raise ValueError(f"Cannot attach data of type {suffix!r}.")
        sha = hashlib.sha256(data).hexdigest()
        target = self.blob_path(sha, suffix)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(suffix + ".part")
            partial.write_bytes(data)
            partial.replace(target)
        return Attachment(kind, sha, suffix, filename or f"pasted{suffix}", target)

    def blob_path(self, sha256: str, suffix: str) -> Path:
        return self.attachments_dir / sha256[:2] / f"{sha256}{suffix}"

    def session_cache_path(self, conversation_id: str) -> Path:
        return self.sessions_dir / f"{conversation_id}.safetensors"

    # ------------------------------------------------------------ internals

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    def _insert_conversation(self, title: str, kind: str) -> Conversation:
        now = time.time()
        conv = Conversation(uuid.uuid4().hex, title, now, now, kind)
        self._conn.execute(
            "INSERT INTO conversations (id, title, created_at, updated_at, kind)"
            " VALUES (?, ?, ?, ?, ?)",
            (conv.id, conv.title, now, now, kind),
        )
        return conv

    def _insert_message(self, conversation_id: str, role: str, content: str,
                        attachments: tuple[Attachment, ...], thinking: str,
                        tool_calls: tuple[dict, ...], finish_reason: str,
                        stats: dict[str, Any]) -> Message:
        """Add a message inside the caller's transaction."""
        now = time.time()
        if self.conversation(conversation_id) is None:
            raise KeyError(f"No conversation with id {conversation_id!r}.")
        position = self._conn.execute(
            "SELECT COALESCE(MAX(position) + 1, 0) FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()[0]
        cur = self._conn.execute(
            "INSERT INTO messages (conversation_id, position, role, content, created_at,"
            " thinking, tool_calls, finish_reason, stats) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, position, role, content, now, thinking,
             json.dumps(list(tool_calls)), finish_reason, json.dumps(stats)),
        )
        message_id = int(cur.lastrowid)
        for a in attachments:
            self._conn.execute(
                "INSERT INTO attachments (message_id, kind, sha256, suffix, filename)"
                " VALUES (?, ?, ?, ?, ?)",
                (message_id, a.kind, a.sha256, a.suffix, a.filename),
            )
        self._conn.execute(
            "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
        )
        if role == "user" and position == 0:
            self._conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND title = ?",
                (first_message_title(content, attachments), conversation_id, DEFAULT_TITLE),
            )
        return Message(message_id, conversation_id, position, role, content, attachments,
                       thinking, tool_calls, finish_reason, dict(stats))

    def _message(self, row: sqlite3.Row) -> Message:
        atts = tuple(
            Attachment(a["kind"], a["sha256"], a["suffix"], a["filename"],
                       self.blob_path(a["sha256"], a["suffix"]))
            for a in self._conn.execute(
                "SELECT * FROM attachments WHERE message_id = ? ORDER BY id", (row["id"],)
            )
        )
        return Message(row["id"], row["conversation_id"], row["position"], row["role"],
                       row["content"], atts, row["thinking"], tuple(json.loads(row["tool_calls"])),
                       row["finish_reason"], json.loads(row["stats"]))


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(row["id"], row["title"], row["created_at"], row["updated_at"], row["kind"])
