"""Live-signal tools: set_typing (a typing indicator for a session's subscribers)."""

from __future__ import annotations

from typing import cast

from scsd.mcp.tools import Hints, Services, ToolFunction, hints, require
from scsd.mcp.tools.params import AuthToken, SessionId
from scsd.mcp.tools.results import Typing


def build(svc: Services) -> list[ToolFunction]:
    @hints(Hints(idempotent=True))  # a repeated start within 2 s sends nothing (sent: false)
    async def set_typing(session_id: SessionId, typing: bool = True, auth_token: AuthToken = None) -> Typing:
        """Tell a session's live subscribers you are composing (typing=true) or stopped
        (false). A start lapses by itself after a few seconds (expires_at): repeat it every
        few seconds while you keep composing. Posting a message clears it. Needs write.

        Args:
            typing: true while you compose, false when you stop.
        """
        who = await require(svc, auth_token, "write")
        return cast(Typing, {"success": True, **await svc.typing.signal(who, session_id, typing)})

    return [set_typing]
