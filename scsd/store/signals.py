"""Typing indicators: change-log rows (never messages) that watchers in every process deliver."""

from __future__ import annotations

import sqlite_utils

from scsd.errors import NotFound
from scsd.store._lane import Lane, log_change, session_exists


class SignalOps(Lane):
    async def log_typing(self, session_id: str, agent_id: str, action: str | None, timestamp: int) -> None:
        """Log that `agent_id` started (`action` "start") or stopped ("stop") composing in
        `session_id` at `timestamp` (micros); with `action` None, only check the session.

        Whether a change is worth logging is the caller's to decide (scsd.realtime.composing).

        Raises:
            NotFound: no such session.
        """

        def run(db: sqlite_utils.Database) -> None:
            if not session_exists(db, session_id):
                raise NotFound("session", session_id)
            if action is not None:
                log_change(db, "typing", session_id, action, agent_id=agent_id, timestamp=timestamp)

        if action is None:
            await self._call(run)
        else:
            await self._write(run)
