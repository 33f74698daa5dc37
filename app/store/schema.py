"""Schema versions of the conversation database and the migrations between them.

The version lives in SQLite's `PRAGMA user_version`. `MIGRATIONS[i]` takes a database from version
`i` to version `i + 1`; `migrate` runs the missing ones in order, each in its own transaction, so a
database written by any earlier release opens in the current one with its data kept.
"""

from __future__ import annotations

import sqlite3

from app.store.variants import MESSAGE_VARIANTS

# Agent runs are conversations too: their kind, their folder and mode, and their events as JSON
# records (app.agent.run_record). Written to apply after any other migration, in any order.
AGENT_RUNS = """
    ALTER TABLE conversations ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat';
    CREATE TABLE agent_runs (
        conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
        workspace TEXT NOT NULL,
        mode TEXT NOT NULL
    );
    CREATE TABLE agent_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        record TEXT NOT NULL
    );
    CREATE INDEX agent_records_by_run ON agent_records(conversation_id, id);
"""

MIGRATIONS: list[str] = [
    # 0 -> 1: conversations, messages and their attachments.
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (conversation_id, position)
    );
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        suffix TEXT NOT NULL,
        filename TEXT NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, position);
    CREATE INDEX attachments_by_message ON attachments(message_id);
    """,
    # 1 -> 2: what an assistant turn carries besides its answer text.
    """
    ALTER TABLE messages ADD COLUMN thinking TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN tool_calls TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE messages ADD COLUMN finish_reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN stats TEXT NOT NULL DEFAULT '{}';
    """,
    AGENT_RUNS,  # 2 -> 3 (its number may change: nothing depends on it)
    MESSAGE_VARIANTS,  # 3 -> 4: the other versions of a regenerated or edited tail (same)
]

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring `conn` to SCHEMA_VERSION and return the version it had before.

    Raises:
        RuntimeError: the database was written by a newer release than this one.
    """
    start = schema_version(conn)
    if start > SCHEMA_VERSION:
        raise RuntimeError(
            f"The conversation database has schema version {start}, but this version of Tandem "
            f"only knows up to {SCHEMA_VERSION}. Update Tandem to open it."
        )
    for version in range(start, SCHEMA_VERSION):
        # executescript commits first, so the BEGIN/COMMIT pair makes each step atomic.
        try:
            conn.executescript(
                f"BEGIN;\n{MIGRATIONS[version]}\nPRAGMA user_version = {version + 1};\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.rollback()
            raise
    return start
