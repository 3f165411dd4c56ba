"""set_memory, get_memory, list_memory, delete_memory through a real fastmcp client over HTTP."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
import trio

from tests.kit.daemon import Running, new_session

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
ENTRY_FIELDS = {"key", "scope", "session_id", "created_at", "updated_at", "expires_at", "value_size"}
VALUES: list[Any] = [{"a": [1, 2, {"b": None}]}, [1, "two", 3.5], "text", 42, -1.25, True, False, None]


async def test_any_json_value_round_trips(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        calls = [
            ("set_memory", {"key": f"k{i}", "value": v, "auth_token": token}) for i, v in enumerate(VALUES)
        ]
        calls += [("get_memory", {"key": f"k{i}", "auth_token": token}) for i in range(len(VALUES))]
        replies = await running.mcp().calls(calls)
    stored, fetched = replies[: len(VALUES)], replies[len(VALUES) :]
    for reply in stored:
        assert reply["success"], reply
        assert reply["scope"] == "global" and reply["session_scoped"] is False
        assert reply["session_id"] is None and reply["expires_at"] is None
        assert ISO_Z.fullmatch(reply["stored_at"])
    assert [r["value"] for r in fetched] == VALUES
    got = fetched[0]
    assert set(got) >= {"key", "value", "metadata", "created_at", "updated_at", "expires_at", "scope"}
    assert got["key"] == "k0" and got["scope"] == "global" and got["expires_at"] is None


async def test_session_and_global_scopes_never_fall_back(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        sid = await new_session(running, token)
        r = await running.mcp().calls(
            [
                ("set_memory", {"key": "g", "value": "global", "auth_token": token}),
                ("set_memory", {"key": "s", "value": "scoped", "session_id": sid, "auth_token": token}),
                ("get_memory", {"key": "s", "session_id": sid, "auth_token": token}),
                ("get_memory", {"key": "s", "auth_token": token}),
                ("get_memory", {"key": "g", "session_id": sid, "auth_token": token}),
                (
                    "set_memory",
                    {"key": "x", "value": 1, "session_id": "session_ffffffffffffffff", "auth_token": token},
                ),
                ("set_memory", {"key": "x", "value": 1, "session_id": "nope", "auth_token": token}),
            ]
        )
    assert r[1]["scope"] == "session" and r[1]["session_scoped"] is True and r[1]["session_id"] == sid
    assert r[2]["value"] == "scoped" and r[2]["scope"] == "session" and r[2]["session_id"] == sid
    assert r[3]["code"] == r[4]["code"] == "MEMORY_NOT_FOUND"
    assert r[5]["code"] == "SESSION_NOT_FOUND"
    assert r[6]["code"] == "INVALID_INPUT"


@pytest.mark.parametrize(
    ("key", "code"),
    [("k" * 255, None), (" padded ", None), ("k" * 256, "INVALID_KEY"), ("a b", "INVALID_KEY"),
     ("a\tb", "INVALID_KEY"), ("a\nb", "INVALID_KEY"), ("", "INVALID_KEY"), ("   ", "INVALID_KEY")],
)  # fmt: skip
async def test_key_limits(running: Running, key: str, code: str | None) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        stored, listed = await running.mcp().calls(
            [
                ("set_memory", {"key": key, "value": 1, "auth_token": token}),
                ("list_memory", {"auth_token": token}),
            ]
        )
    if code is None:
        assert stored["success"] and stored["key"] == key.strip(), stored
        assert [e["key"] for e in listed["entries"]] == [key.strip()]
    else:
        assert stored["success"] is False and stored["code"] == code, stored
        assert listed["entries"] == []  # nothing was written


async def test_value_size_limit(running: Running) -> None:
    with trio.fail_after(60):
        token = await running.token("alice")
        # A string of n characters is n + 2 characters as JSON.
        at, past, absent = await running.mcp().calls(
            [
                ("set_memory", {"key": "big", "value": "x" * 999_998, "auth_token": token}),
                ("set_memory", {"key": "bigger", "value": "x" * 999_999, "auth_token": token}),
                ("get_memory", {"key": "bigger", "auth_token": token}),
            ]
        )
    assert at["success"], at
    assert past["success"] is False and past["code"] == "CONTENT_TOO_LARGE"
    assert absent["code"] == "MEMORY_NOT_FOUND"


@pytest.mark.parametrize(
    ("expires_in", "code"),
    [(1, None), (31_536_000, None), (31_536_001, "INVALID_TTL_VALUE"), (-1, "INVALID_TTL_VALUE")],
)
async def test_expires_in_limits(running: Running, expires_in: int, code: str | None) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        reply = await running.mcp().call(
            "set_memory", key="t", value=1, expires_in=expires_in, auth_token=token
        )
    if code is not None:
        assert reply["success"] is False and reply["code"] == code, reply
        return
    assert reply["success"], reply
    expires = datetime.fromisoformat(reply["expires_at"])
    stored = datetime.fromisoformat(reply["stored_at"])
    assert abs((expires - stored).total_seconds() - expires_in) <= 2


@pytest.mark.parametrize("expires_in", [0, None])
async def test_zero_or_null_expires_in_means_no_expiry(running: Running, expires_in: int | None) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        stored, fetched = await running.mcp().calls(
            [
                ("set_memory", {"key": "k", "value": 1, "expires_in": expires_in, "auth_token": token}),
                ("get_memory", {"key": "k", "auth_token": token}),
            ]
        )
    assert stored["success"] and stored["expires_at"] is None, stored
    assert fetched["expires_at"] is None


async def test_overwrite_rules_and_created_at_kept(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        mcp = running.mcp()
        first = await mcp.calls(
            [
                ("set_memory", {"key": "k", "value": "v1", "metadata": {"n": 1}, "auth_token": token}),
                ("get_memory", {"key": "k", "auth_token": token}),
            ]
        )
        refused, unchanged, replaced, after = await mcp.calls(
            [
                ("set_memory", {"key": "k", "value": "v2", "overwrite": False, "auth_token": token}),
                ("get_memory", {"key": "k", "auth_token": token}),
                ("set_memory", {"key": "k", "value": "v3", "auth_token": token}),
                ("get_memory", {"key": "k", "auth_token": token}),
            ]
        )
    original = first[1]
    assert original["metadata"] == {"n": 1}
    assert refused["success"] is False and refused["code"] == "KEY_EXISTS"
    assert unchanged["value"] == "v1"
    assert replaced["success"], replaced
    assert after["value"] == "v3"
    assert after["created_at"] == original["created_at"]
    assert after["updated_at"] > original["updated_at"]


async def test_bad_metadata_and_permissions(running: Running) -> None:
    with trio.fail_after(30):
        writer = await running.token("alice")
        reader = await running.token("viewer", "generic")
        r = await running.mcp().calls(
            [
                ("set_memory", {"key": "m", "value": 1, "metadata": [1, 2], "auth_token": writer}),
                ("set_memory", {"key": "m", "value": 1, "metadata": {f"k{i}": i for i in range(51)},
                                "auth_token": writer}),
                ("set_memory", {"key": "m", "value": 1, "auth_token": reader}),
                ("delete_memory", {"key": "m", "auth_token": reader}),
                ("get_memory", {"key": "m", "auth_token": reader}),
                ("set_memory", {"key": "m", "value": 1}),
                ("list_memory", {}),
            ]
        )  # fmt: skip
    assert r[1]["code"] == "INVALID_METADATA_FORMAT"
    assert r[0].get("code") == "INVALID_METADATA_FORMAT", r[0]  # a list: the envelope, not a crash
    assert r[2]["code"] == r[3]["code"] == "PERMISSION_DENIED"
    assert r[4]["code"] == "MEMORY_NOT_FOUND"  # read is allowed; there is just nothing there
    assert r[5]["code"] == r[6]["code"] == "AUTH_REQUIRED"


async def test_delete_memory(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        sid = await new_session(running, token)
        r = await running.mcp().calls(
            [
                ("set_memory", {"key": "k", "value": 1, "session_id": sid, "auth_token": token}),
                ("set_memory", {"key": "k", "value": 2, "auth_token": token}),
                ("delete_memory", {"key": "k", "session_id": sid, "auth_token": token}),
                ("get_memory", {"key": "k", "session_id": sid, "auth_token": token}),
                ("get_memory", {"key": "k", "auth_token": token}),
                ("delete_memory", {"key": "k", "session_id": sid, "auth_token": token}),
                ("delete_memory", {"key": "never", "auth_token": token}),
            ]
        )
    assert r[2] == {"success": True, "key": "k", "scope": "session", "session_id": sid, "deleted": True}
    assert r[3]["code"] == "MEMORY_NOT_FOUND"
    assert r[4]["value"] == 2  # the global entry of the same key is untouched
    assert r[5]["code"] == r[6]["code"] == "MEMORY_NOT_FOUND"


async def test_list_memory_scopes_order_and_fields(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        sid = await new_session(running, token)
        writes = [("set_memory", {"key": k, "value": "v" * 10, "auth_token": token}) for k in ("g1", "g2")]
        writes.append(("set_memory", {"key": "s1", "value": [1], "session_id": sid, "auth_token": token}))
        writes.append(("set_memory", {"key": "g1", "value": "again", "auth_token": token}))
        r = await running.mcp().calls(
            [
                *writes,
                ("list_memory", {"auth_token": token}),
                ("list_memory", {"session_id": sid, "auth_token": token}),
                ("list_memory", {"session_id": "all", "auth_token": token}),
                ("list_memory", {"session_id": "all", "limit": 1, "auth_token": token}),
            ]
        )
    glob, scoped, both, one = r[4:]
    assert [e["key"] for e in glob["entries"]] == ["g1", "g2"]  # newest update first
    assert glob["count"] == 2 and "scope_filter" in glob
    assert [(e["key"], e["scope"], e["session_id"]) for e in scoped["entries"]] == [("s1", "session", sid)]
    assert sorted(e["key"] for e in both["entries"]) == ["g1", "g2", "s1"]
    assert one["count"] == 1 and one["entries"][0]["key"] == "g1"
    for entry in both["entries"]:
        assert set(entry) >= ENTRY_FIELDS
        assert "value" not in entry
        assert isinstance(entry["value_size"], int) and entry["value_size"] > 0


@pytest.mark.parametrize(("limit", "ok"), [(1, True), (200, True), (0, False), (201, False)])
async def test_list_memory_limit(running: Running, limit: int, ok: bool) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        reply = await running.mcp().call("list_memory", limit=limit, auth_token=token)
    assert reply["success"] is ok, reply
    if not ok:
        assert reply["code"] == "INVALID_INPUT"


async def test_regression_list_memory_prefix_is_literal(running: Running) -> None:
    """The reference passed the prefix to LIKE, so '%' and '_' were wildcards."""
    keys = ["a_b", "axb", "a%c", "abc", "%top", "_under"]
    with trio.fail_after(30):
        token = await running.token("alice")
        calls = [("set_memory", {"key": k, "value": 1, "auth_token": token}) for k in keys]
        calls += [("list_memory", {"prefix": p, "auth_token": token}) for p in ("a_", "a%", "%", "_", "a")]
        replies = await running.mcp().calls(calls)
    found = [sorted(e["key"] for e in r["entries"]) for r in replies[len(keys) :]]
    assert found == [["a_b"], ["a%c"], ["%top"], ["_under"], ["a%c", "a_b", "abc", "axb"]]


async def test_regression_memory_is_private_per_agent(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        bob = await running.token("bob")  # same agent type: privacy is per agent_id
        sid = await new_session(running, alice)
        r = await running.mcp().calls(
            [
                ("set_memory", {"key": "plan", "value": "alice's secret", "auth_token": alice}),
                ("set_memory", {"key": "plan", "value": "s", "session_id": sid, "auth_token": alice}),
                ("get_memory", {"key": "plan", "auth_token": bob}),
                ("get_memory", {"key": "plan", "session_id": sid, "auth_token": bob}),
                ("list_memory", {"session_id": "all", "auth_token": bob}),
                ("delete_memory", {"key": "plan", "auth_token": bob}),
                ("set_memory", {"key": "plan", "value": "bob's", "overwrite": False, "auth_token": bob}),
                ("get_memory", {"key": "plan", "auth_token": alice}),
                ("get_memory", {"key": "plan", "auth_token": bob}),
            ]
        )
    assert r[2]["code"] == r[3]["code"] == "MEMORY_NOT_FOUND"
    assert r[4]["entries"] == []
    assert r[5]["code"] == "MEMORY_NOT_FOUND"
    assert r[6]["success"], r[6]  # bob's own key, not a collision with alice's
    assert r[7]["value"] == "alice's secret"
    assert r[8]["value"] == "bob's"


async def test_regression_expired_memory_is_gone(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        mcp = running.mcp()
        stored = await mcp.call("set_memory", key="brief", value="soon gone", expires_in=1, auth_token=token)
        assert stored["success"] and stored["expires_at"], stored
        while True:  # poll until gone; fail_after bounds it
            reply = await mcp.call("get_memory", key="brief", auth_token=token)
            if reply.get("code") == "MEMORY_NOT_FOUND":
                break
            assert reply["value"] == "soon gone", reply
            await trio.sleep(0.25)
        listed, deleted, again = await mcp.calls(
            [
                ("list_memory", {"auth_token": token}),
                ("delete_memory", {"key": "brief", "auth_token": token}),
                ("set_memory", {"key": "brief", "value": "new", "overwrite": False, "auth_token": token}),
            ]
        )
    assert listed["entries"] == []
    assert deleted["code"] == "MEMORY_NOT_FOUND"
    assert again["success"], again  # an expired key is not a live key: no KEY_EXISTS
