"""Sessions: create, read, list."""

from __future__ import annotations

import secrets
from typing import Any

import sqlite_utils

from scsd.errors import NotFound
from scsd.model import Session
from scsd.store._lane import Lane, dump, log_change, now_micros, to_session


class SessionOps(Lane):
    async def create_session(self, purpose: str, created_by: str, metadata: dict[str, Any]) -> Session:
        session_id = "session_" + secrets.token_hex(8)
        now = now_micros()

        def run(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT INTO sessions (id, purpose, created_by, created_at, updated_at, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [session_id, purpose, created_by, now, now, dump(metadata)],
            )
            log_change(db, "session", session_id, "created", agent_id=created_by)

        await self._write(run)
        return Session(session_id, purpose, created_by, now, now, True, metadata)

    async def get_session(self, session_id: str) -> Session:
        """Raises NotFound if there is no such session."""

        def run(db: sqlite_utils.Database) -> Session:
            row = db.execute("SELECT * FROM sessions WHERE id = ?", [session_id]).fetchone()
            if row is None:
                raise NotFound("session", session_id)
            return to_session(row)

        return await self._call(run)

    async def list_sessions(self, limit: int, offset: int, active_only: bool) -> list[Session]:
        where = "WHERE is_active = 1" if active_only else ""

        def run(db: sqlite_utils.Database) -> list[Session]:
            rows = db.execute(
                f"SELECT * FROM sessions {where} ORDER BY updated_at DESC, id LIMIT ? OFFSET ?",
                [limit, offset],
            ).fetchall()
            return [to_session(r) for r in rows]

        return await self._call(run)
