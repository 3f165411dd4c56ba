"""The store: every SQL statement of the daemon, behind one async interface.

Writes go through one connection, one call at a time, in a worker thread (R9). Write
transactions use `BEGIN IMMEDIATE` so that two processes sharing the file wait on the busy
timeout instead of failing with "database is locked" when a read would be upgraded to a write.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import sqlite_utils
import trio

from scsd import schema
from scsd.errors import NotFound, StartupError, StoreUnavailable
from scsd.events import Identity, Message, Session
from scsd.visibility import sql_clause

logger = logging.getLogger(__name__)

T = TypeVar("T")
BUSY_TIMEOUT_MS: Final = 10_000
_MESSAGE_COLUMNS: Final = (
    "id, session_id, sender, sender_type, content, visibility, message_type, metadata, "
    "timestamp, parent_message_id"
)


def now_micros() -> int:
    return time.time_ns() // 1000


def connect(path: Path) -> sqlite_utils.Database:
    """Open `path` with the settings every scsd connection uses (WAL, busy timeout, FKs).

    Raises:
        StartupError: the file cannot be opened or is not a database.
    """
    try:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        db = sqlite_utils.Database(conn, execute_plugins=False)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        db.execute("PRAGMA foreign_keys = ON")
        db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as e:
        raise StartupError(f"cannot open database {path}: {e}; check --db / SHARED_CONTEXT_DB") from None
    return db


@dataclass(frozen=True)
class MessagePage:
    messages: list[Message]
    total_count: int


class Store:
    """Owns the write connection; each call runs in a worker thread, one at a time."""

    def __init__(self, db: sqlite_utils.Database, path: Path, on_commit: Callable[[], None]) -> None:
        self._db = db
        self.path = path
        self._on_commit = on_commit
        self._one_at_a_time = trio.CapacityLimiter(1)

    async def _call(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        return await trio.to_thread.run_sync(fn, self._db, limiter=self._one_at_a_time)

    async def _write(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        result = await self._call(lambda db: _in_immediate(db, fn))
        self._on_commit()
        return result

    # -- sessions --------------------------------------------------------------------------

    async def create_session(self, purpose: str, created_by: str, metadata: dict[str, Any]) -> Session:
        session_id = "session_" + secrets.token_hex(8)
        now = now_micros()

        def run(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT INTO sessions (id, purpose, created_by, created_at, updated_at, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [session_id, purpose, created_by, now, now, _dump(metadata)],
            )

        await self._write(run)
        return Session(session_id, purpose, created_by, now, now, True, metadata)

    async def get_session(self, session_id: str) -> Session:
        """Raises NotFound if there is no such session."""

        def run(db: sqlite_utils.Database) -> Session:
            row = db.execute("SELECT * FROM sessions WHERE id = ?", [session_id]).fetchone()
            if row is None:
                raise NotFound("session", session_id)
            return _session(row)

        return await self._call(run)

    async def list_sessions(self, limit: int, offset: int, active_only: bool) -> list[Session]:
        where = "WHERE is_active = 1" if active_only else ""

        def run(db: sqlite_utils.Database) -> list[Session]:
            rows = db.execute(
                f"SELECT * FROM sessions {where} ORDER BY updated_at DESC, id LIMIT ? OFFSET ?",
                [limit, offset],
            ).fetchall()
            return [_session(r) for r in rows]

        return await self._call(run)

    # -- messages --------------------------------------------------------------------------

    async def add_message(
        self,
        session_id: str,
        sender: Identity,
        content: str,
        visibility: str,
        metadata: dict[str, Any],
        parent_message_id: int | None,
        message_type: str = "agent_response",
    ) -> Message:
        """Insert a message; the session (and parent, if given) must exist.

        Raises:
            NotFound: no such session, or no such parent message in this session.
        """

        def run(db: sqlite_utils.Database) -> Message:
            if db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is None:
                raise NotFound("session", session_id)
            if (
                parent_message_id is not None
                and db.execute(
                    "SELECT 1 FROM messages WHERE id = ? AND session_id = ?",
                    [parent_message_id, session_id],
                ).fetchone()
                is None
            ):
                raise NotFound("parent message", parent_message_id)
            now = now_micros()
            cursor = db.execute(
                "INSERT INTO messages (session_id, sender, sender_type, content, visibility,"
                " message_type, metadata, timestamp, parent_message_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    session_id,
                    sender.agent_id,
                    sender.agent_type,
                    content,
                    visibility,
                    message_type,
                    _dump(metadata),
                    now,
                    parent_message_id,
                ],
            )
            db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", [now, session_id])
            assert cursor.lastrowid is not None
            return Message(
                cursor.lastrowid,
                session_id,
                sender.agent_id,
                sender.agent_type,
                content,
                visibility,
                message_type,
                metadata,
                now,
                parent_message_id,
            )

        return await self._write(run)

    async def get_messages(
        self,
        session_id: str,
        viewer: Identity,
        *,
        visibilities: Sequence[str],
        since_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = False,
    ) -> MessagePage:
        """The messages of a session that `viewer` may see, by id, with the visible total.

        Raises:
            NotFound: no such session.
        """
        rule, params = sql_clause(viewer)
        marks = ", ".join("?" for _ in visibilities)
        where = f"session_id = ? AND {rule} AND visibility IN ({marks}) AND id > ?"
        args: list[Any] = [session_id, *params, *visibilities, since_id or 0]
        order = "DESC" if newest_first else "ASC"

        def run(db: sqlite_utils.Database) -> MessagePage:
            if db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is None:
                raise NotFound("session", session_id)
            rows = db.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE {where} ORDER BY id {order} LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
            total = db.execute(f"SELECT count(*) FROM messages WHERE {where}", args).fetchone()[0]
            return MessagePage([_message(r) for r in rows], int(total))

        return await self._call(run)

    async def last_message_id(self, session_id: str | None = None) -> int:
        def run(db: sqlite_utils.Database) -> int:
            if session_id is None:
                row = db.execute("SELECT max(id) FROM messages").fetchone()
            else:
                row = db.execute("SELECT max(id) FROM messages WHERE session_id = ?", [session_id]).fetchone()
            return int(row[0] or 0)

        return await self._call(run)

    # -- audit -----------------------------------------------------------------------------

    async def audit(
        self,
        event_type: str,
        agent_id: str,
        *,
        session_id: str | None = None,
        resource: str | None = None,
        result: str = "success",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        def run(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT INTO audit_log (timestamp, event_type, agent_id, session_id, resource,"
                " result, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [now_micros(), event_type, agent_id, session_id, resource, result, _dump(metadata or {})],
            )

        # Audit rows are not changes subscribers care about: no wake-up.
        await self._call(lambda db: _in_immediate(db, run))

    async def statistics(self) -> dict[str, int]:
        def run(db: sqlite_utils.Database) -> dict[str, int]:
            return {
                "sessions": int(db.execute("SELECT count(*) FROM sessions").fetchone()[0]),
                "messages": int(db.execute("SELECT count(*) FROM messages").fetchone()[0]),
            }

        return await self._call(run)


class Reader:
    """The watcher's own read connection: cheap `data_version` checks, then reads by id."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        self._data_version = -1
        self._one_at_a_time = trio.CapacityLimiter(1)

    async def max_id(self) -> int:
        def run() -> int:
            self._data_version = self._current_version()
            return int(self._db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0)

        return await trio.to_thread.run_sync(run, limiter=self._one_at_a_time)

    async def messages_after(self, after_id: int, limit: int) -> list[Message]:
        """Messages with id > after_id, oldest first; [] at once if nothing was committed since.

        `PRAGMA data_version` changes when any other connection (in this process or
        another) commits, so an idle poll costs one pragma, not a query.
        """

        def run() -> list[Message]:
            try:
                return poll()
            except sqlite3.Error as e:
                raise StoreUnavailable(f"reading new messages failed: {e}") from e

        def poll() -> list[Message]:
            version = self._current_version()
            if version == self._data_version:
                return []
            rows = self._db.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id > ? ORDER BY id LIMIT ?",
                [after_id, limit],
            ).fetchall()
            if len(rows) < limit:
                # Only mark this version seen once we have read everything it holds.
                self._data_version = version
            return [_message(r) for r in rows]

        return await trio.to_thread.run_sync(run, limiter=self._one_at_a_time)

    def _current_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])


