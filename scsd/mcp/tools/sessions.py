"""Session tools: create_session, get_session, list_sessions."""

from __future__ import annotations

from typing import Any

from scsd.access import validation
from scsd.errors import NotFound, session_not_found
from scsd.mcp.tools import Services, ToolFunction, identify, ok, require
from scsd.model import VISIBILITIES, iso_from_micros

RECENT_MESSAGES = 50


def build(svc: Services) -> list[ToolFunction]:
    async def create_session(
        purpose: str, metadata: Any = None, auth_token: str | None = None
    ) -> dict[str, Any]:
        """Create a shared session that agents post messages to. Needs the write permission."""
        who = await require(svc, auth_token, "write")
        text = validation.clean_text(purpose, "purpose", validation.MAX_PURPOSE)
        meta = validation.metadata(metadata)
        session = await svc.store.create_session(text, who.agent_id, meta)
        await svc.store.audit("session_created", who.agent_id, session_id=session.id)
        return ok(
            session_id=session.id,
            created_by=session.created_by,
            created_at=iso_from_micros(session.created_at),
        )

    async def get_session(session_id: str, auth_token: str | None = None) -> dict[str, Any]:
        """A session, its 50 most recent messages you may see (newest first) and their count."""
        who = await identify(svc, auth_token)
        sid = validation.session_id(session_id)
        try:
            session = await svc.store.get_session(sid)
            page = await svc.store.get_messages(
                sid, who, visibilities=VISIBILITIES, limit=RECENT_MESSAGES, newest_first=True
            )
        except NotFound:
            raise session_not_found(sid) from None
        return ok(
            session=session.to_json(),
            messages=[m.to_json() for m in page.messages],
            message_count=page.total_count,
        )

    async def list_sessions(
        limit: int = 50, offset: int = 0, active_only: bool = True, auth_token: str | None = None
    ) -> dict[str, Any]:
        """Sessions, most recently active first."""
        await identify(svc, auth_token)
        limit = validation.int_range(limit, "limit", 1, 500)
        offset = validation.int_range(offset, "offset", 0, 2**31)
        sessions = await svc.store.list_sessions(limit, offset, active_only)
        return ok(sessions=[s.to_json() for s in sessions], count=len(sessions))

    return [create_session, get_session, list_sessions]
