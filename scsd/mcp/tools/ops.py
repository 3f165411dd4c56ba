"""Operations tools: get_usage_guidance, get_performance_metrics (admin), get_audit_log (admin)."""

from __future__ import annotations

from typing import Annotated, Final, Literal, cast

from pydantic import Field

from scsd import __version__
from scsd.access import validation
from scsd.errors import ToolError, now_iso
from scsd.mcp.tools import READS, Services, ToolFunction, admitted, hints, require
from scsd.mcp.tools.guidance import GUIDANCE, WORKFLOW
from scsd.mcp.tools.params import AuthToken, Offset
from scsd.mcp.tools.results import AuditEntry, AuditLog, Guidance, Metrics
from scsd.model import Identity, iso_from_micros

ANONYMOUS: Final = Identity("anonymous", "generic", frozenset())
AccessLevel = Literal["ADMIN", "AGENT", "READ_ONLY"]


def build(svc: Services) -> list[ToolFunction]:
    @hints(READS)
    async def get_usage_guidance(
        guidance_type: Literal["operations", "coordination", "security", "troubleshooting"] = "operations",
        auth_token: AuthToken = None,
    ) -> Guidance:
        """How to use this server, for your access level. Works without credentials: call it first.

        Args:
            guidance_type: Which guidance: operations, coordination, security or troubleshooting.
        """
        if guidance_type not in GUIDANCE:
            raise ToolError(
                "INVALID_GUIDANCE_TYPE",
                f"guidance_type must be one of {', '.join(GUIDANCE)}; got {guidance_type!r}.",
            )
        try:
            who, admission = await admitted(svc, auth_token)
        except ToolError as e:
            if e.code != "AUTH_REQUIRED":
                raise
            who, admission = ANONYMOUS, None
        level: AccessLevel = "ADMIN" if who.is_admin else "AGENT" if who.can("write") else "READ_ONLY"
        return Guidance(
            success=True,
            access_level=level,
            agent_info={
                "agent_id": who.agent_id,
                "agent_type": who.agent_type,
                "permissions": sorted(who.permissions),
                "authenticated": who is not ANONYMOUS,
                "expires_at": None
                if admission is None
                else iso_from_micros(admission.expires_at * 1_000_000),
                "can_refresh": admission is not None and admission.via == "token",
            },
            guidance=GUIDANCE[guidance_type],
            examples={"typical_workflow": WORKFLOW},
            guidance_type=guidance_type,
            server_version=__version__,
            generated_at=now_iso(),
        )

    @hints(READS)
    async def get_performance_metrics(auth_token: AuthToken = None) -> Metrics:
        """Live counters of this daemon: tool calls and latencies, messages, connections. Admin."""
        who = await require(svc, auth_token, "admin")
        database = await svc.store.statistics()
        now = now_iso()
        # The tools' counters (`Metrics.snapshot()`) and the live components (`runtime()`).
        return cast(
            Metrics,
            {
                "success": True,
                "version": __version__,
                "database_backend": "sqlite",
                "database": database,
                "messages_added": svc.metrics.calls("add_message"),
                **svc.metrics.snapshot(),
                **svc.runtime(),
                "requesting_agent": who.agent_id,
                "request_timestamp": now,
                "generated_at": now,
            },
        )

    @hints(READS)
    async def get_audit_log(
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
        offset: Offset = 0,
        agent_id: str | None = None,
        session_id: Annotated[str, Field(pattern="^session_[0-9a-f]{16}$")] | None = None,
        auth_token: AuthToken = None,
    ) -> AuditLog:
        """The audit log (authentication, writes, denied access), newest first. Admin.

        Args:
            limit: How many entries (1-500).
            agent_id: Only entries about this agent id.
            session_id: Only entries about this session.
        """
        await require(svc, auth_token, "admin")
        limit = validation.int_range(limit, "limit", 1, 500)
        offset = validation.int_range(offset, "offset", 0, 2**31)
        sid = None if session_id is None else validation.session_id(session_id)
        entries, total = await svc.store.audit_entries(limit, offset, agent_id, sid)
        rows = cast(list[AuditEntry], entries)
        return AuditLog(success=True, entries=rows, count=len(rows), total_count=total)

    return [get_usage_guidance, get_performance_metrics, get_audit_log]