@contextlib.asynccontextmanager
async def open_store(path: Path, on_commit: Callable[[], None] = lambda: None) -> AsyncIterator[Store]:
    """Open (creating and migrating if needed) the database at `path`; close it on exit.

    Raises:
        StartupError: the database cannot be opened, or is newer than this code.
    """
    db = await trio.to_thread.run_sync(_open_and_migrate, path)
    try:
        yield Store(db, path, on_commit)
    finally:
        db.close()


@contextlib.asynccontextmanager
async def open_reader(path: Path) -> AsyncIterator[Reader]:
    """A read connection for the watcher, separate from the writer's."""
    db = await trio.to_thread.run_sync(connect, path)
    try:
        yield Reader(db)
    finally:
        db.close()


def _open_and_migrate(path: Path) -> sqlite_utils.Database:
    db = connect(path)
    try:
        found = schema.migrate(db.conn, str(path))
    except BaseException:
        db.close()
        raise
    if found != schema.SCHEMA_VERSION:
        logger.info("database %s migrated from schema %d to %d", path, found, schema.SCHEMA_VERSION)
    return db


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _in_immediate(db: sqlite_utils.Database, fn: Callable[[sqlite_utils.Database], T]) -> T:
    with _immediate(db.conn):
        return fn(db)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _session(row: Sequence[Any]) -> Session:
    return Session(row[0], row[1], row[2], row[3], row[4], bool(row[5]), json.loads(row[6]))


def _message(row: Sequence[Any]) -> Message:
    return Message(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), row[8], row[9])
