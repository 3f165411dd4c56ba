"""Session tools: create_session, get_session, list_sessions."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from scsd.access import validation
from scsd.errors import NotFound, session_not_found
from scsd.mcp.tools import ADDS, READS, Services, ToolFunction, hints, identify, require
from scsd.mcp.tools.objects import message_object, session_object
from scsd.mcp.tools.params import AuthToken, Metadata, Offset, SessionId
from scsd.mcp.tools.results import SessionCreated, SessionList, SessionView
from scsd.model import VISIBILITIES, iso_from_micros

RECENT_MESSAGES = 50


def build(svc: Services) -> list[ToolFunction]:
    @hints(ADDS)
    async def create_session(
        purpose: Annotated[str, Field(min_length=1)], metadata: Metadata = None, auth_token: AuthToken = None
    ) -> SessionCreated:
        """Create a shared session that agents post messages to. Needs the write permission.

        Args:
            purpose: What the session is for (1-1,000 characters after trimming).
        """
        who = await require(svc, auth_token, "write")
        text = validation.clean_text(purpose, "purpose", validation.MAX_PURPOSE)
        meta = validation.metadata(metadata)
        session = await svc.store.create_session(text, who.agent_id, meta)
        await svc.store.audit("session_created", who.agent_id, session_id=session.id)
        return SessionCreated(
            success=True,
            session_id=session.id,
            created_by=session.created_by,
            created_at=iso_from_micros(session.created_at),
        )

    @hints(READS)
    async def get_session(session_id: SessionId, auth_token: AuthToken = None) -> SessionView:
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
        return SessionView(
            success=True,
            session=session_object(session),
            messages=[message_object(m) for m in page.messages],
            message_count=page.total_count,
        )

    @hints(READS)
    async def list_sessions(
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
        offset: Offset = 0,
        active_only: bool = True,
        auth_token: AuthToken = None,
    ) -> SessionList:
        """Sessions, most recently active first.

        Args:
            limit: How many sessions (1-500).
            active_only: Only sessions still active.
        """
        await identify(svc, auth_token)
        limit = validation.int_range(limit, "limit", 1, 500)
        offset = validation.int_range(offset, "offset", 0, 2**31)
        sessions = await svc.store.list_sessions(
            limit, offset, validation.boolean(active_only, "active_only")
        )
        return SessionList(success=True, sessions=[session_object(s) for s in sessions], count=len(sessions))

    return [create_session, get_session, list_sessions]
