"""The store's connection and its single lane: every call runs in a worker thread, one at a time."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import sqlite_utils
import trio

from scsd.errors import StartupError, StoreUnavailable
from scsd.events import Message, Session

T = TypeVar("T")
BUSY_TIMEOUT_MS: Final = 10_000
MESSAGE_COLUMNS: Final = (
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


class Lane:
    """Owns the write connection. Reads and writes run in a worker thread one at a time
    (R9); writes run in `BEGIN IMMEDIATE` so two processes sharing the file wait on the busy
    timeout instead of failing with "database is locked" when a read would be upgraded."""

    def __init__(self, db: sqlite_utils.Database, path: Path, on_commit: Callable[[], None]) -> None:
        self._db = db
        self.path = path
        self._on_commit = on_commit
        self._one_at_a_time = trio.CapacityLimiter(1)

    async def _call(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        try:
            return await trio.to_thread.run_sync(fn, self._db, limiter=self._one_at_a_time)
        except sqlite3.OperationalError as e:
            # Busy past the timeout, disk full, I/O error: the caller may retry later.
            raise StoreUnavailable(f"database unavailable: {e}") from e

    async def _write(self, fn: Callable[[sqlite_utils.Database], T], *, notify: bool = True) -> T:
        """Run `fn` in one write transaction; wake the watcher after it commits."""
        result = await self._call(lambda db: in_immediate(db, fn))
        if notify:
            self._on_commit()
        return result


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def in_immediate(db: sqlite_utils.Database, fn: Callable[[sqlite_utils.Database], T]) -> T:
    with _immediate(db.conn):
        return fn(db)


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def log_change(
    db: sqlite_utils.Database,
    kind: str,
    session_id: str,
    action: str,
    *,
    agent_id: str | None = None,
    key: str | None = None,
) -> None:
    """Record a non-message change for the watchers of every process (schema 3)."""
    db.execute(
        "INSERT INTO change_log (kind, session_id, agent_id, key, action, timestamp)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [kind, session_id, agent_id, key, action, now_micros()],
    )


def session_exists(db: sqlite_utils.Database, session_id: str) -> bool:
    return db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is not None


def to_session(row: Sequence[Any]) -> Session:
    return Session(row[0], row[1], row[2], row[3], row[4], bool(row[5]), json.loads(row[6]))


def to_message(row: Sequence[Any]) -> Message:
    return Message(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), row[8], row[9])
