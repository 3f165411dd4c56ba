"""Checking a presented token: signature and expiry (auth), then revocation (store)."""

from __future__ import annotations

from scsd.auth import Authority, TokenInvalid, Verified
from scsd.store import Store


async def check_token(authority: Authority, store: Store, token: str) -> Verified:
    """The token's identity, if its signature holds, it has not expired and was not revoked.

    Raises:
        TokenInvalid: otherwise, with the reason.
    """
    verified = authority.inspect(token)
    if await store.is_revoked(verified.token_id):
        raise TokenInvalid("token was replaced by refresh_token; use the new one")
    return verified
