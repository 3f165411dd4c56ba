"""The memory page: one agent's live memory entries, filtered, with a view and delete per entry.

A non-admin sees only its own agent id's memory, as the memory tools scope it (SPEC §4); an
admin picks any agent's. Deleting needs write permission on one's own entries, or admin.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from quart import Blueprint, Response, request

from scsd.access import validation
from scsd.errors import NotFound, ToolError
from scsd.model import Identity, MemoryEntry, iso_from_micros
from scsd.store import Store, now_micros
from scsd.ui.auth import CSRF_FIELD, SignedIn, csrf_ok
from scsd.ui.kit import PageKit, see_other, to_login

PAGE_ENTRIES: Final = 200
PREVIEW_CHARS: Final = 2_000  # values up to this size (as JSON) are shown inline, in <details>
MAX_OWNERS: Final = 1_000
SCOPES: Final = ("all", "global", "session")
MATCHES: Final = ("contains", "prefix")
MAX_KEY: Final = 255
_FILTERS: Final = ("agent_id", "scope", "session_id", "key", "match")
_DEFAULTS: Final = {("scope", "all"), ("match", "contains")}


@dataclass(frozen=True)
class MemoryFilter:
    """The memory page's query: whose memory, which scope and session, which keys."""

    agent_id: str
    scope: str = "all"
    session_id: str | None = None
    key: str = ""
    match: str = "contains"

    def query(self, me: Identity) -> str:
        """This filter as a query string (without the agent id when it is the viewer's own)."""
        pairs = {"agent_id": self.agent_id if self.agent_id != me.agent_id else "", "scope": self.scope,
                 "session_id": self.session_id or "", "key": self.key, "match": self.match}  # fmt: skip
        return urlencode({k: v for k, v in pairs.items() if v and (k, v) not in _DEFAULTS})


def countdown(seconds_left: float) -> str:
    """ "expires in 4m 12s" (the two largest units), or "expired": as `memory.js` writes it."""
    seconds = math.ceil(seconds_left)
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    first = next(i for i, (n, _) in enumerate(parts) if n)
    return "expires in " + " ".join(f"{n}{unit}" for n, unit in parts[first : first + 2])


def _may_delete(me: Identity, owner: str) -> bool:
    return me.is_admin or (owner == me.agent_id and me.can("write"))


