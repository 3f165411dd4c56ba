"""The MCP tools as plain async functions: validate arguments, call the store, shape the reply.

Nothing here imports FastMCP; `scsd.mcp.server` registers these functions with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import Authority, TokenInvalid
from scsd.errors import ToolError, auth_required, permission_denied
from scsd.mcp.metrics import Metrics
from scsd.model import Identity
from scsd.realtime.composing import TypingSignals
from scsd.realtime.hub import Hub
from scsd.store import Store

ToolFunction = Callable[..., Any]


@dataclass(frozen=True)
class Services:
    """What the tools need. `request_headers` returns the current HTTP request's headers
    (lower-case names), or {} over stdio; `local_identity` is the stdio caller's identity;
    `runtime` reports the live components (sockets, hub, watcher) for metrics."""

    store: Store
    hub: Hub
    gatekeeper: Gatekeeper
    typing: TypingSignals
    request_headers: Callable[[], Mapping[str, str]]
    local_identity: Identity | None = None
    metrics: Metrics = field(default_factory=Metrics)
    runtime: Callable[[], dict[str, Any]] = dict

    @property
    def authority(self) -> Authority:
        return self.gatekeeper.authority


def ok(**fields: Any) -> dict[str, Any]:
    """A successful tool result: `success` and the tool's fields."""
    return {"success": True, **fields}


async def identify(svc: Services, auth_token: str | None) -> Identity:
    """The caller: from `auth_token`, else the `Authorization: Bearer` header, else the local
    (stdio) identity.

    Raises:
        ToolError: AUTH_REQUIRED without credentials, TOKEN_AUTHENTICATION_FAILED for a bad one.
    """
    try:
        admission = await svc.gatekeeper.admit(
            auth_token, authorization=svc.request_headers().get("authorization")
        )
    except TokenInvalid as e:
        await svc.store.audit("authentication_failed", "unknown", result=str(e))
        raise ToolError(
            "TOKEN_AUTHENTICATION_FAILED",
            f"The token was refused: {e}.",
            suggestions=["Call authenticate_agent again for a fresh token"],
            context={"recovery_method": "authenticate_agent"},
        ) from None
    if admission is not None:
        return admission.identity
    if svc.local_identity is not None:
        return svc.local_identity
    raise auth_required()


async def require(svc: Services, auth_token: str | None, permission: str) -> Identity:
    """The caller, who must hold `permission` (admins hold every permission)."""
    who = await identify(svc, auth_token)
    if not who.can(permission):
        await svc.store.audit("access_denied", who.agent_id, result=f"needs {permission}")
        raise permission_denied(permission, who.permissions)
    return who
