"""get_usage_guidance, get_performance_metrics, get_audit_log, resources and prompts through a
real fastmcp client over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from tests.kit.daemon import Running

TOOL_NAME = re.compile(
    r"\b(?:get|set|add|list|search|create|delete|refresh|authenticate|wait)_[a-z_]*[a-z]\b"
)


async def _with_client(
    running: Running, token: str | None, fn: Callable[[Client[Any]], Awaitable[Any]]
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def session() -> Any:
        async with Client(StreamableHttpTransport(running.mcp_url, headers=headers)) as client:
            return await fn(client)

    return await trio.to_thread.run_sync(lambda: asyncio.run(session()))


async def read_resource(running: Running, uri: str, token: str | None) -> str:
    """The resource's text, or `ERROR: ...` when the server refused the read."""

    async def read(client: Client[Any]) -> str:
        try:
            contents = await client.read_resource(uri)
        except Exception as e:
            return f"ERROR: {e}"
        return "".join(getattr(c, "text", "") for c in contents)

    return str(await _with_client(running, token, read))


async def get_prompt(running: Running, name: str, token: str | None, **arguments: Any) -> str:
    async def get(client: Client[Any]) -> str:
        try:
            result = await client.get_prompt(name, arguments)
        except Exception as e:
            return f"ERROR: {e}"
        return "\n".join(getattr(m.content, "text", "") for m in result.messages)

    return str(await _with_client(running, token, get))


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a nested JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k), v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


async def test_usage_guidance_without_credentials(running: Running) -> None:
    kinds = ["operations", "coordination", "security", "troubleshooting"]
    with trio.fail_after(30):
        replies = await running.mcp().calls([("get_usage_guidance", {"guidance_type": k}) for k in kinds])
        default, bogus = await running.mcp().calls(
            [("get_usage_guidance", {}), ("get_usage_guidance", {"guidance_type": "bogus"})]
        )
        tools = await _with_client(running, None, lambda c: c.list_tools())
    for kind, reply in zip(kinds, replies, strict=True):
        assert reply["success"], reply
        assert set(reply) >= {
            "access_level",
            "agent_info",
            "guidance",
            "examples",
            "guidance_type",
            "generated_at",
        }
        assert reply["access_level"] == "READ_ONLY" and reply["guidance_type"] == kind
        assert reply["guidance"]
    assert default["guidance_type"] == "operations"
    assert bogus["success"] is False and bogus["code"] == "INVALID_GUIDANCE_TYPE"
    names = {t.name for t in tools}
    mentioned = set(TOOL_NAME.findall(json.dumps([*replies, default])))
    assert len(mentioned) >= 3, mentioned  # the check below is not vacuous
    assert mentioned <= names, f"guidance names tools this server lacks: {mentioned - names}"


async def test_usage_guidance_access_levels(running: Running) -> None:
    with trio.fail_after(30):
        writer = await running.token("alice", "claude")
        reader = await running.token("viewer", "generic")
        admin = await running.token("root", admin=True, permissions=["read", "write", "admin"])
        replies = await running.mcp().calls(
            [("get_usage_guidance", {"auth_token": t}) for t in (writer, reader, admin)]
        )
    assert [r["access_level"] for r in replies] == ["AGENT", "READ_ONLY", "ADMIN"]
    assert "alice" in json.dumps(replies[0]["agent_info"])
    # The reference's agent_info keys, with real values: when the token lapses, whether it renews.
    info = replies[0]["agent_info"]
    assert info["can_refresh"] is True and info["expires_at"].endswith("Z"), info
    with trio.fail_after(30):
        anonymous = await running.mcp().call("get_usage_guidance")
    assert anonymous["agent_info"]["expires_at"] is None and anonymous["agent_info"]["can_refresh"] is False


async def test_performance_metrics_are_admin_only(running: Running) -> None:
    with trio.fail_after(30):
        writer = await running.token("alice")
        denied, anonymous, audit_denied = await running.mcp().calls(
            [("get_performance_metrics", {"auth_token": writer}), ("get_performance_metrics", {}),
             ("get_audit_log", {"auth_token": writer})]
        )  # fmt: skip
    assert denied["code"] == audit_denied["code"] == "PERMISSION_DENIED"
    assert denied["recoverable"] is False
    assert anonymous["code"] == "AUTH_REQUIRED"


async def test_performance_metrics_carry_the_references_keys(running: Running) -> None:
    with trio.fail_after(30):
        admin = await running.token("root", admin=True, permissions=["read", "admin"])
        metrics = await running.mcp().call("get_performance_metrics", auth_token=admin)
    assert metrics["requesting_agent"] == "root" and metrics["database_backend"] == "sqlite"
    assert (
        metrics["request_timestamp"].endswith("Z") and metrics["request_timestamp"] == metrics["generated_at"]
    )