def _entry_url(e: MemoryEntry) -> str:
    return "/ui/memory/entry?" + urlencode(
        {"agent_id": e.agent_id, "key": e.key, "session_id": e.session_id or ""}
    )


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def register(bp: Blueprint, store: Store, kit: PageKit) -> None:
    """Add `/ui/memory`, `/ui/memory/entry` and `POST /ui/memory/delete` to `bp`."""

    def row(e: MemoryEntry, me: Identity, now: int) -> dict[str, object]:
        return {
            **e.to_json(with_value=False),
            "url": _entry_url(e),
            "countdown": None if e.expires_at is None else countdown((e.expires_at - now) / 1e6),
            "preview": _pretty(e.value) if e.value_size <= PREVIEW_CHARS else None,
            "may_delete": _may_delete(me, e.agent_id),
        }

    async def not_yours(me: SignedIn) -> Response:
        return await kit.refuse(
            me, 403, "Not your memory",
            f"You are signed in as {me.identity.agent_id}, and agents see only their own memory. "
            "Sign in with the admin key to see other agents' memory.",
        )  # fmt: skip

    @bp.get("/ui/memory")
    async def memory_page() -> Response:
        if (me := kit.current()) is None:
            return to_login()
        f, error = _filters(request.args, me.identity)
        if f.agent_id != me.identity.agent_id and not me.identity.is_admin:
            return await not_yours(me)
        now = now_micros()
        found = []
        if error is None:
            found = await store.browse_memory(
                f.agent_id, f.scope, f.session_id, f.key or None, prefix_only=f.match == "prefix",
                limit=PAGE_ENTRIES + 1, preview_chars=PREVIEW_CHARS,
            )  # fmt: skip
        owners = await store.memory_owners(MAX_OWNERS) if me.identity.is_admin else []
        return await kit.page(
            "memory.html", me, 200 if error is None else 400,
            filters=f, error=error, scopes=SCOPES, return_query=f.query(me.identity),
            session_text=request.args.get("session_id", ""),
            owners=sorted({*owners, f.agent_id, me.identity.agent_id}),
            rows=[row(e, me.identity, now) for e in found[:PAGE_ENTRIES]],
            truncated=len(found) > PAGE_ENTRIES, limit=PAGE_ENTRIES, server_now=iso_from_micros(now),
        )  # fmt: skip

    @bp.get("/ui/memory/entry")
    async def memory_entry() -> Response:
        if (me := kit.current()) is None:
            return to_login()
        args = request.args
        owner = args.get("agent_id") or me.identity.agent_id
        if owner != me.identity.agent_id and not me.identity.is_admin:
            return await not_yours(me)
        key = args.get("key", "")
        try:
            scope = _session(args.get("session_id"))
            entry = await store.get_memory(owner, scope, key)
        except (ToolError, NotFound):
            return await kit.refuse(
                me, 404, "No such memory entry",
                f"{owner} has no live memory entry {key!r} there: it may have expired or been deleted.",
            )  # fmt: skip
        now = now_micros()
        return await kit.page(
            "memory_entry.html", me,
            entry=entry.to_json(), owner=owner, value=_pretty(entry.value), size=entry.value_size,
            metadata=_pretty(dict(entry.metadata)), may_delete=_may_delete(me.identity, owner),
            countdown=None if entry.expires_at is None else countdown((entry.expires_at - now) / 1e6),
            server_now=iso_from_micros(now), return_query=urlencode({"agent_id": owner}),
        )  # fmt: skip

    @bp.post("/ui/memory/delete")
    async def delete_entry() -> Response:
        if (me := kit.current()) is None:
            return to_login()
        form = await request.form
        if not csrf_ok(me, form.get(CSRF_FIELD)):
            return await kit.refuse(me, 403, "Form expired", "CSRF token missing or wrong; reload the page.")
        owner = form.get("agent_id") or me.identity.agent_id
        if not _may_delete(me.identity, owner):
            why = "your agent type has no write permission" if owner == me.identity.agent_id else (
                "agents may delete only their own memory")  # fmt: skip
            return await kit.refuse(me, 403, "Not deleted", f"You may not delete this entry: {why}.")
        key = form.get("key", "")
        try:
            scope = _session(form.get("session_id"))
            await store.delete_memory(owner, scope, key)
        except (ToolError, NotFound):
            return await kit.refuse(
                me, 404, "Not deleted", f"{owner} has no live memory entry {key!r} there."
            )
        await store.audit("memory_deleted", me.identity.agent_id, session_id=scope, resource=key,
                          metadata={"owner": owner, "via": "ui"})  # fmt: skip
        back, _ = _filters(_parse_query(form.get("return", "")), me.identity)
        query = back.query(me.identity)
        return see_other("/ui/memory" + (f"?{query}" if query else ""))


def _session(value: str | None) -> str | None:
    return validation.session_id(value) if value else None


def _parse_query(query: str) -> dict[str, str]:
    return {k: v for k, v in parse_qsl(query) if k in _FILTERS}


def _filters(args: Mapping[str, str], me: Identity) -> tuple[MemoryFilter, str | None]:
    """The filter a query string asks for, and what is wrong with it (None if nothing)."""
    owner = (args.get("agent_id") or "").strip() or me.agent_id
    scope = args.get("scope", "all")
    match = args.get("match", "contains")
    key = (args.get("key") or "").strip()[:MAX_KEY]
    raw_session = (args.get("session_id") or "").strip()
    f = MemoryFilter(owner, scope if scope in SCOPES else "all", None, key,
                     match if match in MATCHES else "contains")  # fmt: skip
    if not raw_session:
        return f, None
    try:
        sid = validation.session_id(raw_session)
    except ToolError:
        return f, f"{raw_session!r} is not a session id (session_ followed by 16 hex digits)."
    return MemoryFilter(f.agent_id, f.scope, sid, f.key, f.match), None
