"""refresh_token and revocation through a real fastmcp client over HTTP (docs/tools.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from scsd.access.tokens import Authority
from scsd.model import Identity
from tests.kit.daemon import Running

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _authority(running: Running, ttl: int) -> Authority:
    s = running.secrets
    return Authority(s["api_key"], s["admin_key"], s["jwt_secret"], ttl)


async def test_refresh_token_returns_documented_fields(running: Running) -> None:
    with trio.fail_after(30):
        old = await running.token("alice")
        reply = await running.mcp().call("refresh_token", current_token=old)
    assert reply["success"] is True, reply
    assert set(reply) >= {"token", "expires_in", "expires_at", "issued_at", "token_type", "token_format"}
    assert isinstance(reply["token"], str) and reply["token"] and reply["token"] != old
    assert reply["token_type"] == "Bearer" and reply["token_format"] == "jwt"
    assert ISO_Z.fullmatch(reply["expires_at"]) and ISO_Z.fullmatch(reply["issued_at"])
    assert isinstance(reply["expires_in"], int) and reply["expires_in"] > 0
    issued = datetime.fromisoformat(reply["issued_at"])
    expires = datetime.fromisoformat(reply["expires_at"])
    assert abs((expires - issued).total_seconds() - reply["expires_in"]) <= 2


async def test_refreshed_token_keeps_identity_and_permissions(running: Running) -> None:
    with trio.fail_after(40):
        writer = await running.token("alice", "claude")
        reader = await running.token("viewer", "generic")
        admin = await running.token("root", admin=True, permissions=["read", "write", "admin"])
        mcp = running.mcp()
        new_writer, new_reader, new_admin = [
            (await mcp.call("refresh_token", current_token=t))["token"] for t in (writer, reader, admin)
        ]
        created = await mcp.call("create_session", purpose="after refresh", auth_token=new_writer)
        sid = created["session_id"]
        denied = await mcp.call("create_session", purpose="x", auth_token=new_reader)
        secret = await mcp.call(
            "add_message", session_id=sid, content="ops", visibility="admin_only", auth_token=new_admin
        )
        read = await mcp.call("get_messages", session_id=sid, auth_token=new_reader)
    assert created["success"] and created["created_by"] == "alice", created
    assert denied["code"] == "PERMISSION_DENIED"  # a refresh never widens permissions
    assert secret["success"], secret  # nor narrows them
    assert read["success"] and read["messages"] == []


async def test_regression_refresh_revokes_old_token_at_once(running: Running) -> None:
    """The old token stops working for tools (argument and header) and for further refreshes."""
    with trio.fail_after(40):
        old = await running.token("alice")
        mcp = running.mcp()
        before = await mcp.call("list_sessions", auth_token=old)
        new = (await mcp.call("refresh_token", current_token=old))["token"]
        as_arg, again, works = await mcp.calls(
            [
                ("list_sessions", {"auth_token": old}),
                ("refresh_token", {"current_token": old}),
                ("list_sessions", {"auth_token": new}),
            ]
        )
        as_header = await running.mcp(Authorization=f"Bearer {old}").call("create_session", purpose="x")
    assert before["success"], before
    assert as_arg["success"] is False and as_arg["code"] == "TOKEN_AUTHENTICATION_FAILED"
    assert as_header["code"] == "TOKEN_AUTHENTICATION_FAILED"
    assert again["success"] is False and again["code"] == "TOKEN_REFRESH_FAILED"
    assert "token" not in again
    assert works["success"], works


async def test_refresh_chain_revokes_each_previous_token(running: Running) -> None:
    with trio.fail_after(40):
        first = await running.token("alice")
        mcp = running.mcp()
        second = (await mcp.call("refresh_token", current_token=first))["token"]
        third = (await mcp.call("refresh_token", current_token=second))["token"]
        r1, r2, r3 = await mcp.calls([("list_sessions", {"auth_token": t}) for t in (first, second, third)])
    assert r1["code"] == r2["code"] == "TOKEN_AUTHENTICATION_FAILED"
    assert r3["success"], r3


async def test_refreshed_away_token_cannot_open_a_socket(running: Running) -> None:
    with trio.fail_after(40):
        old = await running.token("alice")
        sid = (await running.mcp().call("create_session", purpose="p", auth_token=old))["session_id"]
        new = (await running.mcp().call("refresh_token", current_token=old))["token"]
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={new}"):
            pass  # control: the new token is accepted
        with pytest.raises(ConnectionRejected) as caught:
            async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={old}"):
                pass
    assert caught.value.status_code == 401


@pytest.mark.parametrize("bad", ["not.a.jwt", "", "x" * 2000])
async def test_refresh_forged_token_fails(running: Running, bad: str) -> None:
    with trio.fail_after(20):
        reply = await running.mcp().call("refresh_token", current_token=bad)
    assert reply["success"] is False and reply["code"] == "TOKEN_REFRESH_FAILED", reply
    assert "authenticate_agent" in reply["error"] + " ".join(reply["suggestions"])


async def test_refresh_token_signed_with_another_secret_fails(running: Running) -> None:
    s = running.secrets
    other = Authority(s["api_key"], s["admin_key"], "another-secret-" + "0" * 40, 3600)
    forged = other.issue(Identity("alice", "claude", frozenset({"read", "write"}))).token
    with trio.fail_after(20):
        reply = await running.mcp().call("refresh_token", current_token=forged)
    assert reply["code"] == "TOKEN_REFRESH_FAILED"


async def test_refresh_and_use_of_expired_token_fail(running: Running) -> None:
    who = Identity("alice", "claude", frozenset({"read", "write"}))
    valid = _authority(running, 3600).issue(who).token
    expired = _authority(running, -60).issue(who).token
    with trio.fail_after(30):
        ok_refresh, bad_refresh, bad_use = await running.mcp().calls(
            [
                ("refresh_token", {"current_token": valid}),
                ("refresh_token", {"current_token": expired}),
                ("list_sessions", {"auth_token": expired}),
            ]
        )
    assert ok_refresh["success"], ok_refresh  # control: same secret, same claims, not expired
    assert bad_refresh["success"] is False and bad_refresh["code"] == "TOKEN_REFRESH_FAILED"
    assert bad_use["code"] == "TOKEN_AUTHENTICATION_FAILED"


async def test_refresh_is_audited(running: Running) -> None:
    with trio.fail_after(30):
        old = await running.token("refresher")
        await running.mcp().call("refresh_token", current_token=old)
        admin = await running.token("root", admin=True, permissions=["read", "admin"])
        log = await running.mcp().call("get_audit_log", agent_id="refresher", auth_token=admin)
    assert log["success"], log
    assert any("refresh" in e["event_type"] for e in log["entries"]), log["entries"]


async def test_regression_tokenless_callers_get_no_read_access(running: Running) -> None:
    with trio.fail_after(30):
        sid = (await running.mcp().call("create_session", purpose="p", auth_token=await running.token("a")))[
            "session_id"
        ]
        span = {"start_time": "2000-01-01T00:00:00Z", "end_time": "2100-01-01T00:00:00Z"}
        calls: list[tuple[str, dict[str, Any]]] = [
            ("search_context", {"session_id": sid, "query": "x"}),
            ("search_by_sender", {"session_id": sid, "sender": "a"}),
            ("search_by_timerange", {"session_id": sid, **span}),
            ("get_memory", {"key": "k"}),
            ("list_memory", {}),
            ("delete_memory", {"key": "k"}),
            ("get_audit_log", {}),
            ("wait_for_messages", {"session_id": sid, "since_id": 0, "timeout_seconds": 1}),
        ]
        replies = await running.mcp().calls(calls)
    assert [r.get("code") for r in replies] == ["AUTH_REQUIRED"] * len(replies), replies
