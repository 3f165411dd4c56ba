"""Message tools: add_message, get_messages, wait_for_messages."""

from __future__ import annotations

from typing import Annotated, Final

import trio
from pydantic import Field

from scsd.access import validation
from scsd.access.visibility import can_see_message, narrow
from scsd.errors import NotFound, ToolError, invalid_input, permission_denied, session_not_found
from scsd.mcp.tools import ADDS, READS, Services, ToolFunction, hints, identify, require
from scsd.mcp.tools.objects import message_object
from scsd.mcp.tools.params import AuthToken, MessageId, Metadata, Narrowing, Offset, SessionId, Visibility
from scsd.mcp.tools.results import MessageAdded, MessageList, Waited
from scsd.model import VISIBILITIES, Identity, iso_from_micros
from scsd.realtime.changes import Change
from scsd.store import MessagePage as Page

WAIT_BATCH: Final = 100


def build(svc: Services) -> list[ToolFunction]:
    @hints(ADDS)
    async def add_message(
        session_id: SessionId,
        content: Annotated[str, Field(min_length=1)],
        visibility: Visibility = "public",
        metadata: Metadata = None,
        parent_message_id: MessageId | None = None,
        auth_token: AuthToken = None,
    ) -> MessageAdded:
        """Post a message to a session; you are its sender. Needs write.

        Args:
            content: The text (Markdown welcome), 1-100,000 characters after trimming.
            visibility: Who may read it: public (everyone), private (only you), agent_only
                (agents of your type), admin_only (admins; posting it needs admin).
            parent_message_id: The id of the message this one replies to (same session).
        """
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
        return MessageAdded(success=True, message_id=message.id, timestamp=iso_from_micros(message.timestamp))

    @hints(READS)
    async def get_messages(
        session_id: SessionId,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
        offset: Offset = 0,
        visibility_filter: Narrowing | None = None,
        since_id: MessageId | None = None,
        auth_token: AuthToken = None,
    ) -> MessageList:
        """Messages you may see, oldest first, with how many there are in all.

        Args:
            limit: How many messages (1-1000).
            visibility_filter: Only messages of this visibility (it never shows more than
                you may see).
            since_id: Only messages with a larger id: pass the last id you saw to catch up.
        """
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
        return MessageList(
            success=True,
            messages=[message_object(m) for m in page.messages],
            count=len(page.messages),
            total_count=page.total_count,
            has_more=offset + len(page.messages) < page.total_count,
        )

    @hints(READS)
    async def wait_for_messages(
        session_id: SessionId,
        since_id: MessageId,
        timeout_seconds: Annotated[float, Field(ge=1, le=60)] = 30,
        auth_token: AuthToken = None,
    ) -> Waited:
        """Wait until a message newer than since_id that you may see exists (returned at once
        if there already is one), or until timeout_seconds pass. Lets agents wait for each
        other without polling.

        Args:
            since_id: The last message id you saw (0 for the start of the session).
            timeout_seconds: How long to wait at most (1-60 seconds).
        """
        who = await identify(svc, auth_token)
        sid = validation.session_id(session_id)
        after = validation.int_range(since_id, "since_id", 0, 2**63 - 1)
        timeout = validation.number_range(timeout_seconds, "timeout_seconds", 1, 60)
        page = Page([], 0)
        with trio.move_on_after(timeout):
            page = await _wait_visible(svc, who, sid, after)
        messages = page.messages
        return Waited(
            success=True,
            messages=[message_object(m) for m in messages],
            count=len(messages),
            timed_out=not messages,
            last_id=messages[-1].id if messages else after,
        )

    return [add_message, get_messages, wait_for_messages]


def _wakes(who: Identity, change: Change, after: int) -> bool:
    return change.message is not None and change.message.id > after and can_see_message(who, change.message)


async def _wait_visible(svc: Services, who: Identity, sid: str, after: int) -> Page:
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
                        return Page([], 0)  # the daemon is shutting down: answer now
                    break  # cut off by the hub (a burst); subscribe again and re-read
