"""The WebSocket calls that need no connection state (reads), and the reply shapes.

Each takes the store, the caller and the call's arguments, and returns the reply event (its
`id` is added by the connection); errors are `ToolError`s the connection turns into `error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scsd.access import validation
from scsd.errors import NotFound, ToolError
from scsd.model import VISIBILITIES, Identity, Message
from scsd.store import Store


async def page(store: Store, who: Identity, sid: str, since: int | None, limit: int) -> list[Message]:
    """The messages of `sid` after `since` that `who` may see, oldest first."""
    try:
        found = await store.get_messages(sid, who, visibilities=VISIBILITIES, since_id=since, limit=limit)
    except NotFound:
        raise no_session(sid) from None
    return found.messages


async def get_messages(store: Store, who: Identity, args: Mapping[str, Any]) -> dict[str, Any]:
    sid = validation.session_id(args.get("session_id"))
    since = validation.optional_id(args.get("since_id"), "since_id")
    limit = validation.int_range(args.get("limit", 50), "limit", 1, 1000)
    messages = await page(store, who, sid, since, limit)
    data = {"messages": [m.to_json() for m in messages], "count": len(messages)}
    return {"type": "messages", "session_id": sid, "data": data}


async def get_session_info(store: Store, args: Mapping[str, Any]) -> dict[str, Any]:
    sid = validation.session_id(args.get("session_id"))
    try:
        session = await store.get_session(sid)
    except NotFound:
        raise no_session(sid) from None
    return {"type": "session_info", "session_id": sid, "data": session.to_json()}


def with_id(event: dict[str, Any], call_id: Any) -> dict[str, Any]:
    """`event` as the reply to a call that carried `call_id` (echoed when given)."""
    if call_id is not None:
        event["id"] = call_id
    return event


def no_session(sid: str) -> ToolError:
    return ToolError("SESSION_NOT_FOUND", f"Session {sid!r} does not exist.")


def unknown_tool(tool: object) -> ToolError:
    return ToolError(
        "UNKNOWN_TOOL",
        f"Unknown tool {tool!r}; use authenticate, subscribe, unsubscribe, "
        'get_messages, get_session_info, typing, or {"type": "ping"}.',
    )


def authenticate_first() -> ToolError:
    return ToolError(
        "AUTH_REQUIRED", 'Authenticate first: {"tool": "authenticate", "arguments": {"token": "..."}}.'
    )


def too_many_subscriptions() -> ToolError:
    return ToolError("LIMIT_EXCEEDED", "This socket follows the maximum of sessions; unsubscribe some.")
