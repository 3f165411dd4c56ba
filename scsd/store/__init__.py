"""The store: every SQL statement of the daemon, behind one async interface (SPEC §3).

One module per area (sessions, messages, search, memory, audit), combined into `Store`; the
watcher's separate read connection is `Reader`. Nothing outside this package runs SQL.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import sqlite_utils
import trio

from scsd import schema
from scsd.store._lane import connect, now_micros
from scsd.store.audit import AuditOps
from scsd.store.memory import ALL_SCOPES, MemoryOps
from scsd.store.messages import MessageOps, MessagePage
from scsd.store.reader import Reader, open_reader
from scsd.store.search import SearchOps
from scsd.store.sessions import SessionOps
from scsd.store.transfer import TransferOps

__all__ = [
    "ALL_SCOPES",
    "MessagePage",
    "Reader",
    "Store",
    "connect",
    "now_micros",
    "open_reader",
    "open_store",
]

logger = logging.getLogger(__name__)


class Store(SessionOps, MessageOps, SearchOps, MemoryOps, AuditOps, TransferOps):
    """Owns the write connection; each call runs in a worker thread, one at a time."""


@contextlib.asynccontextmanager
async def open_store(path: Path, on_commit: Callable[[], None] = lambda: None) -> AsyncIterator[Store]:
    """Open (creating and migrating if needed) the database at `path`; close it on exit.

    `on_commit` runs after every committed change a subscriber may care about (it wakes the
    watcher).

    Raises:
        StartupError: the database cannot be opened, or is newer than this code.
    """
    db = await trio.to_thread.run_sync(_open_and_migrate, path)
    try:
        yield Store(db, path, on_commit)
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
