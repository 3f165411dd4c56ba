"""Messages: add (with its search-index row, in one transaction) and read by visibility."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from scsd.access.visibility import sql_clause
from scsd.errors import NotFound
from scsd.model import VISIBILITIES, Identity, Message
from scsd.store._lane import MESSAGE_COLUMNS, Lane, dump, now_micros, session_exists, to_message
from scsd.store.schema import fts_session
from scsd.store.textfold import searchable


@dataclass(frozen=True)
class MessagePage:
    messages: list[Message]
    total_count: int


@dataclass(frozen=True)
class Participants:
    """Who wrote the messages of a session a viewer may see: `senders`, most recent first and
    at most the limit asked for; `total`, how many distinct senders there are; `messages`,
    how many messages the viewer may see (the same scan counts them)."""

    senders: list[str]
    total: int
    messages: int


def visible_where(session_id: str, viewer: Identity, visibilities: Sequence[str]) -> tuple[str, list[Any]]:
    """The WHERE condition for "messages of this session that `viewer` may see, narrowed to
    `visibilities`", with its parameters (columns unqualified)."""
    rule, params = sql_clause(viewer)
    marks = ", ".join("?" for _ in visibilities)
    return (
        f"session_id = ? AND {rule} AND visibility IN ({marks})",
        [session_id, *params, *visibilities],
    )


class MessageOps(Lane):
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
            if not session_exists(db, session_id):
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
                [session_id, sender.agent_id, sender.agent_type, content, visibility, message_type,
                 dump(metadata), now, parent_message_id],
            )  # fmt: skip
            message_id = cursor.lastrowid
            assert message_id is not None
            db.execute(
                "INSERT INTO messages_fts (rowid, text, sid) VALUES (?, ?, ?)",
                [message_id, searchable(sender.agent_id, content, metadata, True), fts_session(session_id)],
            )
            db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", [now, session_id])
            return Message(message_id, session_id, sender.agent_id, sender.agent_type, content,
                           visibility, message_type, metadata, now, parent_message_id)  # fmt: skip

        message = await self._write(run)
        self._on_message(message)
        return message

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
        sender: str | None = None,
        time_range: tuple[int, int] | None = None,
    ) -> MessagePage:
        """The messages of a session that `viewer` may see, by id, with the visible total;
        optionally only one sender's, or only those timestamped within `time_range`
        (inclusive, microseconds).

        Raises:
            NotFound: no such session.
        """
        where, args = visible_where(session_id, viewer, visibilities)
        where += " AND id > ?"
        args.append(since_id or 0)
        if sender is not None:
            where += " AND sender = ?"
            args.append(sender)
        if time_range is not None:
            where += " AND timestamp BETWEEN ? AND ?"
            args.extend(time_range)
        order = "DESC" if newest_first else "ASC"

        def run(db: sqlite_utils.Database) -> MessagePage:
            if not session_exists(db, session_id):
                raise NotFound("session", session_id)
            rows = db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {where} ORDER BY id {order} LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
            total = db.execute(f"SELECT count(*) FROM messages WHERE {where}", args).fetchone()[0]
            return MessagePage([to_message(r) for r in rows], int(total))

        return await self._call(run)

    async def participants(self, session_id: str, viewer: Identity, *, limit: int) -> Participants:
        """The distinct senders of the messages of a session that `viewer` may see, most
        recent (highest message id) first, at most `limit` (≥ 1) of them, with the totals.

        Raises:
            NotFound: no such session.
        """
        where, args = visible_where(session_id, viewer, VISIBILITIES)
        # One pass over the session's visible messages: the window functions run after the
        # grouping and before the LIMIT, so every row carries both totals.
        sql = (
            "SELECT sender, count(*) OVER (), sum(count(*)) OVER () FROM messages"
            f" WHERE {where} GROUP BY sender ORDER BY max(id) DESC LIMIT ?"
        )

        def run(db: sqlite_utils.Database) -> Participants:
            if not session_exists(db, session_id):
                raise NotFound("session", session_id)
            rows = db.execute(sql, [*args, limit]).fetchall()
            if not rows:
                return Participants([], 0, 0)
            return Participants([str(r[0]) for r in rows], int(rows[0][1]), int(rows[0][2]))

        return await self._call(run)

    async def last_message_id(self, session_id: str | None = None) -> int:
        def run(db: sqlite_utils.Database) -> int:
            if session_id is None:
                row = db.execute("SELECT max(id) FROM messages").fetchone()
            else:
                row = db.execute("SELECT max(id) FROM messages WHERE session_id = ?", [session_id]).fetchone()
            return int(row[0] or 0)

        return await self._call(run)
