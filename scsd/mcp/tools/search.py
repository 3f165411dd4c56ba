"""Search tools: search_context (index candidates + fuzzy rerank), search_by_sender,
search_by_timerange."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import Field
from rapidfuzz import fuzz, process

from scsd.access import validation
from scsd.access.visibility import narrow
from scsd.errors import NotFound, ToolError, session_not_found
from scsd.mcp.tools import READS, Services, ToolFunction, hints, identify
from scsd.mcp.tools.objects import message_object
from scsd.mcp.tools.params import AuthToken, Narrowing, SessionId
from scsd.mcp.tools.results import SearchHit, SearchResults, SenderMessages, TimeRangeMessages
from scsd.model import VISIBILITIES, iso_from_micros
from scsd.store import MessagePage
from scsd.store.textfold import fold

MAX_QUERY: Final = 500
CANDIDATES: Final = 1000
PREVIEW: Final = 150
PERFORMANCE_NOTE: Final = (
    "Full-text index candidates (every message of the session, any age), reranked by fuzzy "
    "score; no cache, so results are always current."
)


def build(svc: Services) -> list[ToolFunction]:
    @hints(READS)
    async def search_context(
        session_id: SessionId,
        query: Annotated[str, Field(min_length=1)],
        fuzzy_threshold: Annotated[float, Field(ge=0, le=100)] = 60.0,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        search_metadata: bool = True,
        search_scope: Narrowing = "all",
        auth_token: AuthToken = None,
    ) -> SearchResults:
        """Fuzzy search of a session's messages you may see: typo-, case- and
        accent-tolerant. Scores are 0-100; results best first, each message once.

        Args:
            query: What to look for (1-500 characters).
            fuzzy_threshold: The lowest score (0-100) a result may have.
            limit: How many results at most (1-100).
            search_metadata: Also match the messages' metadata values.
            search_scope: Only messages of this visibility (never more than you may see).
        """
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
            SearchHit(
                message=message_object(m),
                score=round(score, 2),
                match_preview=m.content[:PREVIEW] + ("..." if len(m.content) > PREVIEW else ""),
                relevance="high" if score >= 80 else "medium" if score >= 60 else "low",
            )
            for score, message_id in best
            if (m := messages.get(message_id)) is not None
        ]
        return SearchResults(
            success=True,
            results=results,
            query=text,
            threshold=threshold,
            search_scope=search_scope,
            message_count=len(results),
            search_time_ms=round((time.perf_counter() - started) * 1000, 2),
            performance_note=PERFORMANCE_NOTE,
            cache_hit=False,
        )

    @hints(READS)
    async def search_by_sender(
        session_id: SessionId,
        sender: Annotated[str, Field(min_length=1)],
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        auth_token: AuthToken = None,
    ) -> SenderMessages:
        """Messages you may see from one sender, newest first.

        Args:
            sender: The sender's agent id, exactly.
            limit: How many messages at most (1-100).
        """
        who = await identify(svc, auth_token)
        sid = validation.session_id(session_id)
        name = validation.clean_text(sender, "sender", 100)
        limit = validation.int_range(limit, "limit", 1, 100)
        page = await _page(svc, sid, lambda: svc.store.get_messages(
            sid, who, visibilities=VISIBILITIES, limit=limit, newest_first=True, sender=name))  # fmt: skip
        return SenderMessages(
            success=True,
            messages=[message_object(m) for m in page.messages],
            sender=name,
            count=len(page.messages),
        )

    @hints(READS)
    async def search_by_timerange(
        session_id: SessionId,
        start_time: str,
        end_time: str,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        auth_token: AuthToken = None,
    ) -> TimeRangeMessages:
        """Messages you may see timestamped from start_time to end_time (both inclusive),
        oldest first.

        Args:
            start_time: ISO 8601, like 2026-11-26T09:30:00Z (no zone means UTC).
            end_time: ISO 8601, at or after start_time.
            limit: How many messages at most (1-200).
        """
        who = await identify(svc, auth_token)
        sid = validation.session_id(session_id)
        start, end = _instant(start_time, "start_time"), _instant(end_time, "end_time")
        if start > end:
            raise ToolError("INVALID_DATETIME", "start_time is after end_time; swap them.")
        limit = validation.int_range(limit, "limit", 1, 200)
        page = await _page(svc, sid, lambda: svc.store.get_messages(
            sid, who, visibilities=VISIBILITIES, limit=limit, time_range=(start, end)))  # fmt: skip
        return TimeRangeMessages(
            success=True,
            messages=[message_object(m) for m in page.messages],
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
