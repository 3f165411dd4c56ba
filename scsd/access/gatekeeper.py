"""The one gatekeeper: every way a credential arrives (a token argument, `?token=`, an
`authenticate` call, an `Authorization: Bearer` header, the UI's cookie) is checked here, the
same way, into an `Admission` that says who the caller is and until when."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from scsd.access.cookies import SessionCookies
from scsd.access.tokens import Authority, TokenInvalid
from scsd.model import Identity


@dataclass(frozen=True)
class Admission:
    """A caller let in: who, by which credential, and when that credential lapses (seconds
    since the epoch). `credential_id` is a token's id (jti); None for a cookie."""

    identity: Identity
    via: Literal["token", "cookie"]
    credential_id: str | None
    expires_at: int


class Gatekeeper:
    """Checks credentials: a token's signature and expiry (`Authority`), then its revocation
    (`is_revoked`, the store's, injected: this class does no I/O of its own); a cookie's
    signature and age (`SessionCookies`)."""

    def __init__(
        self,
        authority: Authority,
        is_revoked: Callable[[str], Awaitable[bool]],
        cookies: SessionCookies | None = None,
    ) -> None:
        self.authority = authority
        self._is_revoked = is_revoked
        self._cookies = cookies

    async def check_token(self, token: str) -> Admission:
        """The admission a token grants, if its signature holds, it has not expired and was
        not revoked.

        Raises:
            TokenInvalid: otherwise, with the reason.
        """
        verified = self.authority.inspect(token)
        if await self._is_revoked(verified.token_id):
            raise TokenInvalid("token was replaced by refresh_token; use the new one")
        return Admission(verified.identity, "token", verified.token_id, verified.expires_at)

    def check_cookie(self, cookie_header: str | None) -> Admission | None:
        """The admission the UI's sign-in cookie in a raw `Cookie:` header grants, if any."""
        signed_in = self._cookies.from_header(cookie_header) if self._cookies is not None else None
        if signed_in is None:
            return None
        return Admission(signed_in.identity, "cookie", None, signed_in.expires_at)

    async def admit(
        self,
        token: str | None = None,
        *,
        authorization: str | None = None,
        cookie_header: str | None = None,
    ) -> Admission | None:
        """Whoever the credentials say, in this order: an explicit `token` (a tool's
        `auth_token`, `?token=`), the `Authorization: Bearer` header, the UI's cookie. A
        token that is present must be valid: a bad one is not passed over for the cookie.

        Returns:
            None when no credentials were presented at all.

        Raises:
            TokenInvalid: a token was presented and is not valid.
        """
        token = token or bearer_token(authorization)
        if token:
            return await self.check_token(token)
        return self.check_cookie(cookie_header)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, else None."""
    scheme, _, token = (authorization or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None
