"""UI sign-in: a signed, HttpOnly, SameSite=Strict cookie holding an identity and a CSRF token.

The admin key signs in as an admin; the agent API key signs in as the agent id/type given
in the form, with that type's permissions (never admin). The cookie is signed with a key
derived from the daemon's JWT secret (itsdangerous, its own salt), so rotating that secret
signs everyone out. The browser never sees a bearer token except the short-lived one
`GET /ui/api/token` mints for the WebSocket/SSE `?token=`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any, Final

from itsdangerous import BadSignature, URLSafeTimedSerializer
from quart import Response, request

from scsd.auth import ALL_PERMISSIONS, MAX_AGENT_ID, MAX_AGENT_TYPE, Authority, normalize_agent_type
from scsd.events import Identity
from scsd.keys import Keys

SESSION_COOKIE: Final = "scsd_ui"
LOGIN_COOKIE: Final = "scsd_ui_login"  # pre-sign-in CSRF nonce (double submit)
SESSION_SECONDS: Final = 12 * 3600
UI_TOKEN_SECONDS: Final = 600  # the WebSocket/SSE token: re-fetched on every (re)connect
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
ADMIN_TYPE: Final = "admin"


@dataclass(frozen=True)
class UiDeps:
    """What the UI needs from the daemon: the keys (sign-in, cookie signing, tokens) and the
    WebSocket port the session page connects to."""

    keys: Keys
    ws_port: int


@dataclass(frozen=True)
class SignedIn:
    identity: Identity
    csrf: str


class UiAuth:
    def __init__(self, deps: UiDeps) -> None:
        k = deps.keys
        # Same keys and secret as the daemon's Authority, but a short token lifetime.
        self.authority = Authority(
            k.api_key.reveal(), k.admin_key.reveal(), k.jwt_secret.reveal(), UI_TOKEN_SECONDS
        )
        self._signer = URLSafeTimedSerializer(k.jwt_secret.reveal(), salt="scsd-ui-session")

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
        return self.from_cookie(request.cookies.get(SESSION_COOKIE))

    def identity_from_cookie_header(self, header: str | None) -> Identity | None:
        """The signed-in identity in a raw `Cookie:` header (the WebSocket and SSE endpoints
        accept the UI's cookie as credentials, SPEC §4)."""
        if not header:
            return None
        jar = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            return None
        morsel = jar.get(SESSION_COOKIE)
        signed_in = self.from_cookie(morsel.value if morsel else None)
        return signed_in.identity if signed_in else None

    def from_cookie(self, raw: str | None) -> SignedIn | None:
        if not raw:
            return None
        try:
            data: Any = self._signer.loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        try:
            perms = frozenset(str(p) for p in data["p"]) & ALL_PERMISSIONS
            return SignedIn(Identity(str(data["a"]), str(data["t"]), perms), str(data["c"]))
        except (KeyError, TypeError):
            return None

    def set_session(self, response: Response, who: Identity) -> None:
        payload = {"a": who.agent_id, "t": who.agent_type, "p": sorted(who.permissions),
                   "c": secrets.token_urlsafe(32)}  # fmt: skip
        _set_cookie(response, SESSION_COOKIE, self._signer.dumps(payload), SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/")

    def mint_token(self, who: Identity) -> tuple[str, int]:
        issued = self.authority.issue(who)
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
