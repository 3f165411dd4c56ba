"""The Web UI's sign-in cookie: a signed value holding an identity and a CSRF token.

Signed with a key derived from the daemon's JWT secret (itsdangerous, its own salt), so
rotating that secret signs everyone out. The cookie's attributes (HttpOnly, SameSite=Strict,
Secure) are the UI's to set; this module only makes and reads the value.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any, Final

from itsdangerous import BadSignature, URLSafeTimedSerializer

from scsd.access.tokens import ALL_PERMISSIONS
from scsd.model import Identity

SESSION_COOKIE: Final = "scsd_ui"
SESSION_SECONDS: Final = 12 * 3600


@dataclass(frozen=True)
class SignedIn:
    """Who a genuine, fresh cookie says is signed in, its CSRF token, and when it lapses
    (seconds since the epoch)."""

    identity: Identity
    csrf: str
    expires_at: int


class SessionCookies:
    """Makes and reads sign-in cookie values."""

    def __init__(self, jwt_secret: str, max_age_seconds: int = SESSION_SECONDS) -> None:
        self._signer = URLSafeTimedSerializer(jwt_secret, salt="scsd-ui-session")
        self.max_age_seconds = max_age_seconds

    def issue(self, who: Identity) -> str:
        """A new cookie value for `who`, with a fresh CSRF token."""
        payload = {"a": who.agent_id, "t": who.agent_type, "p": sorted(who.permissions),
                   "c": secrets.token_urlsafe(32)}  # fmt: skip
        return self._signer.dumps(payload)

    def read(self, raw: str | None) -> SignedIn | None:
        """The sign-in a cookie value holds, if it is genuine and fresh; else None."""
        if not raw:
            return None
        try:
            data: Any
            data, signed_at = self._signer.loads(raw, max_age=self.max_age_seconds, return_timestamp=True)
        except BadSignature:
            return None
        try:
            perms = frozenset(str(p) for p in data["p"]) & ALL_PERMISSIONS
            identity = Identity(str(data["a"]), str(data["t"]), perms)
            return SignedIn(identity, str(data["c"]), int(signed_at.timestamp()) + self.max_age_seconds)
        except (KeyError, TypeError):
            return None

    def from_header(self, header: str | None) -> SignedIn | None:
        """The sign-in of the session cookie in a raw `Cookie:` header (how the WebSocket and
        SSE endpoints receive it), if any."""
        if not header:
            return None
        jar = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            return None
        morsel = jar.get(SESSION_COOKIE)
        return self.read(morsel.value if morsel else None)
