"""Credentials: API and admin keys, signed tokens, and the permissions of agent types (SPEC §4)."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import jwt

from scsd.model import Identity

ISSUER: Final = "scsd"
AUDIENCE: Final = "mcp-agents"
ALL_PERMISSIONS: Final = frozenset({"read", "write", "admin", "debug"})
DEFAULT_PERMISSIONS: Final = frozenset({"read"})
# The reference server's table; `admin` is never granted by agent type, only by the admin key.
TYPE_PERMISSIONS: Final[Mapping[str, frozenset[str]]] = {
    "claude": frozenset({"read", "write"}),
    "gemini": frozenset({"read", "write"}),
    "test": frozenset({"read", "write"}),
    "developer": frozenset({"read", "write"}),
    "generic": frozenset({"read"}),
    "readonly": frozenset({"read"}),
}
MAX_AGENT_ID: Final = 100
MAX_AGENT_TYPE: Final = 50


class TokenInvalid(Exception):
    """The token is malformed, forged, expired or revoked."""


@dataclass(frozen=True)
class Verified:
    identity: Identity
    token_id: str
    expires_at: int  # seconds since the epoch


@dataclass(frozen=True)
class IssuedToken:
    token: str
    identity: Identity
    issued_at: int
    expires_at: int


class Authority:
    """Checks keys and issues and verifies tokens. No framework imports, no I/O."""

    def __init__(self, api_key: str, admin_key: str, jwt_secret: str, token_ttl_seconds: int) -> None:
        self._api_key = api_key.encode()
        self._admin_key = admin_key.encode()
        self._secret = jwt_secret
        self._ttl = token_ttl_seconds

    def key_level(self, presented: str | None) -> str | None:
        """`"admin"` for the admin key, `"agent"` for the agent key, else None."""
        if not presented:
            return None
        given = presented.encode()
        # Compare against both every time, so timing does not tell which key was close.
        is_admin = hmac.compare_digest(given, self._admin_key)
        is_agent = hmac.compare_digest(given, self._api_key)
        return "admin" if is_admin else "agent" if is_agent else None

    def grant(self, key_level: str, agent_type: str, requested: Iterable[str]) -> frozenset[str]:
        """Permissions to grant: all requested known ones for the admin key; else requested ∩
        the agent type's permissions (never admin), falling back to read."""
        wanted = frozenset(requested) & ALL_PERMISSIONS
        if key_level == "admin":
            return wanted or DEFAULT_PERMISSIONS
        allowed = TYPE_PERMISSIONS.get(agent_type, DEFAULT_PERMISSIONS)
        return (wanted & allowed) or DEFAULT_PERMISSIONS

    def issue(self, identity: Identity, *, ttl_seconds: int | None = None) -> IssuedToken:
        """A signed token for `identity`, valid for `ttl_seconds` (default: the authority's)."""
        ttl = self._ttl if ttl_seconds is None else ttl_seconds
        now = int(time.time())
        claims = {
            "agent_id": identity.agent_id,
            "agent_type": identity.agent_type,
            "permissions": sorted(identity.permissions),
            "iat": now,
            "exp": now + ttl,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "jti": secrets.token_hex(16),
        }
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        return IssuedToken(token, identity, now, now + ttl)

    def verify(self, token: str) -> tuple[Identity, str]:
        """The identity a token carries and its id (jti). Revocation is the store's to check.

        Raises:
            TokenInvalid: bad signature, wrong issuer or audience, expired, or malformed.
        """
        verified = self.inspect(token)
        return verified.identity, verified.token_id

    def inspect(self, token: str) -> Verified:
        """Like `verify`, with the token's expiry too."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "jti", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenInvalid("token expired; call authenticate_agent again") from None
        except jwt.PyJWTError:
            raise TokenInvalid("token is not valid for this server") from None
        agent_id, agent_type, perms = (
            claims.get("agent_id"),
            claims.get("agent_type"),
            claims.get("permissions"),
        )
        if not isinstance(agent_id, str) or not isinstance(agent_type, str) or not isinstance(perms, list):
            raise TokenInvalid("token lacks agent claims")
        identity = Identity(agent_id, agent_type, frozenset(str(p) for p in perms) & ALL_PERMISSIONS)
        return Verified(identity, str(claims["jti"]), int(claims["exp"]))


def normalize_agent_type(agent_type: str) -> str:
    """Agent types compare case-insensitively; we store them lower-cased."""
    return agent_type.strip().lower()
