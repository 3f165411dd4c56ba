"""The audit page (admins only): the audit log newest first, filtered, paged by id cursors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlencode

from quart import Blueprint, Response, request

from scsd.store import Store
from scsd.ui.kit import PageKit, to_login

PAGE_ROWS: Final = 50
MAX_FILTER: Final = 255
_FILTERS: Final = ("event_type", "agent_id", "session_id")


def register(bp: Blueprint, store: Store, kit: PageKit) -> None:
    """Add `/ui/audit` to `bp`."""

    @bp.get("/ui/audit")
    async def audit_page() -> Response:
        if (me := kit.current()) is None:
            return to_login()
        if not me.identity.is_admin:
            return await kit.refuse(
                me, 403, "Admins only",
                f"The audit log is for admins. You are signed in as {me.identity.agent_id} "
                f"({me.identity.agent_type}), without admin permission: sign in with the admin key "
                "to see it.",
            )  # fmt: skip
        args = request.args
        filters = {name: (args.get(name) or "").strip()[:MAX_FILTER] for name in _FILTERS}
        before, after = _cursor(args, "before"), _cursor(args, "after")
        found = await store.audit_page(
            PAGE_ROWS, before_id=before, after_id=None if before is not None else after,
            event_type=filters["event_type"] or None, agent_id=filters["agent_id"] or None,
            session_id=filters["session_id"] or None,
        )  # fmt: skip
        entries = [{**e, "metadata": _compact(e["metadata"])} for e in found.entries]
        kept = {name: value for name, value in filters.items() if value}
        older = newer = None
        if entries and found.has_older:
            older = "/ui/audit?" + urlencode({**kept, "before": entries[-1]["id"]})
        if entries and found.has_newer:
            newer = "/ui/audit?" + urlencode({**kept, "after": entries[0]["id"]})
        if not entries and (before is not None or after is not None):
            newer = "/ui/audit?" + urlencode(kept)  # an empty page past either end: back to the newest
        return await kit.page(
            "audit.html", me, entries=entries, filters=filters, older=older, newer=newer,
            event_types=await store.audit_event_types(), page_rows=PAGE_ROWS,
        )  # fmt: skip


def _cursor(args: Mapping[str, str], name: str) -> int | None:
    value = args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def _compact(metadata: object) -> str:
    return "" if metadata == {} else json.dumps(metadata, ensure_ascii=False, sort_keys=True)
