"""End to end: a real daemon in-process, a real fastmcp client over HTTP, a real WebSocket."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest
import trio
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from trio_websocket import ConnectionClosed, open_websocket_url

from scsd import daemon
from scsd.config import Config
from scsd.model import Endpoints
from scsd.process.sdnotify import Notifier
from tests.kit.clients import next_event
from tests.kit.daemon import Running
from tests.kit.ui import sign_in


async def test_message_added_over_mcp_reaches_websocket_subscriber(running: Running) -> None:
    """authenticate → create_session → subscribe on WS → add_message → new_message event."""
    with trio.fail_after(30):
        token = await running.token("alice")
        mcp = running.mcp(Authorization=f"Bearer {token}")
        created = await mcp.call("create_session", purpose="vertical slice")
        assert created["success"], created
        sid = created["session_id"]
        url = f"{running.endpoints.ws_url}/ws/{sid}?token={token}"
        async with open_websocket_url(url) as ws:
            connected = await next_event(ws)
            assert connected["type"] == "connected"
            assert connected["data"]["agent_id"] == "alice"
            subscribed = await next_event(ws)
            watching = {"watchers": [{"agent_id": "alice", "agent_type": "claude"}], "count": 1}
            assert subscribed == {
                "type": "subscribed",
                "session_id": sid,
                "data": {"last_id": 0, "presence": watching},
            }
            added = await mcp.call(
                "add_message", session_id=sid, content="hello, watchers", metadata={"k": 1}
            )
            assert added["success"], added
            event = await next_event(ws, "new_message")
        assert event["session_id"] == sid
        message = event["data"]
        assert message["id"] == added["message_id"]
        assert message["content"] == "hello, watchers"
        assert message["sender"] == "alice" and message["sender_type"] == "claude"
        assert message["metadata"] == {"k": 1}
        assert message["timestamp"] == added["timestamp"]
        assert message["timestamp"].endswith("Z")


async def test_get_messages_since_id_over_mcp(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="p", auth_token=token))["session_id"]
        ids = []
        for text in ("one", "two", "three"):
            reply = await mcp.call("add_message", session_id=sid, content=text, auth_token=token)
            ids.append(reply["message_id"])
        page = await mcp.call("get_messages", session_id=sid, since_id=ids[0], auth_token=token)
        assert page["success"]
        assert [m["content"] for m in page["messages"]] == ["two", "three"]
        assert (page["count"], page["total_count"], page["has_more"]) == (2, 2, False)
        first = await mcp.call("get_messages", session_id=sid, limit=1, auth_token=token)
        assert [m["content"] for m in first["messages"]] == ["one"]
        assert first["has_more"] is True and first["total_count"] == 3
        session = await mcp.call("get_session", session_id=sid, auth_token=token)
        assert session["session"]["id"] == sid and session["session"]["purpose"] == "p"
        assert session["message_count"] == 3
        assert [m["content"] for m in session["messages"]] == ["three", "two", "one"]


async def test_health_reports_components(running: Running) -> None:
    def get() -> httpx.Response:
        return httpx.get(f"{running.endpoints.http_url}/health", timeout=10)

    with trio.fail_after(20):
        response = await trio.to_thread.run_sync(get)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["path"] == str(running.config.database)
    websocket = {k: body["websocket"][k] for k in ("host", "port", "connections")}
    assert websocket == {"host": "127.0.0.1", "port": running.endpoints.ws_port, "connections": 0}
    assert body["watcher"]["last_id"] == 0 and body["watcher"]["status"] == "ok"


async def test_ui_lists_sessions_escaped(running: Running) -> None:
    token = await running.token("alice")
    await running.mcp().call("create_session", purpose="<script>x</script> review", auth_token=token)

    def get() -> httpx.Response:
        with httpx.Client(base_url=running.endpoints.http_url, timeout=10) as client:
            assert client.get("/ui/").status_code == 303  # the UI needs signing in
            sign_in(client, running.secrets["api_key"], "viewer")
            return client.get("/ui/")

    with trio.fail_after(20):
        response = await trio.to_thread.run_sync(get)
    assert response.status_code == 200
    assert "&lt;script&gt;x&lt;/script&gt; review" in response.text
    assert "<script>x</script>" not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


async def test_shutdown_closes_sockets_1001_and_does_not_wait_for_idle_clients(
    config: Config,
) -> None:
    """An MCP client holding its session open and a WebSocket client do not hold the daemon
    up: it stops well inside the 5 s grace period and the socket gets 1001 (going away)."""
    stop, daemon_done = trio.Event(), trio.Event()
    client_may_leave = threading.Event()

    async def run_daemon(*, task_status: trio.TaskStatus[Endpoints]) -> None:
        await daemon.run(config, stop.wait, Notifier({}), task_status=task_status)
        daemon_done.set()

    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            endpoints = await nursery.start(run_daemon)
            key = json.loads((config.data_dir / "secrets.json").read_text())["api_key"]
            idle_client_ready = trio.Event()
            token_box: list[str] = []

            async def idle_mcp_client() -> None:
                transport = StreamableHttpTransport(f"{endpoints.http_url}/mcp", headers={"X-API-Key": key})
                async with Client(transport) as client:
                    reply = await client.call_tool(
                        "authenticate_agent", {"agent_id": "a", "agent_type": "claude"}
                    )
                    token_box.append(reply.structured_content["token"])
                    trio.from_thread.run_sync(idle_client_ready.set, trio_token=trio_token)
                    await asyncio.to_thread(client_may_leave.wait, 30)

            trio_token = trio.lowlevel.current_trio_token()
            nursery.start_soon(trio.to_thread.run_sync, lambda: asyncio.run(idle_mcp_client()))
            await idle_client_ready.wait()
            async with open_websocket_url(f"{endpoints.ws_url}/ws?token={token_box[0]}") as ws:
                await next_event(ws, "connected")
                stop.set()
                with trio.fail_after(config.shutdown_grace_seconds - 1):
                    with pytest.raises(ConnectionClosed) as closed:
                        while True:
                            await ws.get_message()
                    assert closed.value.reason.code == 1001
                    await daemon_done.wait()
            client_may_leave.set()


async def test_shutdown_answers_a_pending_wait_for_messages_at_once(config: Config) -> None:
    """A tool call in flight is finished, not cut: a 60 s wait_for_messages returns (empty)
    as soon as shutdown starts, and the daemon stops well inside the grace period."""
    stop, daemon_done = trio.Event(), trio.Event()

    async def run_daemon(*, task_status: trio.TaskStatus[Endpoints]) -> None:
        await daemon.run(config, stop.wait, Notifier({}), task_status=task_status)
        daemon_done.set()

    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            endpoints = await nursery.start(run_daemon)
            secrets = json.loads((config.data_dir / "secrets.json").read_text())
            running = Running(config, endpoints, secrets, stop)
            token = await running.token("waiter")
            sid = (await running.mcp().call("create_session", purpose="p", auth_token=token))["session_id"]
            replies: list[dict[str, object]] = []

            def run_wait() -> None:
                # A bare JSON-RPC client: the fastmcp client would also reopen its event
                # stream against the stopping daemon and fail for that reason instead.
                args = {"session_id": sid, "since_id": 0, "timeout_seconds": 60, "auth_token": token}
                replies.append(_raw_tool_call(running.mcp_url, "wait_for_messages", args))

            nursery.start_soon(trio.to_thread.run_sync, run_wait)
            for _ in range(1000):  # until the wait is subscribed to the hub, i.e. pending
                if (await _health(endpoints))["hub"]["subscribers"] >= 1:
                    break
                await trio.sleep(0.01)
            stop.set()
            with trio.fail_after(config.shutdown_grace_seconds - 1):
                await daemon_done.wait()
    assert replies and replies[0]["success"] is True and replies[0]["timed_out"] is True


async def _health(endpoints: Endpoints) -> dict[str, Any]:
    def get() -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{endpoints.http_url}/health", timeout=10).json()
        return body

    return await trio.to_thread.run_sync(get)


def _raw_tool_call(url: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """initialize, then tools/call over plain Streamable HTTP POSTs; the call's result."""
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

    def rpc(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
        return client.post(url, json={"jsonrpc": "2.0", **body}, headers=headers)

    with httpx.Client(timeout=30) as client:
        init = rpc(client, {"id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}}})  # fmt: skip
        headers["mcp-session-id"] = init.headers["mcp-session-id"]
        rpc(client, {"method": "notifications/initialized"})
        reply = rpc(client, {"id": 2, "method": "tools/call", "params": {"name": tool, "arguments": args}})
    for line in reply.text.splitlines():  # an SSE stream or plain JSON
        if line.startswith("data:") or line.startswith("{"):
            message = json.loads(line.removeprefix("data:"))
            if message.get("id") == 2:
                result: dict[str, Any] = message["result"]["structuredContent"]
                return result
    raise AssertionError(f"no tools/call result in {reply.text!r}")
