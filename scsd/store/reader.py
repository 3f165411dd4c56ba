"""The watcher's read connection: `data_version` checks on the trio thread, then reads by id."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
import trio

from scsd.model import Message, Session
from scsd.store import commits
from scsd.store._lane import (
    BUSY_TIMEOUT_SECONDS,
    MESSAGE_COLUMNS,
    connect,
    startup_error,
    to_message,
    to_session,
    unavailable,
)


@dataclass(frozen=True)
class LoggedChange:
    """A `change_log` row: a session created (`kind` "session", with the session's current
    row in `session`), session memory set or deleted ("memory"), or typing ("typing")."""

    kind: str
    session_id: str
    agent_id: str | None
    key: str | None
    action: str
    timestamp: int
    session: Session | None = None


class Reader:
    """The watcher's own read connection, and a second one that only asks whether anything
    was committed since (`PRAGMA data_version`), on the trio thread: an idle poll then costs
    a few microseconds and no trip to a worker thread. Reads go to a worker thread."""

    def __init__(
        self, db: sqlite_utils.Database, path: Path, probe: sqlite3.Connection, commit_signal: str = "auto"
    ) -> None:
        self._db = db
        self._path = path
        self._commit_signal = commit_signal
        self._probe = probe
        # The probe's data_version when messages / the change log were last read to the end.
        self._messages_seen: int | None = None
        self._log_seen: int | None = None
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
            self._log_cursor = int(self._db.execute("SELECT max(id) FROM change_log").fetchone()[0] or 0)
            return int(self._db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0)

        version = self.data_version()
        newest = await trio.to_thread.run_sync(run, limiter=self._one_at_a_time)
        self._messages_seen = self._log_seen = version
        return newest

    async def messages_after(self, after_id: int, limit: int) -> list[Message]:
        """Messages with id > after_id, oldest first; [] at once if nothing was committed since
        they were last read to the end (see `data_version`)."""
        version = self.data_version()
        if version is not None and version == self._messages_seen:
            await trio.lowlevel.checkpoint()
            return []

        def run() -> list[Message]:
            try:
                rows = self._db.execute(
                    f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id > ? ORDER BY id LIMIT ?",
                    [after_id, limit],
                ).fetchall()
            except sqlite3.Error as e:
                raise unavailable(e, "reading new messages") from e
            return [to_message(r) for r in rows]

        batch = await trio.to_thread.run_sync(run, limiter=self._one_at_a_time)
        if len(batch) < limit:
            # Read to the end after `version` was taken: everything it covers has been seen.
            self._messages_seen = version
        return batch

    async def changes_after(self, limit: int) -> list[LoggedChange]:
        """Session, session-memory and typing changes logged since the last call (or since
        `max_id`), oldest first; [] at once if nothing was committed."""
        version = self.data_version()
        if version is not None and version == self._log_seen:
            await trio.lowlevel.checkpoint()
            return []

        def run() -> list[LoggedChange]:
            try:
                return poll()
            except sqlite3.Error as e:
                raise unavailable(e, "reading the change log") from e

        def poll() -> list[LoggedChange]:
            rows = self._db.execute(
                "SELECT id, kind, session_id, agent_id, key, action, timestamp FROM change_log"
                " WHERE id > ? ORDER BY id LIMIT ?",
                [self._log_cursor, limit],
            ).fetchall()
            if len(rows) < limit:
                self._log_seen = version  # read to the end after `version` was taken
            if rows:
                self._log_cursor = rows[-1][0]
            sessions = self._sessions({r[2] for r in rows if r[1] == "session"})
            return [
                LoggedChange(
                    kind, sid, agent_id, key, action, ts, sessions.get(sid) if kind == "session" else None
                )
                for _, kind, sid, agent_id, key, action, ts in rows
            ]

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

    async def signal_commits(
        self, wake: Callable[[], None], *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Call `wake` whenever another process may have committed; runs until cancelled.

        `task_status.started()` receives how commits are noticed: "inotify" (scsd.store.commits)
        or "poll" (the watcher's poll finds them; then this only waits).
        """
        await commits.signal_commits(self._path, self._commit_signal, wake, task_status)

    def data_version(self) -> int | None:
        """The probe connection's `PRAGMA data_version`, read on the calling (trio) thread:
        it changes whenever another connection, in this process or another, commits. None
        when SQLite cannot tell at once (the probe never waits on a lock): then read anyway.

        On a WAL database this reads SQLite's shared-memory index (and at most the file's
        first page, from the OS cache): microseconds, no wait worth a thread, so it runs on the
        event loop. The probe never writes, so no commit of its own can hide another's.
        """
        try:
            return int(self._probe.execute("PRAGMA data_version").fetchall()[0][0])
        except sqlite3.Error:
            return None


@contextlib.asynccontextmanager
async def open_reader(
    path: Path, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS, commit_signal: str = "auto"
) -> AsyncIterator[Reader]:
    """A read connection for the watcher, separate from the writer's, and its probe;
    `commit_signal` ("auto", "inotify", "poll") says how other processes' commits are noticed."""
    db = await trio.to_thread.run_sync(connect, path, busy_timeout_seconds)
    try:
        probe = await trio.to_thread.run_sync(_open_probe, path)
        try:
            yield Reader(db, path, probe, commit_signal)
        finally:
            probe.close()
    finally:
        db.close()


def _open_probe(path: Path) -> sqlite3.Connection:
    # No busy timeout: the probe runs on the event loop and must never sleep on a lock.
    # Autocommit: a pragma must not leave a read transaction open (that would pin the WAL).
    try:
        return sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as e:
        raise startup_error(path, e) from None
