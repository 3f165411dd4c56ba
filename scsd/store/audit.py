"""The audit log, revoked tokens, and counts for health and metrics."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from scsd.errors import StoreUnavailable
from scsd.model import iso_from_micros
from scsd.store._lane import Lane, dump, now_micros

logger = logging.getLogger(__name__)

_AUDIT_COLUMNS = "id, timestamp, event_type, agent_id, session_id, resource, result, metadata"


@dataclass(frozen=True)
class AuditPage:
    """One page of audit rows, newest first, and whether older or newer matching rows exist."""

    entries: list[dict[str, Any]]
    has_older: bool
    has_newer: bool


def _audit_entry(r: Sequence[Any]) -> dict[str, Any]:
    return {"id": r[0], "timestamp": iso_from_micros(r[1]), "event_type": r[2], "agent_id": r[3],
            "session_id": r[4], "resource": r[5], "result": r[6], "metadata": json.loads(r[7])}  # fmt: skip


class AuditOps(Lane):
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
                [now_micros(), event_type, agent_id, session_id, resource, result, dump(metadata or {})],
            )

        # Audit rows are not changes subscribers care about: no wake-up. The audited action has
        # already happened (a message committed, say): a failed audit write must not turn its
        # success into an error the caller would retry, posting twice. Log it instead.
        try:
            await self._write(run, notify=False)
        except StoreUnavailable as e:
            logger.warning("audit row %s for %s not written: %s", event_type, agent_id, e)

    async def audit_entries(
        self, limit: int, offset: int, agent_id: str | None, session_id: str | None
    ) -> tuple[list[dict[str, Any]], int]:
        """Audit rows, newest first, optionally for one agent and/or session; and their total."""
        where, args = "1", []
        if agent_id is not None:
            where += " AND agent_id = ?"
            args.append(agent_id)
        if session_id is not None:
            where += " AND session_id = ?"
            args.append(session_id)

        def run(db: sqlite_utils.Database) -> tuple[list[dict[str, Any]], int]:
            rows = db.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
            total = db.execute(f"SELECT count(*) FROM audit_log WHERE {where}", args).fetchone()[0]
            return [_audit_entry(r) for r in rows], int(total)

        return await self._call(run)

    async def audit_page(
        self,
        limit: int,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        event_type: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> AuditPage:
        """Up to `limit` matching rows, newest first: the newest ones, those just older than
        `before_id`, or those just newer than `after_id` (the UI's older/newer cursors)."""
        where, args = "1", list[object]()
        for column, wanted in (
            ("event_type", event_type),
            ("agent_id", agent_id),
            ("session_id", session_id),
        ):
            if wanted is not None:
                where += f" AND {column} = ?"
                args.append(wanted)
        if after_id is not None:
            page_where, order, page_args = f"{where} AND id > ?", "ASC", [*args, after_id]
        elif before_id is not None:
            page_where, order, page_args = f"{where} AND id < ?", "DESC", [*args, before_id]
        else:
            page_where, order, page_args = where, "DESC", args

        def run(db: sqlite_utils.Database) -> AuditPage:
            rows = db.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE {page_where} ORDER BY id {order} LIMIT ?",
                [*page_args, limit + 1],
            ).fetchall()
            more = len(rows) > limit
            rows = sorted(rows[:limit], key=lambda r: -int(r[0]))

            def exists(condition: str, row_id: int) -> bool:
                found = db.execute(f"SELECT 1 FROM audit_log WHERE {where} AND {condition} LIMIT 1",
                                   [*args, row_id]).fetchone()  # fmt: skip
                return found is not None

            # An empty page still knows its side of the cursor: what lies beyond it exists or not.
            if rows:
                low, high = int(rows[-1][0]), int(rows[0][0])
            else:
                low = high = after_id + 1 if after_id is not None else (before_id or 1) - 1
            if after_id is not None:
                older, newer = exists("id < ?", low), more
            else:
                older, newer = more, exists("id > ?", high)
            return AuditPage([_audit_entry(r) for r in rows], has_older=older, has_newer=newer)

        return await self._call(run)

    async def audit_event_types(self) -> list[str]:
        """Every event type in the audit log, sorted."""

        def run(db: sqlite_utils.Database) -> list[str]:
            rows = db.execute("SELECT DISTINCT event_type FROM audit_log ORDER BY event_type").fetchall()
            return [str(r[0]) for r in rows]

        return await self._call(run)

    async def revoke_token(self, token_id: str, expires_at_seconds: int) -> None:
        def run(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT OR IGNORE INTO revoked_tokens (token_id, expires_at) VALUES (?, ?)",
                [token_id, expires_at_seconds * 1_000_000],
            )

        await self._write(run, notify=False)

    async def is_revoked(self, token_id: str) -> bool:
        def run(db: sqlite_utils.Database) -> bool:
            row = db.execute("SELECT 1 FROM revoked_tokens WHERE token_id = ?", [token_id]).fetchone()
            return row is not None

        return await self._call(run)

    async def sweep_revoked_tokens(self) -> int:
        """Forget revocations of tokens that have expired anyway; returns how many."""

        def run(db: sqlite_utils.Database) -> int:
            return db.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", [now_micros()]).rowcount

        return await self._write(run, notify=False)

    async def sweep_change_log(self, keep_seconds: int) -> int:
        """Forget logged changes older than `keep_seconds`: watchers read them within a poll."""

        def run(db: sqlite_utils.Database) -> int:
            cutoff = now_micros() - keep_seconds * 1_000_000
            return db.execute("DELETE FROM change_log WHERE timestamp < ?", [cutoff]).rowcount

        return await self._write(run, notify=False)

    async def statistics(self) -> dict[str, int]:
        def run(db: sqlite_utils.Database) -> dict[str, int]:
            return {
                "sessions": int(db.execute("SELECT count(*) FROM sessions").fetchone()[0]),
                "messages": int(db.execute("SELECT count(*) FROM messages").fetchone()[0]),
                "memory_entries": int(db.execute("SELECT count(*) FROM agent_memory").fetchone()[0]),
            }

        return await self._call(run)
