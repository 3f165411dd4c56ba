"""Backup and import: an online copy of the whole database, and one session loaded from an export.

Export needs no SQL of its own: it reads through `get_session` and `get_messages`, so the
visibility rule is the one every other read path uses.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from scsd.errors import AlreadyExists
from scsd.model import Message, Session
from scsd.store._lane import Lane, dump, log_change, session_exists
from scsd.store.schema import fts_session
from scsd.store.textfold import searchable


@dataclass(frozen=True)
class BackupReport:
    """What `backup` wrote and what the copy's integrity check said."""

    path: Path
    size_bytes: int
    integrity: str
    sessions: int
    messages: int
    memory_entries: int

    @property
    def ok(self) -> bool:
        return self.integrity == "ok"


class TransferOps(Lane):
    async def backup(self, target: Path) -> BackupReport:
        """Copy the database to `target` with SQLite's online backup API, then check the copy.

        The copy is taken in one step under a read transaction, so it is one consistent
        snapshot even while other connections (the daemon) keep writing: in WAL mode they are
        not blocked meanwhile. The copy is switched to rollback-journal mode, so it is one
        self-contained file, and published at `target` only when complete.

        Raises:
            AlreadyExists: `target` exists; a backup never overwrites.
        """
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")

        def run(db: sqlite_utils.Database) -> BackupReport:
            if target.exists():
                raise AlreadyExists(str(target))
            try:
                dest = sqlite3.connect(partial)
                try:
                    db.conn.backup(dest)  # all pages in one step: one snapshot, no restarts
                    dest.execute("PRAGMA journal_mode = DELETE")
                finally:
                    dest.close()
                # link() fails if `target` appeared meanwhile: never clobber another file.
                os.link(partial, target)
            except FileExistsError:
                raise AlreadyExists(str(target)) from None
            finally:
                partial.unlink(missing_ok=True)
            return check_copy(target)

        return await self._call(run)

    async def import_session(self, session: Session, messages: Sequence[Message]) -> list[int]:
        """Recreate `session` (same id and times) and its `messages`, oldest first, in one
        transaction, with their search-index rows; return the new message ids in order.

        Messages get new ids from the database; a `parent_message_id` naming an earlier
        message of `messages` is remapped to that message's new id, any other becomes None.

        Raises:
            AlreadyExists: a session with this id exists.
        """

        def run(db: sqlite_utils.Database) -> list[int]:
            if session_exists(db, session.id):
                raise AlreadyExists(session.id)
            db.execute(
                "INSERT INTO sessions (id, purpose, created_by, created_at, updated_at, is_active, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [session.id, session.purpose, session.created_by, session.created_at, session.updated_at,
                 int(session.is_active), dump(dict(session.metadata))],
            )  # fmt: skip
            new_ids: dict[int, int] = {}
            for m in messages:
                parent = None if m.parent_message_id is None else new_ids.get(m.parent_message_id)
                cursor = db.execute(
                    "INSERT INTO messages (session_id, sender, sender_type, content, visibility,"
                    " message_type, metadata, timestamp, parent_message_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [session.id, m.sender, m.sender_type, m.content, m.visibility, m.message_type,
                     dump(dict(m.metadata)), m.timestamp, parent],
                )  # fmt: skip
                assert cursor.lastrowid is not None
                new_ids[m.id] = cursor.lastrowid
                text = searchable(m.sender, m.content, m.metadata, True)
                db.execute(
                    "INSERT INTO messages_fts (rowid, text, sid) VALUES (?, ?, ?)",
                    [cursor.lastrowid, text, fts_session(session.id)],
                )
            log_change(db, "session", session.id, "created", agent_id=session.created_by)
            return [new_ids[m.id] for m in messages]

        return await self._write(run)


def check_copy(path: Path) -> BackupReport:
    """Open the database file at `path` read-only, run `PRAGMA integrity_check` and count rows."""
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        result = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]

        def count(table: str) -> int:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

        return BackupReport(
            path=path,
            size_bytes=path.stat().st_size,
            integrity="; ".join(result),
            sessions=count("sessions"),
            messages=count("messages"),
            memory_entries=count("agent_memory"),
        )
