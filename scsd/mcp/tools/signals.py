"""Live-signal tools: set_typing (a typing indicator for a session's subscribers)."""

from __future__ import annotations

from typing import Any

from scsd.mcp.tools import Services, ToolFunction, ok, require


def build(svc: Services) -> list[ToolFunction]:
    async def set_typing(
        session_id: str, typing: bool = True, auth_token: str | None = None
    ) -> dict[str, Any]:
        """Tell a session's live subscribers you are composing (typing=true) or stopped
        (false). A start lapses by itself after a few seconds (expires_at): repeat it every
        few seconds while you keep composing. Posting a message clears it. Needs write."""
        who = await require(svc, auth_token, "write")
        return ok(**await svc.typing.signal(who, session_id, typing))

    return [set_typing]
