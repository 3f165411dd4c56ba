"""Tests for scsd.schema (and the connection settings of scsd.store.connect) on real SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from scsd.errors import StartupError
from scsd.store import connect, open_store, schema

TABLES = {"sessions", "messages", "agent_memory", "audit_log"}
INSERT_SESSION = (
    "INSERT INTO sessions (id, purpose, created_by, created_at, updated_at) VALUES ('s', 'p', 'a', 1, 1)"
)


def _objects(conn: sqlite3.Connection, kind: str) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%'", [kind]
    ).fetchall()
    return {r[0] for r in rows}


def test_fresh_database_migrates_to_current_version(tmp_path: Path) -> None:
    path = tmp_path / "scsd.db"
    db = connect(path)
    try:
        assert schema.migrate(db.conn, str(path)) == 0
        assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert _objects(db.conn, "table") >= TABLES
        assert {
            "idx_messages_session_id",
            "idx_messages_session_time",
            "idx_messages_sender",
            "idx_agent_memory_key",
        } <= _objects(db.conn, "index")
        assert not db.conn.in_transaction
    finally:
        db.close()


def test_reopening_is_a_no_op(tmp_path: Path) -> None:
    """A second migrate finds the current version, changes nothing and keeps the data."""
    path = tmp_path / "scsd.db"
    db = connect(path)
    try:
        schema.migrate(db.conn, str(path))
        db.execute(INSERT_SESSION)
        db.conn.commit()
        before = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
        assert schema.migrate(db.conn, str(path)) == schema.SCHEMA_VERSION
        assert db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    finally:
        db.close()


def test_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "from-the-future.db"
    newer = schema.SCHEMA_VERSION + 1
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    db = connect(path)
    try:
        with pytest.raises(StartupError) as caught:
            schema.migrate(db.conn, str(path))
        message = str(caught.value)
        assert str(path) in message
        assert f"schema version {newer}" in message
        assert "newer" in message
        assert "upgrade scsd" in message
        # Nothing was changed, and the connection is usable (the transaction was rolled back).
        assert not db.conn.in_transaction
        assert db.execute("PRAGMA user_version").fetchone()[0] == newer
        assert _objects(db.conn, "table") == set()
    finally:
        db.close()


async def test_open_store_refuses_a_newer_database(tmp_path: Path) -> None:
    path = tmp_path / "scsd.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 5}")
    conn.close()
    with trio.fail_after(10), pytest.raises(StartupError, match="newer than this scsd"):
        async with open_store(path):
            pass


def test_failing_migration_is_rolled_back_not_skipped(tmp_path: Path) -> None:
    """A statement that fails aborts the whole migration: no half-built schema, version unchanged."""
    path = tmp_path / "scsd.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE audit_log (x)")  # clashes with a later statement of migration 1
    conn.commit()
    conn.close()
    db = connect(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="audit_log"):
            schema.migrate(db.conn, str(path))
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
        assert _objects(db.conn, "table") == {"audit_log"}
        assert not db.conn.in_transaction
    finally:
        db.close()


def test_wal_mode_foreign_keys_and_busy_timeout_are_on(tmp_path: Path) -> None:
    path = tmp_path / "scsd.db"
    db = connect(path)
    try:
        schema.migrate(db.conn, str(path))
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            db.execute(
                "INSERT INTO messages (session_id, sender, sender_type, content, timestamp)"
                " VALUES ('no-such-session', 'a', 'claude', 'x', 1)"
            )
    finally:
        db.close()
    # WAL is a property of the file: a plain connection sees it too.
    plain = sqlite3.connect(path)
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_constraints_reject_bad_rows(tmp_path: Path) -> None:
    """The schema itself refuses blank content, unknown visibilities and duplicate memory keys."""
    path = tmp_path / "scsd.db"
    db = connect(path)
    try:
        schema.migrate(db.conn, str(path))
        db.execute(INSERT_SESSION)
        insert = (
            "INSERT INTO messages (session_id, sender, sender_type, content, visibility, timestamp)"
            " VALUES ('s', 'a', 'claude', ?, ?, 1)"
        )
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(insert, ["", "public"])
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(insert, ["x" * 100_001, "public"])
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(insert, ["hello", "everyone"])
        db.execute(insert, ["x" * 100_000, "public"])
        memory = (
            "INSERT INTO agent_memory (agent_id, session_id, key, value, created_at, updated_at)"
            " VALUES ('a', ?, 'k', '1', 1, 1)"
        )
        db.execute(memory, [None])
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(memory, [None])  # global scope: NULL session ids must still be unique
        db.execute(memory, ["s"])  # same key in a session scope is another entry
    finally:
        db.close()


async def test_concurrent_first_opens_migrate_exactly_once(tmp_path: Path) -> None:
    """Several connections migrating a fresh file at once: one applies it, the others find it done."""
    path = tmp_path / "scsd.db"
    dbs = [connect(path) for _ in range(4)]
    found: list[int] = []
    try:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for db in dbs:

                    async def run(conn: sqlite3.Connection = db.conn) -> None:
                        found.append(
                            await trio.to_thread.run_sync(
                                schema.migrate, conn, str(path), abandon_on_cancel=True
                            )
                        )

                    nursery.start_soon(run)
    finally:
        for db in dbs:
            db.close()
    assert sorted(found) == [0] + [schema.SCHEMA_VERSION] * 3


def test_upgrade_from_version_1_indexes_existing_messages(tmp_path: Path) -> None:
    """A database written by schema 1 gets its messages into the search index on upgrade."""
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.execute("BEGIN IMMEDIATE")
    for statement in schema.MIGRATIONS[0]:
        assert isinstance(statement, str)
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO sessions (id, purpose, created_by, created_at, updated_at)"
        " VALUES ('session_00000000000000aa', 'p', 'a', 1, 1)"
    )
    conn.execute(
        "INSERT INTO messages (session_id, sender, sender_type, content, metadata, timestamp)"
        " VALUES ('session_00000000000000aa', 'Alice', 'claude', 'Le Café ouvre',"
        ' \'{"tag": "Ünïcode"}\', 2)'
    )
    conn.execute("COMMIT")
    assert schema.migrate(conn, str(path)) == 1
    rows = conn.execute("SELECT rowid, text, sid FROM messages_fts").fetchall()
    conn.close()
    assert rows == [(1, "alice le cafe ouvre unicode", "00000000000000aa")]