async def test_regression_performance_metrics_are_real_counters(running: Running) -> None:
    with trio.fail_after(40):
        token = await running.token("alice")
        admin = await running.token("root", admin=True, permissions=["read", "admin"])
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="metrics", auth_token=token))["session_id"]
        posts = await mcp.calls(
            [("add_message", {"session_id": sid, "content": f"m{i}", "auth_token": token}) for i in range(3)]
        )
        failed = await mcp.call("add_message", session_id=sid, content="   ", auth_token=token)
        assert failed["code"] == "INVALID_INPUT"
        last_id = posts[-1]["message_id"]
        while True:  # the watcher catches up on its own schedule; poll until it has
            metrics = await mcp.call("get_performance_metrics", auth_token=admin)
            assert metrics["success"], metrics
            if any(k.endswith("last_id") and v == last_id for k, v in _walk(metrics)):
                break
            await trio.sleep(0.1)
    per_tool = [v for k, v in _walk(metrics) if k == "add_message" and isinstance(v, dict)]
    assert per_tool, f"no per-tool entry for add_message in {metrics}"
    stats = per_tool[0]
    assert stats["calls"] >= 4 and stats["errors"] >= 1
    assert 0 <= stats["p50_ms"] <= stats["p95_ms"] <= stats["max_ms"] and stats["max_ms"] > 0
    numbers = {k: v for k, v in _walk(metrics) if isinstance(v, int | float) and not isinstance(v, bool)}
    assert any("uptime" in k and v > 0 for k, v in numbers.items()), metrics
    assert any("messages" in k and v >= 3 for k, v in numbers.items()), metrics
    assert any("sessions" in k and v >= 1 for k, v in numbers.items()), metrics


async def test_audit_log_filters_and_paging(running: Running) -> None:
    with trio.fail_after(40):
        token = await running.token("auditee")
        bad = await running.mcp(**{"X-API-Key": "wrong"}).call(
            "authenticate_agent", agent_id="auditee", agent_type="claude"
        )
        assert bad["code"] == "AUTH_FAILED"
        mcp = running.mcp()
        token = (await mcp.call("refresh_token", current_token=token))["token"]
        sid = (await mcp.call("create_session", purpose="audit", auth_token=token))["session_id"]
        await mcp.calls(
            [
                ("add_message", {"session_id": sid, "content": "x", "auth_token": token}),
                ("set_memory", {"key": "k", "value": 1, "auth_token": token}),
                ("delete_memory", {"key": "k", "auth_token": token}),
                ("get_audit_log", {"auth_token": token}),  # denied access
            ]
        )
        await running.token("someone-else")
        admin = await running.token("root", admin=True, permissions=["read", "admin"])
        mine, in_session, everything, first, second = await mcp.calls(
            [("get_audit_log", {"agent_id": "auditee", "limit": 500, "auth_token": admin}),
             ("get_audit_log", {"session_id": sid, "auth_token": admin}),
             ("get_audit_log", {"auth_token": admin}),
             ("get_audit_log", {"limit": 1, "auth_token": admin}),
             ("get_audit_log", {"limit": 1, "offset": 1, "auth_token": admin})]
        )  # fmt: skip
    entries = mine["entries"]
    assert entries and all(e["agent_id"] == "auditee" for e in entries)
    for entry in entries:
        assert set(entry) >= {"id", "timestamp", "event_type", "agent_id", "session_id", "resource", "result"}
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True)  # newest first
    types = [e["event_type"].lower() for e in entries]
    for word in ("refresh", "session", "message", "memory", "denied", "fail"):
        assert any(word in t for t in types), (word, types)
    assert len({t for t in types if "memory" in t}) >= 2  # set and deleted are told apart
    assert mine["count"] == len(entries) and mine["total_count"] == len(entries)
    assert in_session["entries"] and all(e["session_id"] == sid for e in in_session["entries"])
    assert any("message" in e["event_type"] for e in in_session["entries"])
    assert everything["total_count"] > mine["total_count"]
    assert first["count"] == second["count"] == 1
    assert first["entries"][0]["id"] == everything["entries"][0]["id"]
    assert second["entries"][0]["id"] == everything["entries"][1]["id"]


@pytest.mark.parametrize(
    ("args", "ok"),
    [({"limit": 500}, True), ({"limit": 501}, False), ({"limit": 0}, False), ({"offset": -1}, False)],
)
async def test_audit_log_limits(running: Running, args: dict[str, Any], ok: bool) -> None:
    with trio.fail_after(30):
        admin = await running.token("root", admin=True, permissions=["read", "admin"])
        reply = await running.mcp().call("get_audit_log", auth_token=admin, **args)
    assert reply["success"] is ok, reply
    if not ok:
        assert reply["code"] == "INVALID_INPUT"


