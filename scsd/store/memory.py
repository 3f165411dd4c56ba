"""Agent memory: per-agent key/value entries, global or session-scoped, with expiry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import sqlite_utils

from scsd.errors import AlreadyExists, NotFound
from scsd.model import MemoryEntry
from scsd.store._lane import Lane, dump, log_change, now_micros, session_exists

ALL_SCOPES: Final = "all"
_COLUMNS: Final = "agent_id, session_id, key, value, metadata, created_at, updated_at, expires_at"
_SCOPE: Final = "agent_id = ? AND ifnull(session_id, '') = ifnull(?, '') AND key = ?"
_LIVE: Final = "(expires_at IS NULL OR expires_at > ?)"


def _entry(row: Sequence[Any]) -> MemoryEntry:
    return MemoryEntry(
        row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]), row[5], row[6], row[7], len(row[3])
    )


class MemoryOps(Lane):
    async def set_memory(
        self,
        agent_id: str,
        session_id: str | None,
        key: str,
        value: Any,
        metadata: dict[str, Any],
        expires_in_seconds: int | None,
        overwrite: bool,
    ) -> MemoryEntry:
        """Store `value` under `key`; overwriting keeps `created_at`.

        Raises:
            NotFound: the session does not exist.
            AlreadyExists: a live entry exists and `overwrite` is false.
        """
        text, meta = dump(value), dump(metadata)

        def run(db: sqlite_utils.Database) -> MemoryEntry:
            if session_id is not None and not session_exists(db, session_id):
                raise NotFound("session", session_id)
            now = now_micros()
            expires_at = None if expires_in_seconds is None else now + expires_in_seconds * 1_000_000
            ident = [agent_id, session_id, key]
            row = db.execute(
                f"SELECT created_at, expires_at FROM agent_memory WHERE {_SCOPE}", ident
            ).fetchone()
            live = row is not None and (row[1] is None or row[1] > now)
            if live and not overwrite:
                raise AlreadyExists(key)
            created_at = row[0] if live else now
            db.execute(f"DELETE FROM agent_memory WHERE {_SCOPE}", ident)
            db.execute(
                f"INSERT INTO agent_memory ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [*ident, text, meta, created_at, now, expires_at],
            )
            if session_id is not None:
                log_change(db, "memory", session_id, "set", agent_id=agent_id, key=key)
            return MemoryEntry(
                agent_id, session_id, key, value, metadata, created_at, now, expires_at, len(text)
            )

        return await self._write(run)

    async def get_memory(self, agent_id: str, session_id: str | None, key: str) -> MemoryEntry:
        """Raises NotFound when there is no live entry."""

        def run(db: sqlite_utils.Database) -> MemoryEntry:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM agent_memory WHERE {_SCOPE} AND {_LIVE}",
                [agent_id, session_id, key, now_micros()],
            ).fetchone()
            if row is None:
                raise NotFound("memory", key)
            return _entry(row)

        return await self._call(run)

    async def list_memory(
        self, agent_id: str, session_id: str | None, prefix: str | None, limit: int
    ) -> list[MemoryEntry]:
        """Live entries, newest update first: global ones (`session_id` None), one session's,
        or all (`session_id == "all"`). `prefix` is matched literally."""
        where, args = f"agent_id = ? AND {_LIVE}", [agent_id, now_micros()]
        if session_id is None:
            where += " AND session_id IS NULL"
        elif session_id != ALL_SCOPES:
            where += " AND session_id = ?"
            args.append(session_id)
        if prefix:
            where += " AND substr(key, 1, ?) = ?"
            args.extend([len(prefix), prefix])

        def run(db: sqlite_utils.Database) -> list[MemoryEntry]:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM agent_memory WHERE {where} ORDER BY updated_at DESC, key LIMIT ?",
                [*args, limit],
            ).fetchall()
            return [_entry(r) for r in rows]

        return await self._call(run)

    async def delete_memory(self, agent_id: str, session_id: str | None, key: str) -> None:
        """Raises NotFound when there is no live entry (an expired one is removed anyway)."""

        def run(db: sqlite_utils.Database) -> int:
            ident = [agent_id, session_id, key]
            live = db.execute(f"DELETE FROM agent_memory WHERE {_SCOPE} AND {_LIVE}", [*ident, now_micros()])
            db.execute(f"DELETE FROM agent_memory WHERE {_SCOPE}", ident)
            if live.rowcount and session_id is not None:
                log_change(db, "memory", session_id, "deleted", agent_id=agent_id, key=key)
            return live.rowcount

        if await self._write(run) == 0:
            raise NotFound("memory", key)

    async def sweep_expired_memory(self) -> int:
        """Delete every expired entry of every agent; returns how many."""

        def run(db: sqlite_utils.Database) -> int:
            cursor = db.execute(
                "DELETE FROM agent_memory WHERE expires_at IS NOT NULL AND expires_at <= ?", [now_micros()]
            )
            return cursor.rowcount

        return await self._write(run, notify=False)

    async def browse_memory(
        self,
        agent_id: str,
        scope: str,
        session_id: str | None,
        key_part: str | None,
        *,
        prefix_only: bool,
        limit: int,
        preview_chars: int,
    ) -> list[MemoryEntry]:
        """Live entries of one agent for the Web UI, newest update first.

        Args:
            scope: "global", "session" or "all"; `session_id` narrows to one session.
            key_part: matched literally (no wildcards), ASCII case-insensitively, as a prefix
                when `prefix_only`, anywhere in the key otherwise.
            preview_chars: longer values (as JSON text) come back as None, so a page of
                large values stays small; `value_size` is always the real size.
        """
        where, args = f"agent_id = ? AND {_LIVE}", [agent_id, now_micros()]
        if scope == "global":
            where += " AND session_id IS NULL"
        elif scope == "session":
            where += " AND session_id IS NOT NULL"
        if session_id is not None:
            where += " AND session_id = ?"
            args.append(session_id)
        if key_part:
            where += (
                " AND substr(lower(key), 1, ?) = lower(?)"
                if prefix_only
                else " AND instr(lower(key), lower(?))"
            )
            args.extend([len(key_part), key_part] if prefix_only else [key_part])
        value = "CASE WHEN length(value) <= ? THEN value ELSE 'null' END"

        def run(db: sqlite_utils.Database) -> list[MemoryEntry]:
            rows = db.execute(
                f"SELECT agent_id, session_id, key, {value}, metadata, created_at, updated_at, expires_at,"
                f" length(value) FROM agent_memory WHERE {where} ORDER BY updated_at DESC, key LIMIT ?",
                [preview_chars, *args, limit],
            ).fetchall()
            return [
                MemoryEntry(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), r[5], r[6], r[7], r[8])
                for r in rows
            ]

        return await self._call(run)

    async def memory_owners(self, limit: int) -> list[str]:
        """Agent ids with at least one live memory entry, sorted (at most `limit`)."""

        def run(db: sqlite_utils.Database) -> list[str]:
            rows = db.execute(
                f"SELECT DISTINCT agent_id FROM agent_memory WHERE {_LIVE} ORDER BY agent_id LIMIT ?",
                [now_micros(), limit],
            ).fetchall()
            return [str(r[0]) for r in rows]

        return await self._call(run)
