"""authenticate_agent: trade the agent API key (or the admin key) for a signed token."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from scsd.access.tokens import MAX_AGENT_ID, MAX_AGENT_TYPE, TokenInvalid, normalize_agent_type
from scsd.errors import ToolError, invalid_input
from scsd.mcp.tools import Hints, Services, ToolFunction, hints
from scsd.mcp.tools.results import Authenticated, Refreshed
from scsd.model import Identity, iso_from_micros

# A token is a new credential (and an audit row): not read-only, and no two are the same.
ISSUES: Final = Hints()


def build(svc: Services) -> list[ToolFunction]:
    @hints(ISSUES)
    async def authenticate_agent(
        agent_id: Annotated[str, Field(min_length=1, max_length=MAX_AGENT_ID)],
        agent_type: Annotated[str, Field(min_length=1, max_length=MAX_AGENT_TYPE)],
        requested_permissions: list[str] | None = None,
    ) -> Authenticated:
        """Get a token for this agent. Send the agent API key in the X-API-Key header (the
        admin key grants admin). Types claude, gemini, test, developer get read+write;
        others read. Pass the token as auth_token or as 'Authorization: Bearer <token>'.

        Args:
            agent_id: Your agent id (1-100 characters); messages you post carry it as sender.
            agent_type: Your agent type, e.g. claude, gemini, developer, generic (decides the
                permissions; compared case-insensitively).
            requested_permissions: Permissions to ask for (default ["read", "write"]); you get
                those your type (or the admin key) allows.
        """
        agent_id = agent_id.strip() if isinstance(agent_id, str) else ""
        if not 1 <= len(agent_id) <= MAX_AGENT_ID:
            raise invalid_input(f"agent_id must be 1 to {MAX_AGENT_ID} characters.", "agent_id")
        kind = normalize_agent_type(agent_type) if isinstance(agent_type, str) else ""
        if not 1 <= len(kind) <= MAX_AGENT_TYPE:
            raise invalid_input(f"agent_type must be 1 to {MAX_AGENT_TYPE} characters.", "agent_type")
        level = _key_level(svc)
        if level is None:
            await svc.store.audit("authentication_failed", agent_id, result="bad api key")
            raise ToolError(
                "AUTH_FAILED",
                "The X-API-Key header is missing or wrong.",
                suggestions=[
                    "Send the agent API key from the daemon's secrets file "
                    "(see `scsd keys`) in the X-API-Key header"
                ],
                recoverable=False,
            )
        requested = ["read", "write"] if requested_permissions is None else requested_permissions
        granted = svc.authority.grant(level, kind, requested)
        issued = svc.authority.issue(Identity(agent_id, kind, granted))
        await svc.store.audit(
            "jwt_token_generated", agent_id, metadata={"agent_type": kind, "permissions": sorted(granted)}
        )
        return Authenticated(
            success=True,
            token=issued.token,
            agent_id=agent_id,
            agent_type=kind,
            permissions=sorted(granted),
            expires_at=iso_from_micros(issued.expires_at * 1_000_000),
            issued_at=iso_from_micros(issued.issued_at * 1_000_000),
            token_type="Bearer",
            token_format="jwt",
        )

    @hints(Hints(destructive=True))  # the old token is revoked
    async def refresh_token(current_token: str) -> Refreshed:
        """Trade a still-valid token for a new one with the same identity and permissions.
        The old token stops working at once.

        Args:
            current_token: The token to replace (from authenticate_agent or refresh_token).
        """
        try:
            old = await svc.gatekeeper.check_token(current_token if isinstance(current_token, str) else "")
        except TokenInvalid as e:
            await svc.store.audit("token_refresh_failed", "unknown", result=str(e))
            raise ToolError(
                "TOKEN_REFRESH_FAILED",
                f"Cannot refresh this token: {e}.",
                suggestions=["Call authenticate_agent with the API key for a new token"],
                recoverable=False,
            ) from None
        issued = svc.authority.issue(old.identity)
        assert old.credential_id is not None  # a token's admission carries its id
        await svc.store.revoke_token(old.credential_id, old.expires_at)
        await svc.store.audit("token_refreshed", old.identity.agent_id)
        return Refreshed(
            success=True,
            token=issued.token,
            expires_in=issued.expires_at - issued.issued_at,
            expires_at=iso_from_micros(issued.expires_at * 1_000_000),
            issued_at=iso_from_micros(issued.issued_at * 1_000_000),
            token_type="Bearer",
            token_format="jwt",
        )

    return [authenticate_agent, refresh_token]


def _key_level(svc: Services) -> str | None:
    headers = svc.request_headers()
    if not headers and svc.local_identity is not None:
        # stdio: whoever could start this process could read the secrets file.
        return "agent"
    return svc.authority.key_level(headers.get("x-api-key"))
