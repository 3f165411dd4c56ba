"""scsd.access.gatekeeper: every way a credential arrives, checked one way (no I/O of its own:
revocation is a set the test controls; cookies are real signed values)."""

from __future__ import annotations

import time

import jwt
import pytest

from scsd.access.cookies import SESSION_COOKIE, SessionCookies
from scsd.access.gatekeeper import Gatekeeper, bearer_token
from scsd.access.tokens import Authority, TokenInvalid
from scsd.model import Identity

SECRET = "gatekeeper-test-secret-" + "s" * 32
ALICE = Identity("alice", "claude", frozenset({"read", "write"}))
BOB = Identity("bob", "gemini", frozenset({"read"}))


class Keeper:
    """A gatekeeper whose revocation check is a plain set (as the store's table would be)."""

    def __init__(self) -> None:
        self.authority = Authority("agent-key-" + "a" * 20, "admin-key-" + "b" * 20, SECRET, 3600)
        self.cookies = SessionCookies(SECRET)
        self.revoked: set[str] = set()
        self.gate = Gatekeeper(self.authority, self._is_revoked, self.cookies)

    async def _is_revoked(self, token_id: str) -> bool:
        return token_id in self.revoked

    def cookie_header(self, who: Identity) -> str:
        return f"theme=dark; {SESSION_COOKIE}={self.cookies.issue(who)}; other=1"


async def test_a_token_from_any_source_admits_its_identity_until_it_lapses() -> None:
    k = Keeper()
    issued = k.authority.issue(ALICE)
    for admission in (
        await k.gate.admit(issued.token),
        await k.gate.admit(authorization=f"Bearer {issued.token}"),
        await k.gate.admit(authorization=f"bearer   {issued.token}  "),
        await k.gate.check_token(issued.token),
    ):
        assert admission is not None
        assert admission.identity == ALICE
        assert admission.via == "token"
        assert admission.expires_at == issued.expires_at
        assert admission.credential_id  # the jti: what revocation names


async def test_no_credentials_at_all_is_none_not_an_error() -> None:
    k = Keeper()
    assert await k.gate.admit() is None
    assert await k.gate.admit(None, authorization="Basic dXNlcjpwdw==", cookie_header="theme=dark") is None
    assert await k.gate.admit("", authorization="", cookie_header="") is None


async def test_the_explicit_token_wins_over_the_header_and_the_cookie() -> None:
    k = Keeper()
    alice, bob = k.authority.issue(ALICE).token, k.authority.issue(BOB).token
    admission = await k.gate.admit(alice, authorization=f"Bearer {bob}", cookie_header=k.cookie_header(BOB))
    assert admission is not None and admission.identity == ALICE
    admission = await k.gate.admit(authorization=f"Bearer {bob}", cookie_header=k.cookie_header(ALICE))
    assert admission is not None and admission.identity == BOB


async def test_a_bad_token_is_refused_even_beside_a_good_cookie() -> None:
    k = Keeper()
    forged = jwt.encode({"agent_id": "alice"}, "not-the-secret-" + "n" * 32, algorithm="HS256")
    for token in ("not-a-jwt", forged):
        with pytest.raises(TokenInvalid):
            await k.gate.admit(token, cookie_header=k.cookie_header(ALICE))
        with pytest.raises(TokenInvalid):
            await k.gate.admit(authorization=f"Bearer {token}", cookie_header=k.cookie_header(ALICE))


async def test_a_revoked_token_is_refused_with_what_to_do() -> None:
    k = Keeper()
    token = k.authority.issue(ALICE).token
    admission = await k.gate.check_token(token)
    assert admission.credential_id is not None
    k.revoked.add(admission.credential_id)
    with pytest.raises(TokenInvalid, match="refresh_token"):
        await k.gate.admit(token)


async def test_an_expired_token_is_refused() -> None:
    k = Keeper()
    expired = k.authority.issue(ALICE, ttl_seconds=-10).token
    with pytest.raises(TokenInvalid, match="expired"):
        await k.gate.check_token(expired)


async def test_the_ui_cookie_admits_its_signed_in_identity_for_its_lifetime() -> None:
    k = Keeper()
    before = int(time.time())
    admission = await k.gate.admit(cookie_header=k.cookie_header(ALICE))
    assert admission is not None
    assert (admission.identity, admission.via, admission.credential_id) == (ALICE, "cookie", None)
    assert (
        before + k.cookies.max_age_seconds
        <= admission.expires_at
        <= int(time.time()) + k.cookies.max_age_seconds
    )


async def test_a_forged_stale_or_foreign_cookie_admits_nobody() -> None:
    k = Keeper()
    value = k.cookies.issue(ALICE)
    other = SessionCookies("another-secret-" + "x" * 32)
    stale = SessionCookies(SECRET, max_age_seconds=-1)
    for header in (
        f"{SESSION_COOKIE}={value[:-3]}xyz",  # signature broken
        f"{SESSION_COOKIE}={other.issue(ALICE)}",  # signed with another secret
        f"not_ours={value}",  # another cookie's name
        "=;;=garbage",  # unparsable
    ):
        assert await k.gate.admit(cookie_header=header) is None, header
    assert stale.from_header(f"{SESSION_COOKIE}={value}") is None  # past its age


async def test_without_cookie_support_a_cookie_is_ignored() -> None:
    k = Keeper()
    bare = Gatekeeper(k.authority, k._is_revoked)
    assert await bare.admit(cookie_header=k.cookie_header(ALICE)) is None


def test_bearer_token_parses_only_bearer_headers() -> None:
    assert bearer_token("Bearer abc.def") == "abc.def"
    assert bearer_token("bearer  abc ") == "abc"
    for not_bearer in (None, "", "Bearer", "Bearer   ", "Basic abc", "abc"):
        assert bearer_token(not_bearer) is None
