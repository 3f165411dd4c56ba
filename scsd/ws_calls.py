"""The WebSocket calls that need no connection state: reads and the typing signal.

Each takes the store, the caller and the call's arguments, and returns the reply event (its
`id` is added by the connection); errors are `ToolError`s the connection turns into `error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scsd import validation
from scsd.errors import NotFound
from scsd.events import VISIBILITIES, Identity, Message
from scsd.store import Store
from scsd.tools.signals import signal_typing
from scsd.ws_protocol import no_session


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


async def typing(store: Store, who: Identity, args: Mapping[str, Any]) -> dict[str, Any]:
    data = await signal_typing(store, who, args.get("session_id"), args.get("typing", True))
    return {"type": "typing_set", "session_id": data.pop("session_id"), "data": data}
