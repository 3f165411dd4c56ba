"""The MCP tools as plain async functions: validate arguments, call the store, shape the reply.

Nothing here imports FastMCP; `scsd.mcp.server` registers these functions with it. Each
tool's signature is its published input schema (types, `Field` ranges, the docstring's `Args:`
as descriptions), its return type its output schema (`results`), and `hints` its annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from scsd.access.gatekeeper import Admission, Gatekeeper
from scsd.access.tokens import Authority, TokenInvalid
from scsd.errors import ToolError, auth_required, permission_denied
from scsd.mcp.metrics import Metrics
from scsd.model import Identity
from scsd.realtime.composing import TypingSignals
from scsd.realtime.hub import Hub
from scsd.store import Store

ToolFunction = Callable[..., Any]
F = TypeVar("F", bound=ToolFunction)
HINTS_ATTRIBUTE: Final = "scsd_hints"


@dataclass(frozen=True)
class Hints:
    """What a tool does to the daemon's state, published as its MCP annotations
    (`readOnlyHint`, `destructiveHint`, `idempotentHint`; none reaches outside the daemon)."""

    read_only: bool = False
    destructive: bool = False  # may overwrite or remove what is there
    idempotent: bool = False  # a repeat with the same arguments changes nothing more


READS: Final = Hints(read_only=True)
ADDS: Final = Hints()


def hints(what: Hints) -> Callable[[F], F]:
    """Mark a tool function with its `Hints`."""

    def mark(fn: F) -> F:
        setattr(fn, HINTS_ATTRIBUTE, what)
        return fn

    return mark


def hints_of(fn: ToolFunction) -> Hints:
    found = getattr(fn, HINTS_ATTRIBUTE, None)
    if not isinstance(found, Hints):
        raise TypeError(f"tool {fn.__name__} has no @hints(...)")
    return found


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


async def identify(svc: Services, auth_token: str | None) -> Identity:
    """The caller: from `auth_token`, else the `Authorization: Bearer` header, else the local
    (stdio) identity.

    Raises:
        ToolError: AUTH_REQUIRED without credentials, TOKEN_AUTHENTICATION_FAILED for a bad one.
    """
    return (await admitted(svc, auth_token))[0]


async def admitted(svc: Services, auth_token: str | None) -> tuple[Identity, Admission | None]:
    """The caller as `identify` finds it, and the admission of its credential (None for the
    stdio identity)."""
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
        return admission.identity, admission
    if svc.local_identity is not None:
        return svc.local_identity, None
    raise auth_required()


async def require(svc: Services, auth_token: str | None, permission: str) -> Identity:
    """The caller, who must hold `permission` (admins hold every permission)."""
    who = await identify(svc, auth_token)
    if not who.can(permission):
        await svc.store.audit("access_denied", who.agent_id, result=f"needs {permission}")
        raise permission_denied(permission, who.permissions)
    return who
