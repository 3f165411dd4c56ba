"""The watcher's read connection: cheap `data_version` checks, then reads by id."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Collection
from pathlib import Path

import sqlite_utils
import trio

from scsd.composing import TYPING_SECONDS
from scsd.events import Change, MemoryChange, Message, Session, TypingChange
from scsd.store._lane import (
    BUSY_TIMEOUT_SECONDS,
    MESSAGE_COLUMNS,
    connect,
    startup_error,
    to_message,
    to_session,
    unavailable,
)


class Reader:
    """The watcher's own read connection: cheap `data_version` checks, then reads by id."""

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self._db = db
        self._path = path
        self._data_version = -1
        self._log_version = -1
        self._latest_version = -2  # the last data_version seen by messages_after
        self._log_cursor = 0
        self._one_at_a_time = trio.CapacityLimiter(1)

    async def max_id(self) -> int:
        """The newest message id: the watcher's baseline. Also the change log's baseline.

        Raises:
            StartupError: the database cannot be read (this is the daemon's first read).
        """

        def run() -> int:
            try:
                return baseline()
            except sqlite3.Error as e:
                raise startup_error(self._path, e) from None

        def baseline() -> int:
            self._data_version = self._log_version = self._current_version()
            self._log_cursor = int(self._db.execute("SELECT max(id) FROM change_log").fetchone()[0] or 0)
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
                raise unavailable(e, "reading new messages") from e

        def poll() -> list[Message]:
            version = self._latest_version = self._current_version()
            if version == self._data_version:
                return []
            rows = self._db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id > ? ORDER BY id LIMIT ?",
                [after_id, limit],
            ).fetchall()
            if len(rows) < limit:
                # Only mark this version seen once we have read everything it holds.
                self._data_version = version
            return [to_message(r) for r in rows]

        return await trio.to_thread.run_sync(run, limiter=self._one_at_a_time)

    async def changes_after(self, limit: int) -> list[Change]:
        """Session and session-memory changes logged since the last call (or since `max_id`),
        as `session_update` / `memory_update` changes; [] at once if nothing was committed."""
        if self._latest_version == self._log_version:
            # The version `messages_after` just read (the watcher calls it first) is the one
            # the log was last read at: idle, no need for another trip to a worker thread.
            return []

        def run() -> list[Change]:
            try:
                return poll()
            except sqlite3.Error as e:
                raise unavailable(e, "reading the change log") from e

        def poll() -> list[Change]:
            version = self._current_version()
            if version == self._log_version:
                return []
            rows = self._db.execute(
                "SELECT id, kind, session_id, agent_id, key, action, timestamp FROM change_log"
                " WHERE id > ? ORDER BY id LIMIT ?",
                [self._log_cursor, limit],
            ).fetchall()
            if len(rows) < limit:
                self._log_version = version
            if rows:
                self._log_cursor = rows[-1][0]
            sessions = self._sessions({r[2] for r in rows if r[1] == "session"})
            changes = []
            for _, kind, sid, agent_id, key, action, ts in rows:
                if kind == "memory":
                    changes.append(Change.memory_update(MemoryChange(action, agent_id, key, sid, ts)))
                elif kind == "typing":
                    changes.append(Change.typing_update(typing_change(sid, agent_id, action, ts)))
                elif sid in sessions:
                    changes.append(Change.session_update(sessions[sid]))
            return changes

        return await trio.to_thread.run_sync(run, limiter=self._one_at_a_time)

    async def sessions(self, session_ids: Collection[str]) -> list[Session]:
        """The current rows of these sessions (for `session_update` after new messages)."""

        def run() -> list[Session]:
            try:
                return list(self._sessions(session_ids).values())
            except sqlite3.Error as e:
                raise unavailable(e, "reading sessions") from e

        return await trio.to_thread.run_sync(run, limiter=self._one_at_a_time)

    def _sessions(self, session_ids: Collection[str]) -> dict[str, Session]:
        if not session_ids:
            return {}
        ids = list(session_ids)
        marks = ", ".join("?" for _ in ids)
        rows = self._db.execute(f"SELECT * FROM sessions WHERE id IN ({marks})", ids).fetchall()
        return {r[0]: to_session(r) for r in rows}

    def _current_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])


def typing_change(session_id: str, agent_id: str, action: str, timestamp: int) -> TypingChange:
    """A logged typing row as the event subscribers get: a start lapses TYPING_SECONDS later."""
    start = action == "start"
    expires_at = timestamp + round(TYPING_SECONDS * 1_000_000) if start else None
    return TypingChange(session_id, agent_id, start, expires_at)


@contextlib.asynccontextmanager
async def open_reader(
    path: Path, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS
) -> AsyncIterator[Reader]:
    """A read connection for the watcher, separate from the writer's."""
    db = await trio.to_thread.run_sync(connect, path, busy_timeout_seconds)
    try:
        yield Reader(db, path)
    finally:
        db.close()
