"""The watcher's read connection: cheap `data_version` checks, then reads by id."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import sqlite_utils
import trio

from scsd.errors import StoreUnavailable
from scsd.events import Message
from scsd.store._lane import MESSAGE_COLUMNS, connect, to_message


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
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id > ? ORDER BY id LIMIT ?",
                [after_id, limit],
            ).fetchall()
            if len(rows) < limit:
                # Only mark this version seen once we have read everything it holds.
                self._data_version = version
            return [to_message(r) for r in rows]

        return await trio.to_thread.run_sync(run, limiter=self._one_at_a_time)

    def _current_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])


@contextlib.asynccontextmanager
async def open_reader(path: Path) -> AsyncIterator[Reader]:
    """A read connection for the watcher, separate from the writer's."""
    db = await trio.to_thread.run_sync(connect, path)
    try:
        yield Reader(db)
    finally:
        db.close()
