"""The store's connection and its single lane: every call runs in a worker thread, one at a time."""

from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import sqlite_utils
import trio

from scsd.errors import StartupError, StoreUnavailable
from scsd.model import Message, Session

T = TypeVar("T")
BUSY_TIMEOUT_SECONDS: Final = 10.0
MESSAGE_COLUMNS: Final = (
    "id, session_id, sender, sender_type, content, visibility, message_type, metadata, "
    "timestamp, parent_message_id"
)


def now_micros() -> int:
    return time.time_ns() // 1000


def connect(path: Path, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> sqlite_utils.Database:
    """Open `path` with the settings every scsd connection uses (WAL, busy timeout, FKs).

    `busy_timeout_seconds` is how long a statement waits for a lock another connection
    holds before it fails with "database is locked".

    Raises:
        StartupError: the file cannot be opened, is read-only, damaged or not a database.
    """
    try:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=busy_timeout_seconds)
    except sqlite3.Error as e:
        raise startup_error(path, e) from None
    try:
        db = sqlite_utils.Database(conn, execute_plugins=False)
        db.execute(f"PRAGMA busy_timeout = {round(busy_timeout_seconds * 1000):d}")
        db.execute("PRAGMA foreign_keys = ON")
        _enable_wal(db, time.monotonic() + busy_timeout_seconds)
        db.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as e:
        conn.close()
        raise startup_error(path, e) from None
    return db


def _enable_wal(db: sqlite_utils.Database, deadline: float) -> None:
    """Switch a new file to WAL, retrying until `deadline` while another connection does too.

    Two processes opening a fresh database at once (two daemons, or a daemon and
    `scsd stdio`) both switch it from the rollback journal to WAL. SQLite then refuses one of
    them at once with "database is locked", without waiting the busy timeout (waiting could
    deadlock); once the other has switched, a retry finds WAL already on.
    """
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as e:
            if fault_reason(e) != "busy" or time.monotonic() >= deadline:
                raise
        time.sleep(0.01 + random.random() * 0.04)


# SQLite's primary result codes for faults of the file, not of our SQL.
_REASONS: Final = {
    sqlite3.SQLITE_BUSY: "busy",
    sqlite3.SQLITE_LOCKED: "busy",
    sqlite3.SQLITE_FULL: "disk_full",
    sqlite3.SQLITE_READONLY: "read_only",
    sqlite3.SQLITE_PERM: "read_only",
    sqlite3.SQLITE_CORRUPT: "corrupt",
    sqlite3.SQLITE_NOTADB: "corrupt",
    sqlite3.SQLITE_IOERR: "io_error",
    sqlite3.SQLITE_CANTOPEN: "io_error",
}
_EXPLAIN: Final = {
    "busy": "the database is locked by another process for longer than the busy timeout",
    "disk_full": "the disk holding the database is full",
    "read_only": "the database file is read-only",
    "corrupt": "the database file is damaged",
    "io_error": "the database file could not be read or written",
}


def fault_reason(e: sqlite3.Error) -> str | None:
    """What kind of storage fault `e` is ("busy", "disk_full", ...), or None for an error
    in the SQL itself (a bug, not a fault of the file)."""
    code = getattr(e, "sqlite_errorcode", None)
    return None if code is None else _REASONS.get(code & 0xFF)


def unavailable(e: sqlite3.Error, doing: str) -> StoreUnavailable:
    """The StoreUnavailable for a fault `e` met while `doing` something."""
    reason = fault_reason(e) or "io_error"
    return StoreUnavailable(f"{doing} failed: {_EXPLAIN[reason]} ({e})", reason)


