"""The MCP tools as plain async functions: validate arguments, call the store, shape the reply.

Nothing here imports FastMCP; `scsd.mcp_tools` registers these functions with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scsd import credentials
from scsd.auth import Authority, TokenInvalid, Verified, bearer_token
from scsd.events import Identity
from scsd.hub import Hub
from scsd.metrics import Metrics
from scsd.replies import ToolError, auth_required, permission_denied
from scsd.store import Store

ToolFunction = Callable[..., Any]


@dataclass(frozen=True)
class Services:
    """What the tools need. `request_headers` returns the current HTTP request's headers
    (lower-case names), or {} over stdio; `local_identity` is the stdio caller's identity;
    `runtime` reports the live components (sockets, hub, watcher) for metrics."""

    store: Store
    hub: Hub
    authority: Authority
    request_headers: Callable[[], Mapping[str, str]]
    local_identity: Identity | None = None
    metrics: Metrics = field(default_factory=Metrics)
    runtime: Callable[[], dict[str, Any]] = dict


async def identify(svc: Services, auth_token: str | None) -> Identity:
    """The caller: from `auth_token`, else the `Authorization: Bearer` header, else the local
    (stdio) identity.

    Raises:
        ToolError: AUTH_REQUIRED without credentials, TOKEN_AUTHENTICATION_FAILED for a bad one.
    """
    token = auth_token or bearer_token(svc.request_headers().get("authorization"))
    if not token:
        if svc.local_identity is not None:
            return svc.local_identity
        raise auth_required()
    try:
        return (await check_token(svc, token)).identity
    except TokenInvalid as e:
        await svc.store.audit("authentication_failed", "unknown", result=str(e))
        raise ToolError(
            "TOKEN_AUTHENTICATION_FAILED",
            f"The token was refused: {e}.",
            suggestions=["Call authenticate_agent again for a fresh token"],
            context={"recovery_method": "authenticate_agent"},
        ) from None


async def check_token(svc: Services, token: str) -> Verified:
    """A token's identity, if its signature holds, it has not expired and was not revoked.

    Raises:
        TokenInvalid: otherwise.
    """
    return await credentials.check_token(svc.authority, svc.store, token)


async def require(svc: Services, auth_token: str | None, permission: str) -> Identity:
    """The caller, who must hold `permission` (admins hold every permission)."""
    who = await identify(svc, auth_token)
    if not who.can(permission):
        await svc.store.audit("access_denied", who.agent_id, result=f"needs {permission}")
        raise permission_denied(permission, who.permissions)
    return who
