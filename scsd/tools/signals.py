"""Live-signal tools: set_typing (a typing indicator for a session's subscribers)."""

from __future__ import annotations

from typing import Any

from scsd import validation
from scsd.composing import Verdict, typing_limited, typing_reply
from scsd.errors import NotFound
from scsd.events import Identity
from scsd.replies import ok, permission_denied, session_not_found
from scsd.store import Store
from scsd.tools import Services, ToolFunction, require


def build(svc: Services) -> list[ToolFunction]:
    async def set_typing(
        session_id: str, typing: bool = True, auth_token: str | None = None
    ) -> dict[str, Any]:
        """Tell a session's live subscribers you are composing (typing=true) or stopped
        (false). A start lapses by itself after a few seconds (expires_at): repeat it every
        few seconds while you keep composing. Posting a message clears it. Needs write."""
        who = await require(svc, auth_token, "write")
        return ok(**await signal_typing(svc.store, who, session_id, typing))

    return [set_typing]


async def signal_typing(store: Store, who: Identity, session_id: object, typing: object) -> dict[str, Any]:
    """`who` starts (`typing` true) or stops composing in a session: the one path behind the
    MCP tool, the socket's `typing` call and the Web UI's endpoint, which differ only in how
    they shape the answer. Returns `session_id` and `typing_reply`'s fields.

    Raises:
        ToolError: PERMISSION_DENIED (no write), INVALID_INPUT, SESSION_NOT_FOUND,
            RATE_LIMITED (more changes than the per-identity bucket allows).
    """
    if not who.can("write"):
        raise permission_denied("write", who.permissions)
    sid = validation.session_id(session_id)
    flag = validation.boolean(typing, "typing")
    try:
        outcome = await store.set_typing(sid, who.agent_id, flag)
    except NotFound:
        raise session_not_found(sid) from None
    if outcome.verdict is Verdict.LIMITED:
        raise typing_limited()
    return {"session_id": sid, **typing_reply(outcome)}