def startup_error(path: Path, e: sqlite3.Error) -> StartupError:
    """One line saying what is wrong with the database at `path` and what to do about it."""
    reason = fault_reason(e)
    if reason == "io_error" and not _writable(path):
        reason = "read_only"  # SQLite says only "unable to open database file" here
    if reason == "read_only":
        return StartupError(
            f"database {path} is read-only ({e}): make the file and its directory writable by "
            "this user (not on a read-only file system), or pass another --db"
        )
    if reason == "corrupt":
        return StartupError(
            f"database {path} is damaged or not an SQLite database ({e}): restore it from a "
            "backup (scsd backup), or pass another --db"
        )
    if reason == "busy":
        return StartupError(f"database {path} is locked by another process ({e}): stop that process or retry")
    if reason == "disk_full":
        return StartupError(f"no space left for database {path} ({e}): free disk space and retry")
    return StartupError(f"cannot open database {path}: {e}; check --db / SHARED_CONTEXT_DB")


def _writable(path: Path) -> bool:
    # access() reports a read-only file system, an immutable file or another owner's file.
    directory = path.parent if str(path.parent) else Path(".")
    return os.access(directory, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


class Lane:
    """Owns the write connection and a few read connections, each used by one worker thread
    at a time (R9). Writes take the one write lane and run in `BEGIN IMMEDIATE`, so two
    processes sharing the file wait on the busy timeout instead of failing with "database is
    locked" when a read would be upgraded. Reads (`_call`) take any free read connection:
    under WAL they never wait for a write in progress, here or in another process."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        path: Path,
        on_commit: Callable[[], None],
        on_message: Callable[[Message], None] = lambda message: None,
        readers: Sequence[sqlite_utils.Database] = (),
    ) -> None:
        self._db = db
        self.path = path
        self._on_commit = on_commit
        self._on_message = on_message
        self._one_at_a_time = trio.CapacityLimiter(1)
        self._idle_readers = list(readers)
        self._read_slots = trio.CapacityLimiter(len(readers)) if readers else None

    async def _call(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run the read `fn` on a free read connection (without any, on the write lane)."""
        if self._read_slots is None:
            return await self._on(self._db, fn, self._one_at_a_time)
        async with self._read_slots:
            reader = self._idle_readers.pop()
            try:
                return await self._on(reader, fn, None)
            finally:
                self._idle_readers.append(reader)

    async def _on(
        self,
        db: sqlite_utils.Database,
        fn: Callable[[sqlite_utils.Database], T],
        lane: trio.CapacityLimiter | None,
    ) -> T:
        try:
            if lane is None:
                return await trio.to_thread.run_sync(fn, db)
            return await trio.to_thread.run_sync(fn, db, limiter=lane)
        except sqlite3.Error as e:
            # Busy past the timeout, disk full, read-only, damaged: a fault of the file, which
            # the caller may hear about. Other errors (constraints, SQL) are bugs: propagate.
            if fault_reason(e) is None and not isinstance(e, sqlite3.OperationalError):
                raise
            raise unavailable(e, "database access") from e

    async def _write(self, fn: Callable[[sqlite_utils.Database], T], *, notify: bool = True) -> T:
        """Run `fn` in one write transaction on the write lane; wake the watcher after it commits."""
        result = await self._on(self._db, lambda db: in_immediate(db, fn), self._one_at_a_time)
        if notify:
            self._on_commit()
        return result


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")  # may fail too (disk full, busy): then roll back as well
    except BaseException:
        # SQLite rolls the whole transaction back by itself after some errors (disk full,
        # I/O error); a ROLLBACK then would fail and hide the error that says what happened.
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


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
    timestamp: int | None = None,
) -> None:
    """Record a non-message change for the watchers of every process (schema 3)."""
    db.execute(
        "INSERT INTO change_log (kind, session_id, agent_id, key, action, timestamp)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [kind, session_id, agent_id, key, action, now_micros() if timestamp is None else timestamp],
    )


def session_exists(db: sqlite_utils.Database, session_id: str) -> bool:
    return db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is not None


def to_session(row: Sequence[Any]) -> Session:
    return Session(row[0], row[1], row[2], row[3], row[4], bool(row[5]), json.loads(row[6]))


def to_message(row: Sequence[Any]) -> Message:
    return Message(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), row[8], row[9])
