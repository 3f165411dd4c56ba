"""UI sign-in: a signed, HttpOnly, SameSite=Strict cookie holding an identity and a CSRF token.

The admin key signs in as an admin; the agent API key signs in as the agent id/type given
in the form, with that type's permissions (never admin). The cookie's value is made and read
by `scsd.access.cookies` (the gatekeeper reads the same cookie on the WebSocket and SSE
endpoints). The browser never sees a bearer token except the short-lived one
`GET /ui/api/token` mints for the WebSocket/SSE `?token=`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from quart import Response, request

from scsd.access.cookies import SESSION_COOKIE, SESSION_SECONDS, SessionCookies, SignedIn
from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import ALL_PERMISSIONS, MAX_AGENT_ID, MAX_AGENT_TYPE, normalize_agent_type
from scsd.model import Identity
from scsd.process.keyfile import Keys
from scsd.realtime.composing import TypingSignals

__all__ = ["SESSION_COOKIE", "SignedIn", "UiAuth", "UiDeps"]

LOGIN_COOKIE: Final = "scsd_ui_login"  # pre-sign-in CSRF nonce (double submit)
UI_TOKEN_SECONDS: Final = 600  # the WebSocket/SSE token: re-fetched on every (re)connect
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
ADMIN_TYPE: Final = "admin"


@dataclass(frozen=True)
class UiDeps:
    """What the UI needs from the daemon: the gatekeeper (key checks, tokens), the sign-in
    cookies, the keys (the agent key for client set-up), the WebSocket port the live pages
    connect to, the typing signals, and the health report (`/ui/health`)."""

    gatekeeper: Gatekeeper
    cookies: SessionCookies
    keys: Keys
    ws_port: int
    typing: TypingSignals
    health: Callable[[], Awaitable[tuple[dict[str, Any], bool]]]


class UiAuth:
    def __init__(self, deps: UiDeps) -> None:
        self.authority = deps.gatekeeper.authority
        self._cookies = deps.cookies

    def sign_in(self, key: str, agent_id: str, agent_type: str) -> Identity | str:
        """The identity for a login form, or why it is refused."""
        level = self.authority.key_level(key.strip())
        if level is None:
            return "That key is neither the admin key nor the agent API key."
        agent_id = agent_id.strip()
        if level == "admin":
            return Identity(agent_id[:MAX_AGENT_ID] or "admin", ADMIN_TYPE, ALL_PERMISSIONS)
        kind = normalize_agent_type(agent_type)
        if not 1 <= len(agent_id) <= MAX_AGENT_ID:
            return f"An agent id of 1 to {MAX_AGENT_ID} characters is required with the agent key."
        if not 1 <= len(kind) <= MAX_AGENT_TYPE:
            return f"An agent type of 1 to {MAX_AGENT_TYPE} characters is required with the agent key."
        return Identity(agent_id, kind, self.authority.grant("agent", kind, ["read", "write"]))

    def current(self) -> SignedIn | None:
        """Who the request's cookie says is signed in, if it is genuine and fresh."""
        return self._cookies.read(request.cookies.get(SESSION_COOKIE))

    def set_session(self, response: Response, who: Identity) -> None:
        _set_cookie(response, SESSION_COOKIE, self._cookies.issue(who), SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/")

    def mint_token(self, who: Identity) -> tuple[str, int]:
        issued = self.authority.issue(who, ttl_seconds=UI_TOKEN_SECONDS)
        return issued.token, issued.expires_at


def new_login_nonce(response: Response, nonce: str) -> None:
    _set_cookie(response, LOGIN_COOKIE, nonce, 3600)


def login_csrf_ok(given: str | None) -> bool:
    expected = request.cookies.get(LOGIN_COOKIE)
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))


def csrf_ok(signed_in: SignedIn, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(signed_in.csrf, str(given))


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def _set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        # "/": browsers send it to the WebSocket endpoint too (cookies ignore the port), and
        # SameSite=Strict keeps other sites' pages from riding on it.
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
    )