async def test_regression_session_resource_respects_identity(running: Running) -> None:
    with trio.fail_after(40):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="res", auth_token=alice))["session_id"]
        await mcp.calls(
            [("add_message", {"session_id": sid, "content": "hello-all", "auth_token": alice}),
             ("add_message", {"session_id": sid, "content": "alice-secret", "visibility": "private",
                              "auth_token": alice}),
             ("add_message", {"session_id": sid, "content": "claude-team", "visibility": "agent_only",
                              "auth_token": alice}),
             ("add_message", {"session_id": sid, "content": "bob-secret", "visibility": "private",
                              "auth_token": bob})]
        )  # fmt: skip
        as_alice = await read_resource(running, f"session://{sid}", alice)
        as_bob = await read_resource(running, f"session://{sid}", bob)
        anonymous = await read_resource(running, f"session://{sid}", None)
    assert sid in as_alice
    assert all(s in as_alice for s in ("hello-all", "alice-secret", "claude-team")), as_alice
    assert as_alice.index("hello-all") < as_alice.index("alice-secret") < as_alice.index("claude-team")
    assert "bob-secret" not in as_alice
    assert "hello-all" in as_bob and "bob-secret" in as_bob, as_bob
    assert "alice-secret" not in as_bob and "claude-team" not in as_bob
    assert "hello-all" not in anonymous


async def test_agent_memory_resource_is_for_its_agent_only(running: Running) -> None:
    with trio.fail_after(40):
        alice = await running.token("alice")
        bob = await running.token("bob")
        admin = await running.token("root", admin=True, permissions=["read", "admin"])
        await running.mcp().call("set_memory", key="plan", value="mem-value-77", auth_token=alice)
        own = await read_resource(running, "agent://alice/memory", alice)
        other = await read_resource(running, "agent://alice/memory", bob)
        by_admin = await read_resource(running, "agent://alice/memory", admin)
        anonymous = await read_resource(running, "agent://alice/memory", None)
    assert "plan" in own and "mem-value-77" in own, own
    assert "mem-value-77" in by_admin, by_admin
    assert "mem-value-77" not in other and "mem-value-77" not in anonymous


async def test_setup_collaboration_prompt(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        text = await get_prompt(running, "setup-collaboration", token, purpose="migrate the billing service")
    assert not text.startswith("ERROR"), text
    assert "migrate the billing service" in text


async def test_regression_debug_session_prompt_does_not_leak(running: Running) -> None:
    with trio.fail_after(40):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="debug", auth_token=alice))["session_id"]
        await mcp.calls(
            [("add_message", {"session_id": sid, "content": "visible-note", "auth_token": alice}),
             ("add_message", {"session_id": sid, "content": "bob-private-zz", "visibility": "private",
                              "auth_token": bob}),
             ("add_message", {"session_id": sid, "content": "gemini-team-zz", "visibility": "agent_only",
                              "auth_token": bob})]
        )  # fmt: skip
        as_alice = await get_prompt(running, "debug-session", alice, session_id=sid)
        as_bob = await get_prompt(running, "debug-session", bob, session_id=sid)
    assert not as_alice.startswith("ERROR") and sid in as_alice, as_alice
    assert "bob-private-zz" not in as_alice and "gemini-team-zz" not in as_alice
    assert "bob-pri" not in as_alice and "gemini-te" not in as_alice  # not even a preview
    assert not as_bob.startswith("ERROR"), as_bob


async def test_regression_timestamps_are_one_format(running: Running) -> None:
    iso_z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
    with trio.fail_after(30):
        token = await running.token("alice")
        admin = await running.token("root", admin=True, permissions=["read", "admin"])
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="p", auth_token=token))["session_id"]
        span = {"start_time": "2000-01-01T02:00:00+02:00", "end_time": "2100-01-01T00:00:00"}
        auth = {"auth_token": token}
        replies = await mcp.calls(
            [("add_message", {"session_id": sid, "content": "tick", "auth_token": token}),
             ("set_memory", {"key": "k", "value": 1, "expires_in": 60, "auth_token": token}),
             ("get_memory", {"key": "k", "auth_token": token}), ("list_memory", {"auth_token": token}),
             ("search_context", {"session_id": sid, "query": "tick", "auth_token": token}),
             ("search_by_timerange", {"session_id": sid, **span, "auth_token": token}),
             ("wait_for_messages", {"session_id": sid, "since_id": 0, "timeout_seconds": 1, **auth}),
             ("refresh_token", {"current_token": token}), ("get_audit_log", {"auth_token": admin})]
        )  # fmt: skip
    stamps = [
        (k, v)
        for k, v in _walk(replies)
        if isinstance(v, str) and (k.endswith("_at") or k in {"timestamp", "start", "end"})
    ]
    assert len(stamps) >= 15, stamps
    assert [(k, v) for k, v in stamps if not iso_z.fullmatch(v)] == []
