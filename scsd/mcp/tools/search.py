"""Search tools: search_context (index candidates + fuzzy rerank), search_by_sender,
search_by_timerange."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Final

from rapidfuzz import fuzz, process

from scsd.access import validation
from scsd.access.visibility import narrow
from scsd.errors import NotFound, ToolError, session_not_found
from scsd.mcp.tools import Services, ToolFunction, identify, ok
from scsd.model import VISIBILITIES, iso_from_micros
from scsd.store import MessagePage
from scsd.store.textfold import fold

MAX_QUERY: Final = 500
CANDIDATES: Final = 1000
PREVIEW: Final = 150


def build(svc: Services) -> list[ToolFunction]:
    async def search_context(
        session_id: str,
        query: str,
        fuzzy_threshold: float = 60.0,
        limit: int = 10,
        search_metadata: bool = True,
        search_scope: str = "all",
        auth_token: str | None = None,
    ) -> dict[str, Any]:
        """Fuzzy search of a session's messages you may see: typo-, case- and
        accent-tolerant. Scores are 0-100; results best first, each message once."""
        started = time.perf_counter()
        who = await identify(svc, auth_token)
        sid = validation.session_id(session_id)
        text = validation.clean_text(query, "query", MAX_QUERY)
        threshold = validation.number_range(fuzzy_threshold, "fuzzy_threshold", 0, 100)
        limit = validation.int_range(limit, "limit", 1, 100)
        with_meta = validation.boolean(search_metadata, "search_metadata")
        levels = _scope(search_scope)
        folded = fold(text)
        try:
            candidates = await svc.store.search_candidates(
                sid, who, levels, folded, CANDIDATES, with_metadata=with_meta
            )
        except NotFound:
            raise session_not_found(sid) from None
        # The store returns each candidate's folded searchable text: score it as is (C loop).
        scored = process.extract(
            folded, dict(candidates), scorer=fuzz.partial_ratio, score_cutoff=threshold, limit=None
        )
        best = sorted(((score, message_id) for _, score, message_id in scored), key=lambda p: (-p[0], -p[1]))
        best = best[:limit]
        messages = await svc.store.messages_by_id(sid, [message_id for _, message_id in best])
        results = [
            {
                "message": m.to_json(),
                "score": round(score, 2),
                "match_preview": m.content[:PREVIEW] + ("..." if len(m.content) > PREVIEW else ""),
                "relevance": "high" if score >= 80 else "medium" if score >= 60 else "low",
            }
            for score, message_id in best
            if (m := messages.get(message_id)) is not None
        ]
        return ok(
            results=results,
            query=text,
            threshold=threshold,
            search_scope=search_scope,
            message_count=len(results),
            search_time_ms=round((time.perf_counter() - started) * 1000, 2),
            cache_hit=False,
        )

    async def search_by_sender(
        session_id: str, sender: str, limit: int = 20, auth_token: str | None = None
    ) -> dict[str, Any]:
        """Messages you may see from one sender (exact agent id), newest first."""
        who = await identify(svc, auth_token)
        sid = validation.session_id(session_id)
        name = validation.clean_text(sender, "sender", 100)
        limit = validation.int_range(limit, "limit", 1, 100)
        page = await _page(svc, sid, lambda: svc.store.get_messages(
            sid, who, visibilities=VISIBILITIES, limit=limit, newest_first=True, sender=name))  # fmt: skip
        return ok(messages=[m.to_json() for m in page.messages], sender=name, count=len(page.messages))

    async def search_by_timerange(
        session_id: str, start_time: str, end_time: str, limit: int = 50, auth_token: str | None = None
    ) -> dict[str, Any]:
        """Messages you may see timestamped from start_time to end_time (ISO 8601, both
        inclusive; no zone means UTC), oldest first."""
        who = await identify(svc, auth_token)
        sid = validation.session_id(session_id)
        start, end = _instant(start_time, "start_time"), _instant(end_time, "end_time")
        if start > end:
            raise ToolError("INVALID_DATETIME", "start_time is after end_time; swap them.")
        limit = validation.int_range(limit, "limit", 1, 200)
        page = await _page(svc, sid, lambda: svc.store.get_messages(
            sid, who, visibilities=VISIBILITIES, limit=limit, time_range=(start, end)))  # fmt: skip
        return ok(
            messages=[m.to_json() for m in page.messages],
            timerange={"start": iso_from_micros(start), "end": iso_from_micros(end)},
            count=len(page.messages),
        )

    return [search_context, search_by_sender, search_by_timerange]


async def _page(svc: Services, sid: str, read: Any) -> MessagePage:
    try:
        page: MessagePage = await read()
    except NotFound:
        raise session_not_found(sid) from None
    return page


def _scope(value: object) -> tuple[str, ...]:
    try:
        return narrow(value if isinstance(value, str) else "?")
    except ValueError:
        raise ToolError(
            "INVALID_VISIBILITY",
            f"search_scope must be all, public, private, agent_only or admin_only; got {value!r}.",
        ) from None


def _instant(value: object, field: str) -> int:
    """ISO 8601 text to microseconds since the epoch; a time without a zone is UTC."""
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ToolError(
            "INVALID_DATETIME",
            f"{field} is not an ISO 8601 time: {value!r}.",
            suggestions=["Use a form like 2026-11-26T09:30:00Z"],
            context={"field": field},
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
