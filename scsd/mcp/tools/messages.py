"""Message tools: add_message, get_messages, wait_for_messages."""

from __future__ import annotations

from typing import Any, Final

import trio

from scsd.access import validation
from scsd.access.visibility import can_see_message, narrow
from scsd.errors import NotFound, ToolError, invalid_input, permission_denied, session_not_found
from scsd.mcp.tools import Services, ToolFunction, identify, ok, require
from scsd.model import VISIBILITIES, Identity, iso_from_micros
from scsd.realtime.changes import Change
from scsd.store import MessagePage

WAIT_BATCH: Final = 100


def build(svc: Services) -> list[ToolFunction]:
    async def add_message(
        session_id: str,
        content: str,
        visibility: str = "public",
        metadata: Any = None,
        parent_message_id: int | None = None,
        auth_token: str | None = None,
    ) -> dict[str, Any]:
        """Post a message to a session. visibility: public (everyone), private (only you),
        agent_only (agents of your type), admin_only (admins; needs admin). Needs write."""
        who = await require(svc, auth_token, "write")
        sid = validation.session_id(session_id)
        level = validation.visibility(visibility)
        if level == "admin_only" and not who.is_admin:
            raise permission_denied("admin", who.permissions)
        text = validation.clean_text(content, "content", validation.MAX_CONTENT)
        meta = validation.metadata(metadata)
        parent = validation.optional_id(parent_message_id, "parent_message_id")
        try:
            message = await svc.store.add_message(sid, who, text, level, meta, parent)
        except NotFound as e:
            if e.kind == "session":
                raise session_not_found(sid) from None
            raise invalid_input(
                f"parent_message_id {parent} is not a message of session {sid}.",
                "parent_message_id",
                "Reply to a message id from this session's get_messages",
            ) from None
        await svc.store.audit(
            "message_added",
            who.agent_id,
            session_id=sid,
            metadata={"message_id": message.id, "visibility": level},
        )
        return ok(message_id=message.id, timestamp=iso_from_micros(message.timestamp))

    async def get_messages(
        session_id: str,
        limit: int = 50,
        offset: int = 0,
        visibility_filter: str | None = None,
        since_id: int | None = None,
        auth_token: str | None = None,
    ) -> dict[str, Any]:
        """Messages you may see, oldest first. since_id returns only newer messages; a
        visibility_filter narrows to one level (it never shows more than you may see)."""
        who = await identify(svc, auth_token)
        sid = validation.session_id(session_id)
        limit = validation.int_range(limit, "limit", 1, 1000)
        offset = validation.int_range(offset, "offset", 0, 2**31)
        after = validation.optional_id(since_id, "since_id")
        try:
            levels = narrow(visibility_filter)
        except ValueError:
            raise ToolError(
                "INVALID_VISIBILITY",
                f"visibility_filter must be public, private, agent_only or admin_only; "
                f"got {visibility_filter!r}.",
            ) from None
        try:
            page = await svc.store.get_messages(
                sid, who, visibilities=levels, since_id=after, limit=limit, offset=offset
            )
        except NotFound:
            raise session_not_found(sid) from None
        return ok(
            messages=[m.to_json() for m in page.messages],
            count=len(page.messages),
            total_count=page.total_count,
            has_more=offset + len(page.messages) < page.total_count,
        )

    async def wait_for_messages(
        session_id: str, since_id: int, timeout_seconds: float = 30, auth_token: str | None = None
    ) -> dict[str, Any]:
        """Wait until a message newer than since_id that you may see exists (returned at once
        if there already is one), or until timeout_seconds (1-60) pass. Lets agents wait for
        each other without polling."""
        who = await identify(svc, auth_token)
        sid = validation.session_id(session_id)
        after = validation.int_range(since_id, "since_id", 0, 2**63 - 1)
        timeout = validation.number_range(timeout_seconds, "timeout_seconds", 1, 60)
        page = MessagePage([], 0)
        with trio.move_on_after(timeout):
            page = await _wait_visible(svc, who, sid, after)
        messages = page.messages
        return ok(
            messages=[m.to_json() for m in messages],
            count=len(messages),
            timed_out=not messages,
            last_id=messages[-1].id if messages else after,
        )

    return [add_message, get_messages, wait_for_messages]


def _wakes(who: Identity, change: Change, after: int) -> bool:
    return change.message is not None and change.message.id > after and can_see_message(who, change.message)


async def _wait_visible(svc: Services, who: Identity, sid: str, after: int) -> MessagePage:
    """The first non-empty page of visible messages after `after`, waiting on the hub; an
    empty page if the hub closes for shutdown."""
    while True:
        with svc.hub.subscribe() as sub:
            # Follow first, then read: a message committed between the two still wakes us.
            sub.add(sid)
            while True:
                try:
                    page = await svc.store.get_messages(
                        sid, who, visibilities=VISIBILITIES, since_id=after, limit=WAIT_BATCH
                    )
                except NotFound:
                    raise session_not_found(sid) from None
                if page.messages:
                    return page
                try:
                    while not _wakes(who, await sub.receive.receive(), after):
                        pass
                except trio.EndOfChannel:
                    if not sub.dropped:
                        return MessagePage([], 0)  # the daemon is shutting down: answer now
                    break  # cut off by the hub (a burst); subscribe again and re-read
