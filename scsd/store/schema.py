"""Versioned schema migrations, tracked in `PRAGMA user_version`.

Each migration is a tuple of steps (SQL statements, or Python functions for data that SQL
cannot compute) run one by one inside a single `BEGIN IMMEDIATE`
transaction, so two processes opening a fresh file at once cannot both apply it, and a failing
statement raises instead of being skipped. sqlite-utils' `Migrations` opens a deferred
transaction, which can race there; hence this small runner.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Final

from scsd.errors import StartupError
from scsd.store.textfold import searchable

Step = str | Callable[[sqlite3.Connection], None]


def _index_existing_messages(conn: sqlite3.Connection) -> None:
    rows = conn.execute("SELECT id, session_id, sender, content, metadata FROM messages")
    conn.executemany(
        "INSERT INTO messages_fts (rowid, text, sid) VALUES (?, ?, ?)",
        ((r[0], searchable(r[2], r[3], json.loads(r[4]), True), fts_session(r[1])) for r in rows),
    )


def fts_session(session_id: str) -> str:
    """The session column of the search index: the id's hex part (every id shares its
    `session_` prefix, whose trigrams would match every row)."""
    return session_id.removeprefix("session_")


MIGRATIONS: Final[tuple[tuple[Step, ...], ...]] = (
    # 1: sessions, messages, memory, audit log. Times are integer microseconds since the epoch.
    (
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            purpose TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX idx_sessions_updated ON sessions (updated_at)",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            sender TEXT NOT NULL,
            sender_type TEXT NOT NULL,
            content TEXT NOT NULL CHECK (length(content) BETWEEN 1 AND 100000),
            visibility TEXT NOT NULL DEFAULT 'public'
                CHECK (visibility IN ('public', 'private', 'agent_only', 'admin_only')),
            message_type TEXT NOT NULL DEFAULT 'agent_response',
            metadata TEXT NOT NULL DEFAULT '{}',
            timestamp INTEGER NOT NULL,
            parent_message_id INTEGER REFERENCES messages (id)
        )""",
        "CREATE INDEX idx_messages_session_id ON messages (session_id, id)",
        "CREATE INDEX idx_messages_session_time ON messages (session_id, timestamp)",
        "CREATE INDEX idx_messages_sender ON messages (sender)",
        """CREATE TABLE agent_memory (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            agent_id TEXT NOT NULL,
            session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
            key TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
            value TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            expires_at INTEGER
        )""",
        # NULL session ids are distinct in UNIQUE constraints, so scope them with ifnull.
        """CREATE UNIQUE INDEX idx_agent_memory_key
            ON agent_memory (agent_id, ifnull(session_id, ''), key)""",
        "CREATE INDEX idx_agent_memory_expiry ON agent_memory (expires_at)",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp INTEGER NOT NULL,
            event_type TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            session_id TEXT,
            resource TEXT,
            action TEXT,
            result TEXT,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX idx_audit_time ON audit_log (timestamp)",
        "CREATE INDEX idx_audit_agent ON audit_log (agent_id, timestamp)",
        "CREATE INDEX idx_audit_session ON audit_log (session_id, timestamp)",
    ),
    # 2: search index and revoked tokens. The index holds folded text (lower-case, no accents),
    # written by the store in the same transaction as the message: SQLite's trigram tokenizer
    # here cannot fold accents itself, and a trigger could not call our fold().
    (
        "CREATE VIRTUAL TABLE messages_fts USING fts5 (text, sid, tokenize = 'trigram')",
        _index_existing_messages,
        """CREATE TABLE revoked_tokens (
            token_id TEXT PRIMARY KEY,
            expires_at INTEGER NOT NULL
        )""",
        "CREATE INDEX idx_audit_event ON audit_log (event_type, timestamp)",
    ),
    # 3: a log of changes that are not messages (sessions created or changed, session-scoped
    # memory set or deleted), so that watchers in every process can deliver them by id.
    (
        """CREATE TABLE change_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('session', 'memory')),
            session_id TEXT NOT NULL,
            agent_id TEXT,
            key TEXT,
            action TEXT NOT NULL,
            timestamp INTEGER NOT NULL
        )""",
        "CREATE INDEX idx_change_log_time ON change_log (timestamp)",
    ),
    # 4: typing indicators travel through the change log too (kind 'typing', action 'start'
    # or 'stop'), so an agent composing through another process or daemon is seen. SQLite
    # cannot alter a CHECK constraint: the table is rebuilt, keeping its ids.
    (
        """CREATE TABLE change_log_v4 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('session', 'memory', 'typing')),
            session_id TEXT NOT NULL,
            agent_id TEXT,
            key TEXT,
            action TEXT NOT NULL,
            timestamp INTEGER NOT NULL
        )""",
        "INSERT INTO change_log_v4 SELECT id, kind, session_id, agent_id, key, action, timestamp"
        " FROM change_log",
        # Keep the id sequence too (rows swept from the tail must not have their ids reused).
        "DELETE FROM sqlite_sequence WHERE name = 'change_log_v4'",
        "INSERT INTO sqlite_sequence (name, seq)"
        " SELECT 'change_log_v4', seq FROM sqlite_sequence WHERE name = 'change_log'",
        "DROP TABLE change_log",
        "ALTER TABLE change_log_v4 RENAME TO change_log",
        "CREATE INDEX idx_change_log_time ON change_log (timestamp)",
    ),
)

SCHEMA_VERSION: Final = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: str) -> int:
    """Bring the database at `path` up to SCHEMA_VERSION; return the version found before.

    Raises:
        StartupError: the database was written by a newer scsd.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise StartupError(
                f"database {path} has schema version {found}, newer than this scsd "
                f"understands ({SCHEMA_VERSION}); upgrade scsd or use another --db"
            )
        for steps in MIGRATIONS[found:]:
            for step in steps:
                if callable(step):
                    step(conn)
                else:
                    conn.execute(step)
        # PRAGMA does not take parameters; the value is our own integer.
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may already have ended the transaction (disk full, I/O error); a ROLLBACK
        # then would fail and hide the error that says what happened.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found
