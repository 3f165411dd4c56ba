"""Memory tools: set_memory, get_memory, list_memory, delete_memory (per-agent, TTL)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final

from pydantic import Field

from scsd.access import validation
from scsd.errors import AlreadyExists, NotFound, ToolError, invalid_input, session_not_found
from scsd.mcp.tools import READS, Hints, Services, ToolFunction, hints, identify, require
from scsd.mcp.tools.objects import memory_listing, memory_object
from scsd.mcp.tools.params import SCOPE_PATTERN, SCOPES_PATTERN, AuthToken, Metadata
from scsd.mcp.tools.results import MemoryDeleted, MemoryList, MemoryRead, MemorySet
from scsd.model import iso_from_micros
from scsd.store import ALL_SCOPES

MAX_KEY: Final = 255
MAX_TTL_SECONDS: Final = 31_536_000  # one year
MAX_VALUE_CHARS: Final = 1_000_000
_WHITESPACE: Final = re.compile(r"\s")
_DIGITS: Final = r"^\s*[0-9]+\s*$"

Key = Annotated[str, Field(description="1-255 characters after trimming, no whitespace inside.")]
Scope = Annotated[
    Annotated[str, Field(pattern=SCOPE_PATTERN)] | None,
    Field(description="A session's id for that session's memory; omitted (or empty) for global memory."),
]
Ttl = Annotated[int, Field(ge=0, le=MAX_TTL_SECONDS)] | Annotated[str, Field(pattern=_DIGITS)] | None


def build(svc: Services) -> list[ToolFunction]:
    @hints(Hints(destructive=True, idempotent=True))  # overwrites what is there
    async def set_memory(
        key: Key,
        value: Any,
        session_id: Scope = None,
        expires_in: Ttl = None,
        metadata: Metadata = None,
        overwrite: bool = True,
        auth_token: AuthToken = None,
    ) -> MemorySet:
        """Remember any JSON value under a key, for you only: global, or scoped to a session.
        Needs write.

        Args:
            value: Any JSON value (up to 1,000,000 characters as JSON).
            expires_in: Seconds until it is forgotten (up to 31,536,000, a year), as a number
                or digits; omitted, null or 0 means never.
            overwrite: Replace an existing entry; false answers KEY_EXISTS instead.
        """
        who = await require(svc, auth_token, "write")
        name = _key(key)
        scope = _scope(session_id)
        ttl = _ttl(expires_in)
        meta = validation.metadata(metadata)
        _check_value(value)
        try:
            entry = await svc.store.set_memory(
                who.agent_id, scope, name, value, meta, ttl, validation.boolean(overwrite, "overwrite")
            )
        except NotFound:
            raise session_not_found(str(scope)) from None
        except AlreadyExists:
            raise ToolError(
                "KEY_EXISTS",
                f"Memory key {name!r} already exists and overwrite is false.",
                suggestions=["Pass overwrite=true, or use another key"],
            ) from None
        facts = {"has_expiration": ttl is not None, "value_size": entry.value_size}
        await svc.store.audit("memory_set", who.agent_id, session_id=scope, resource=name, metadata=facts)
        return MemorySet(
            success=True,
            key=name,
            session_scoped=scope is not None,
            scope="global" if scope is None else "session",
            session_id=scope,
            expires_at=None if entry.expires_at is None else iso_from_micros(entry.expires_at),
            stored_at=iso_from_micros(entry.updated_at),
        )

    @hints(READS)
    async def get_memory(key: Key, session_id: Scope = None, auth_token: AuthToken = None) -> MemoryRead:
        """Read one of your memory entries (global unless session_id is given)."""
        who = await identify(svc, auth_token)
        name, scope = _key(key), _scope(session_id)
        try:
            entry = await svc.store.get_memory(who.agent_id, scope, name)
        except NotFound:
            raise _not_found(name, scope) from None
        return MemoryRead(success=True, **memory_object(entry))

    @hints(READS)
    async def list_memory(
        session_id: Annotated[
            Annotated[str, Field(pattern=SCOPES_PATTERN)] | None,
            Field(
                description="A session's id for its memory, \"all\" for global and every session's; "
                "omitted for global memory."
            ),
        ] = None,
        prefix: str | None = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        auth_token: AuthToken = None,
    ) -> MemoryList:
        """List your memory keys (without values), newest update first.

        Args:
            prefix: Only keys starting with this text (matched literally: % and _ are plain).
            limit: How many entries at most (1-200).
        """
        who = await identify(svc, auth_token)
        scope = session_id if session_id == ALL_SCOPES else _scope(session_id)
        if prefix is not None and not isinstance(prefix, str):
            raise invalid_input("prefix must be a string.", "prefix")
        limit = validation.int_range(limit, "limit", 1, 200)
        entries = await svc.store.list_memory(who.agent_id, scope, prefix, limit)
        return MemoryList(
            success=True,
            entries=[memory_listing(e) for e in entries],
            count=len(entries),
            scope_filter=scope or "global",
        )

    @hints(Hints(destructive=True, idempotent=True))
    async def delete_memory(
        key: Key, session_id: Scope = None, auth_token: AuthToken = None
    ) -> MemoryDeleted:
        """Delete one of your memory entries. Needs write."""
        who = await require(svc, auth_token, "write")
        name, scope = _key(key), _scope(session_id)
        try:
            await svc.store.delete_memory(who.agent_id, scope, name)
        except NotFound:
            raise _not_found(name, scope) from None
        await svc.store.audit("memory_deleted", who.agent_id, session_id=scope, resource=name)
        return MemoryDeleted(
            success=True,
            key=name,
            scope="global" if scope is None else "session",
            session_id=scope,
            deleted=True,
        )

    return [set_memory, get_memory, list_memory, delete_memory]


def _key(value: object) -> str:
    key = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(key) <= MAX_KEY or _WHITESPACE.search(key):
        raise ToolError(
            "INVALID_KEY",
            f"key must be 1 to {MAX_KEY} characters with no spaces, tabs or newlines; got {value!r}.",
            suggestions=["Use a key like 'project.status' or 'notes_2026'"],
        )
    return key


def _scope(session_id: object) -> str | None:
    return None if session_id is None or session_id == "" else validation.session_id(session_id)


def _ttl(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(_DIGITS, value):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(
            "INVALID_TTL_FORMAT",
            f"expires_in must be whole seconds, as a number or digits; got {value!r}.",
            suggestions=["Pass expires_in=3600 for an hour, or omit it for no expiry"],
        )
    if not 0 <= value <= MAX_TTL_SECONDS:
        raise ToolError(
            "INVALID_TTL_VALUE",
            f"expires_in must be whole seconds from 0 (no expiry) to {MAX_TTL_SECONDS:,} (a year); "
            f"got {value!r}.",
        )
    return value or None


def _check_value(value: Any) -> None:
    if validation.json_depth(value) > validation.MAX_JSON_DEPTH:
        raise invalid_input(
            f"value is nested deeper than {validation.MAX_JSON_DEPTH} levels; flatten it.", "value"
        )
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError):
        raise ToolError("SERIALIZATION_ERROR", "value must be plain JSON (no NaN or Infinity).") from None
    if size > MAX_VALUE_CHARS:
        raise ToolError(
            "CONTENT_TOO_LARGE",
            f"value is {size:,} characters as JSON; the limit is {MAX_VALUE_CHARS:,}.",
            suggestions=["Store a summary, or split it over several keys"],
        )


def _not_found(key: str, scope: str | None) -> ToolError:
    where = "global memory" if scope is None else f"session {scope}"
    return ToolError(
        "MEMORY_NOT_FOUND",
        f"No memory {key!r} in your {where} (or it expired).",
        suggestions=["Check the key and session_id with list_memory"],
    )
