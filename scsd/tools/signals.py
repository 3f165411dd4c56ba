"""Live-signal tools: set_typing (a typing indicator for a session's subscribers)."""

from __future__ import annotations

from typing import Any

from scsd import validation
from scsd.composing import Verdict, typing_limited, typing_reply
from scsd.errors import NotFound
from scsd.replies import ok, session_not_found
from scsd.tools import Services, ToolFunction, require


def build(svc: Services) -> list[ToolFunction]:
    async def set_typing(
        session_id: str, typing: bool = True, auth_token: str | None = None
    ) -> dict[str, Any]:
        """Tell a session's live subscribers you are composing (typing=true) or stopped
        (false). A start lapses by itself after a few seconds (expires_at): repeat it every
        few seconds while you keep composing. Posting a message clears it. Needs write."""
        who = await require(svc, auth_token, "write")
        sid = validation.session_id(session_id)
        flag = validation.boolean(typing, "typing")
        try:
            outcome = await svc.store.set_typing(sid, who.agent_id, flag)
        except NotFound:
            raise session_not_found(sid) from None
        if outcome.verdict is Verdict.LIMITED:
            raise typing_limited()
        return ok(session_id=sid, **typing_reply(outcome))

    return [set_typing]
