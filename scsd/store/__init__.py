"""The store: every SQL statement of the daemon, behind one async interface (SPEC §3).

One module per area (sessions, messages, search, memory, audit, signals, transfer), combined
into `Store`; the watcher's separate read connection is `Reader`; `schema` holds the
migrations, `textfold` the folding of text for search, `sweeper` the task that deletes what
has expired. Nothing outside this package runs SQL.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

import sqlite_utils
import trio

from scsd.model import Message
from scsd.store import schema
from scsd.store._lane import BUSY_TIMEOUT_SECONDS, connect, now_micros, startup_error
from scsd.store.audit import AuditOps
from scsd.store.memory import ALL_SCOPES, MemoryOps
from scsd.store.messages import MessageOps, MessagePage, Participants
from scsd.store.reader import LoggedChange, Reader, open_reader
from scsd.store.search import SearchOps
from scsd.store.sessions import SessionOps
from scsd.store.signals import SignalOps
from scsd.store.transfer import TransferOps

__all__ = [
    "ALL_SCOPES",
    "BUSY_TIMEOUT_SECONDS",
    "LoggedChange",
    "MessagePage",
    "Participants",
    "Reader",
    "Store",
    "connect",
    "now_micros",
    "open_reader",
    "open_store",
]

logger = logging.getLogger(__name__)

# Reads at once: one per core of the machine this was measured on (docs/performance.md).
READ_CONNECTIONS: Final = 2


class Store(SessionOps, MessageOps, SearchOps, MemoryOps, AuditOps, TransferOps, SignalOps):
    """Owns the write connection; each call runs in a worker thread, one at a time."""


@contextlib.asynccontextmanager
async def open_store(
    path: Path,
    on_commit: Callable[[], None] = lambda: None,
    *,
    on_message: Callable[[Message], None] = lambda message: None,
    busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS,
    read_connections: int = READ_CONNECTIONS,
) -> AsyncIterator[Store]:
    """Open (creating and migrating if needed) the database at `path`; close it on exit.

    Reads run on `read_connections` connections of their own (WAL: they never wait for a
    write), writes on one write connection; with 0, reads share the write lane.

    `on_commit` runs after every committed change a subscriber may care about (it wakes the
    watcher); `on_message` then gets each message this store added (`watcher.shortcut`). A
    write that finds the database locked by another connection waits up to
    `busy_timeout_seconds`, then fails with `StoreUnavailable` (reason "busy").

    Raises:
        StartupError: the database cannot be opened or written (read-only, damaged, locked,
            disk full), or is newer than this code.
    """
    db = await trio.to_thread.run_sync(_open_and_migrate, path, busy_timeout_seconds)
    readers: list[sqlite_utils.Database] = []
    try:
        for _ in range(read_connections):
            readers.append(await trio.to_thread.run_sync(_open_reader, path, busy_timeout_seconds))
        yield Store(db, path, on_commit, on_message, readers)
    finally:
        for reader in readers:
            reader.close()
        db.close()


def _open_reader(path: Path, busy_timeout_seconds: float) -> sqlite_utils.Database:
    db = connect(path, busy_timeout_seconds)
    db.execute("PRAGMA query_only = 1")  # a read connection: a write through it is a bug
    return db


def _open_and_migrate(path: Path, busy_timeout_seconds: float) -> sqlite_utils.Database:
    db = connect(path, busy_timeout_seconds)
    try:
        # The migration always writes (user_version, in BEGIN IMMEDIATE), so a database this
        # process cannot write is refused here, at start-up, not at the first caller's write.
        found = schema.migrate(db.conn, str(path))
    except sqlite3.Error as e:
        db.close()
        raise startup_error(path, e) from None
    except BaseException:
        db.close()
        raise
    if found != schema.SCHEMA_VERSION:
        logger.info("database %s migrated from schema %d to %d", path, found, schema.SCHEMA_VERSION)
    return db
