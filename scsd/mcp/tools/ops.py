"""Operations tools: get_usage_guidance, get_performance_metrics (admin), get_audit_log (admin)."""

from __future__ import annotations

from typing import Any, Final

from scsd import __version__
from scsd.access import validation
from scsd.errors import ToolError, now_iso
from scsd.mcp.tools import Services, ToolFunction, identify, ok, require
from scsd.mcp.tools.guidance import GUIDANCE, WORKFLOW
from scsd.model import Identity

ANONYMOUS: Final = Identity("anonymous", "generic", frozenset())


def build(svc: Services) -> list[ToolFunction]:
    async def get_usage_guidance(
        guidance_type: str = "operations", auth_token: str | None = None
    ) -> dict[str, Any]:
        """How to use this server, for your access level. Works without credentials: call it first.
        guidance_type: operations, coordination, security or troubleshooting."""
        if guidance_type not in GUIDANCE:
            raise ToolError(
                "INVALID_GUIDANCE_TYPE",
                f"guidance_type must be one of {', '.join(GUIDANCE)}; got {guidance_type!r}.",
            )
        try:
            who = await identify(svc, auth_token)
        except ToolError as e:
            if e.code != "AUTH_REQUIRED":
                raise
            who = ANONYMOUS
        level = "ADMIN" if who.is_admin else "AGENT" if who.can("write") else "READ_ONLY"
        return ok(
            access_level=level,
            agent_info={
                "agent_id": who.agent_id,
                "agent_type": who.agent_type,
                "permissions": sorted(who.permissions),
                "authenticated": who is not ANONYMOUS,
            },
            guidance=GUIDANCE[guidance_type],
            examples={"typical_workflow": WORKFLOW},
            guidance_type=guidance_type,
            server_version=__version__,
            generated_at=now_iso(),
        )

    async def get_performance_metrics(auth_token: str | None = None) -> dict[str, Any]:
        """Live counters of this daemon: tool calls and latencies, messages, connections. Admin."""
        await require(svc, auth_token, "admin")
        database = await svc.store.statistics()
        return ok(
            version=__version__,
            database=database,
            messages_added=svc.metrics.calls("add_message"),
            **svc.metrics.snapshot(),
            **svc.runtime(),
            generated_at=now_iso(),
        )

    async def get_audit_log(
        limit: int = 50,
        offset: int = 0,
        agent_id: str | None = None,
        session_id: str | None = None,
        auth_token: str | None = None,
    ) -> dict[str, Any]:
        """The audit log (authentication, writes, denied access), newest first. Admin."""
        await require(svc, auth_token, "admin")
        limit = validation.int_range(limit, "limit", 1, 500)
        offset = validation.int_range(offset, "offset", 0, 2**31)
        sid = None if session_id is None else validation.session_id(session_id)
        entries, total = await svc.store.audit_entries(limit, offset, agent_id, sid)
        return ok(entries=entries, count=len(entries), total_count=total)

    return [get_usage_guidance, get_performance_metrics, get_audit_log]
