"""Tests for scsd.auth: key levels, permission grants (never admin from the agent key), tokens."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from scsd.access.tokens import (
    ALL_PERMISSIONS,
    AUDIENCE,
    ISSUER,
    Authority,
    TokenInvalid,
    normalize_agent_type,
)
from scsd.model import Identity

API_KEY = "scsd_agent_" + "a" * 32
ADMIN_KEY = "scsd_admin_" + "b" * 32
SECRET = "jwt-secret-" + "c" * 40
RW = frozenset({"read", "write"})


def authority(secret: str = SECRET, ttl: int = 3600) -> Authority:
    return Authority(API_KEY, ADMIN_KEY, secret, ttl)


def _claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- keys ------------------------------------------------------------------------------------


def test_key_level() -> None:
    auth = authority()
    assert auth.key_level(ADMIN_KEY) == "admin"
    assert auth.key_level(API_KEY) == "agent"
    assert auth.key_level(None) is None
    assert auth.key_level("") is None
    assert auth.key_level("wrong") is None
    assert auth.key_level(API_KEY + "x") is None
    assert auth.key_level(API_KEY[:-1]) is None
    assert auth.key_level(API_KEY.upper()) is None
    assert auth.key_level(" " + API_KEY) is None
    assert auth.key_level("\u00e9" * 10) is None  # non-ASCII input does not crash the comparison


# -- grants ----------------------------------------------------------------------------------


@pytest.mark.parametrize("agent_type", ["claude", "gemini", "test", "developer"])
def test_writer_types_get_read_and_write_with_the_agent_key(agent_type: str) -> None:
    assert authority().grant("agent", agent_type, ["read", "write"]) == RW


@pytest.mark.parametrize("agent_type", ["generic", "readonly", "cursor", "unknown-thing", ""])
def test_read_only_and_unknown_types_get_read(agent_type: str) -> None:
    assert authority().grant("agent", agent_type, ["read", "write"]) == frozenset({"read"})


@pytest.mark.parametrize("agent_type", ["claude", "admin", "developer", "generic", "root"])
def test_agent_key_never_grants_admin(agent_type: str) -> None:
    """Whatever the type (even 'admin') and whatever is requested, the agent key does not mint admin."""
    auth = authority()
    for requested in (["admin"], ["read", "write", "admin"], sorted(ALL_PERMISSIONS), ["admin", "debug"]):
        granted = auth.grant("agent", agent_type, requested)
        assert "admin" not in granted, (agent_type, requested)
        assert granted, (agent_type, requested)


def test_agent_key_grants_only_what_was_requested() -> None:
    auth = authority()
    assert auth.grant("agent", "claude", ["read"]) == frozenset({"read"})
    assert auth.grant("agent", "claude", ["write"]) == frozenset({"write"})
    # Nothing usable requested: fall back to read, not to the type's full set.
    assert auth.grant("agent", "claude", []) == frozenset({"read"})
    assert auth.grant("agent", "claude", ["fly"]) == frozenset({"read"})


def test_admin_key_grants_what_is_requested() -> None:
    auth = authority()
    assert auth.grant("admin", "claude", ["read", "write", "admin"]) == frozenset({"read", "write", "admin"})
    assert auth.grant("admin", "generic", ["admin"]) == frozenset({"admin"})
    assert auth.grant("admin", "anything", ["read", "debug", "bogus"]) == frozenset({"read", "debug"})
    assert auth.grant("admin", "claude", []) == frozenset({"read"})


def test_normalize_agent_type() -> None:
    assert normalize_agent_type("  Claude ") == "claude"
    assert authority().grant("agent", normalize_agent_type("GEMINI"), ["write"]) == frozenset({"write"})


# -- tokens ----------------------------------------------------------------------------------


def test_issue_and_verify_round_trip() -> None:
    auth = authority(ttl=600)
    identity = Identity("agent-7", "claude", RW)
    before = int(time.time())
    issued = auth.issue(identity)
    after = int(time.time())
    assert issued.identity == identity
    assert before <= issued.issued_at <= after
    assert issued.expires_at == issued.issued_at + 600
    verified, jti = auth.verify(issued.token)
    assert verified == identity
    claims = _claims(issued.token)
    assert claims["jti"] == jti
    assert (claims["iss"], claims["aud"]) == (ISSUER, AUDIENCE)
    assert claims["agent_id"] == "agent-7"
    assert sorted(claims["permissions"]) == ["read", "write"]  # type: ignore[arg-type]
    assert jwt.get_unverified_header(issued.token)["alg"] == "HS256"


def test_each_token_has_its_own_id() -> None:
    auth = authority()
    identity = Identity("a", "claude", RW)
    assert auth.verify(auth.issue(identity).token)[1] != auth.verify(auth.issue(identity).token)[1]


def test_admin_identity_survives_the_round_trip() -> None:
    auth = authority()
    admin = Identity("root", "admin", frozenset({"read", "write", "admin"}))
    verified, _ = auth.verify(auth.issue(admin).token)
    assert verified.is_admin


def test_expired_token_is_rejected() -> None:
    issued = authority(ttl=-60).issue(Identity("a", "claude", RW))
    with pytest.raises(TokenInvalid, match="expired"):
        authority().verify(issued.token)


def test_token_signed_with_another_secret_is_rejected() -> None:
    issued = authority(secret="another-secret-" + "d" * 40).issue(Identity("a", "claude", RW))
    with pytest.raises(TokenInvalid):
        authority().verify(issued.token)


def test_tampered_payload_is_rejected() -> None:
    """Raising one's own permissions to admin in the payload breaks the signature."""
    auth = authority()
    token = auth.issue(Identity("a", "claude", RW)).token
    header, _payload, signature = token.split(".")
    claims = _claims(token)
    claims["permissions"] = ["read", "write", "admin"]
    forged = ".".join([header, _b64(claims), signature])
    with pytest.raises(TokenInvalid):
        auth.verify(forged)


def test_tampered_signature_is_rejected() -> None:
    auth = authority()
    token = auth.issue(Identity("a", "claude", RW)).token
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(TokenInvalid):
        auth.verify(".".join([header, payload, flipped]))


def test_unsigned_alg_none_token_is_rejected() -> None:
    claims = _claims(authority().issue(Identity("a", "claude", RW)).token)
    claims["permissions"] = ["admin"]
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    with pytest.raises(TokenInvalid):
        authority().verify(unsigned)


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c", "...."])
def test_malformed_tokens_are_rejected(token: str) -> None:
    with pytest.raises(TokenInvalid):
        authority().verify(token)


def _signed(**overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "agent_id": "a",
        "agent_type": "claude",
        "permissions": ["read"],
        "iat": now,
        "exp": now + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": "j1",
    }
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"aud": "other-audience"},
        {"jti": None},
        {"exp": None},
        {"agent_id": None},
        {"agent_type": 5},
        {"permissions": "admin"},
    ],
    ids=["issuer", "audience", "no-jti", "no-exp", "no-agent-id", "bad-type", "perms-not-list"],
)
def test_tokens_with_wrong_or_missing_claims_are_rejected(overrides: dict[str, object]) -> None:
    assert authority().verify(_signed())[0].agent_id == "a"  # the baseline token is fine
    with pytest.raises(TokenInvalid):
        authority().verify(_signed(**overrides))


def test_unknown_permissions_in_a_token_are_ignored() -> None:
    identity, _ = authority().verify(_signed(permissions=["read", "superuser"]))
    assert identity.permissions == frozenset({"read"})
