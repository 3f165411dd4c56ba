"""The MCP tools through a real fastmcp client over HTTP: identity, permissions, errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import trio
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError as FastMcpToolError

from tests.kit.daemon import Running


async def test_no_credentials_is_auth_required(running: Running) -> None:
    with trio.fail_after(20):
        reply = await running.mcp().call("create_session", purpose="x")
        read = await running.mcp().call("get_messages", session_id="session_0123456789abcdef")
    for r in (reply, read):
        assert r["success"] is False and r["code"] == "AUTH_REQUIRED"
        assert "authenticate_agent" in " ".join(r["suggestions"])
        assert set(r) >= {"error", "code", "recoverable", "suggestions"}


async def test_bad_token_is_refused(running: Running) -> None:
    with trio.fail_after(20):
        as_arg = await running.mcp().call("create_session", purpose="x", auth_token="not.a.jwt")
        as_header = await running.mcp(Authorization="Bearer forged").call("create_session", purpose="x")
    assert as_arg["code"] == as_header["code"] == "TOKEN_AUTHENTICATION_FAILED"


async def test_wrong_or_missing_api_key_is_auth_failed(running: Running) -> None:
    with trio.fail_after(20):
        wrong = await running.mcp(**{"X-API-Key": "nope"}).call(
            "authenticate_agent", agent_id="a", agent_type="claude"
        )
        missing = await running.mcp().call("authenticate_agent", agent_id="a", agent_type="claude")
    assert wrong["code"] == missing["code"] == "AUTH_FAILED"
    assert wrong["success"] is False and "token" not in wrong


async def test_agent_key_never_mints_admin(running: Running) -> None:
    with trio.fail_after(20):
        mcp = running.mcp(**{"X-API-Key": running.secrets["api_key"]})
        for agent_type in ("claude", "admin", "system"):
            reply = await mcp.call(
                "authenticate_agent",
                agent_id="eve",
                agent_type=agent_type,
                requested_permissions=["read", "write", "admin"],
            )
            assert reply["success"] and "admin" not in reply["permissions"], reply
        token = await running.token("eve", permissions=["read", "write", "admin"])
        sid = (await running.mcp().call("create_session", purpose="p", auth_token=token))["session_id"]
        denied = await running.mcp().call(
            "add_message", session_id=sid, content="secret", visibility="admin_only", auth_token=token
        )
    assert denied["code"] == "PERMISSION_DENIED"


async def test_admin_key_grants_admin_and_admin_sees_everything(running: Running) -> None:
    with trio.fail_after(30):
        admin = await running.token("root", admin=True, permissions=["read", "write", "admin"])
        alice = await running.token("alice")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="p", auth_token=alice))["session_id"]
        await mcp.call("add_message", session_id=sid, content="mine", visibility="private", auth_token=alice)
        posted = await mcp.call(
            "add_message", session_id=sid, content="ops", visibility="admin_only", auth_token=admin
        )
        assert posted["success"], posted
        seen_by_admin = await mcp.call("get_messages", session_id=sid, auth_token=admin)
        seen_by_alice = await mcp.call("get_messages", session_id=sid, auth_token=alice)
    assert [m["content"] for m in seen_by_admin["messages"]] == ["mine", "ops"]
    assert [m["content"] for m in seen_by_alice["messages"]] == ["mine"]


async def test_readonly_type_cannot_write(running: Running) -> None:
    with trio.fail_after(20):
        token = await running.token("viewer", agent_type="generic")
        reply = await running.mcp().call("create_session", purpose="x", auth_token=token)
    assert reply["code"] == "PERMISSION_DENIED"


async def test_visibility_rules_and_filter_only_narrows(running: Running) -> None:
    """private = sender only; agent_only = same agent type; a filter never widens (SPEC §9)."""
    with trio.fail_after(40):
        alice = await running.token("alice", "claude")
        carol = await running.token("carol", "claude")
        bob = await running.token("bob", "gemini")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="p", auth_token=alice))["session_id"]
        for content, level in (("pub", "public"), ("priv", "private"), ("team", "agent_only")):
            await mcp.call("add_message", session_id=sid, content=content, visibility=level, auth_token=alice)

        async def seen(token: str, flt: str | None = None) -> list[str]:
            args = {"session_id": sid, "auth_token": token}
            if flt is not None:
                args["visibility_filter"] = flt
            reply = await mcp.call("get_messages", **args)
            return [m["content"] for m in reply["messages"]]

        assert await seen(alice) == ["pub", "priv", "team"]
        assert await seen(carol) == ["pub", "team"]
        assert await seen(bob) == ["pub"]
        assert await seen(bob, "admin_only") == []
        assert await seen(bob, "private") == []
        assert await seen(carol, "agent_only") == ["team"]
        bogus = await mcp.call("get_messages", session_id=sid, visibility_filter="bogus", auth_token=bob)
    assert bogus["code"] == "INVALID_VISIBILITY"


async def test_bad_input_gets_clear_codes(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="p", auth_token=token))["session_id"]
        blank = await mcp.call("add_message", session_id=sid, content=" \x00 \n", auth_token=token)
        huge = await mcp.call("add_message", session_id=sid, content="x" * 100_001, auth_token=token)
        missing = await mcp.call(
            "add_message", session_id="session_ffffffffffffffff", content="x", auth_token=token
        )
        parent = await mcp.call(
            "add_message", session_id=sid, content="x", parent_message_id=999, auth_token=token
        )
        level = await mcp.call(
            "add_message", session_id=sid, content="x", visibility="secret", auth_token=token
        )
        limit = await mcp.call("get_messages", session_id=sid, limit=1001, auth_token=token)
        page = await mcp.call("get_messages", session_id=sid, auth_token=token)
    assert blank["code"] == "INVALID_INPUT"
    assert huge["code"] == "CONTENT_TOO_LARGE"
    assert missing["code"] == "SESSION_NOT_FOUND"
    assert parent["code"] == "INVALID_INPUT" and "parent_message_id" in parent["error"]
    assert level["code"] == "INVALID_VISIBILITY"
    assert limit["code"] == "INVALID_INPUT"
    assert page["messages"] == []  # nothing was partially written


async def test_threads_via_parent_message_id(running: Running) -> None:
    with trio.fail_after(20):
        token = await running.token("alice")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="p", auth_token=token))["session_id"]
        root = await mcp.call("add_message", session_id=sid, content="q", auth_token=token)
        reply = await mcp.call(
            "add_message", session_id=sid, content="a", auth_token=token, parent_message_id=root["message_id"]
        )
        page = await mcp.call("get_messages", session_id=sid, since_id=root["message_id"], auth_token=token)
    assert reply["success"]
    assert page["messages"][0]["parent_message_id"] == root["message_id"]


async def test_a_failure_reaches_a_fastmcp_client_as_an_error_carrying_the_envelope(running: Running) -> None:
    """What docs/tools.md promises about fastmcp's Client: by default call_tool raises
    fastmcp's ToolError whose message is the envelope as JSON; with raise_on_error=False the
    result has is_error and the envelope as structured content (and data None)."""

    async def go() -> tuple[str, Any]:
        async with Client(StreamableHttpTransport(running.mcp_url)) as client:
            with pytest.raises(FastMcpToolError) as raised:
                await client.call_tool("create_session", {"purpose": "x"})
            kept = await client.call_tool("create_session", {"purpose": "x"}, raise_on_error=False)
            return str(raised.value), kept

    with trio.fail_after(30):
        message, kept = await trio.to_thread.run_sync(lambda: asyncio.run(go()))
    assert json.loads(message)["code"] == "AUTH_REQUIRED"
    assert kept.is_error and kept.data is None and kept.structured_content["code"] == "AUTH_REQUIRED"
