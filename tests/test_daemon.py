"""End to end: a real daemon in-process, a real fastmcp client over HTTP, a real WebSocket."""

from __future__ import annotations

import httpx
import trio
from conftest import Running
from helpers import next_event
from trio_websocket import open_websocket_url


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
            assert subscribed == {"type": "subscribed", "session_id": sid, "data": {"last_id": 0}}
            added = await mcp.call("add_message", session_id=sid, content="hello, watchers",
                                   metadata={"k": 1})
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
    assert body["websocket"] == {"host": "127.0.0.1", "port": running.endpoints.ws_port,
                                 "connections": 0}
    assert body["watcher"]["last_id"] == 0 and body["watcher"]["status"] == "ok"


async def test_ui_lists_sessions_escaped(running: Running) -> None:
    token = await running.token("alice")
    await running.mcp().call("create_session", purpose="<script>x</script> review", auth_token=token)

    def get() -> httpx.Response:
        return httpx.get(f"{running.endpoints.http_url}/ui/", timeout=10)

    with trio.fail_after(20):
        response = await trio.to_thread.run_sync(get)
    assert response.status_code == 200
    assert "&lt;script&gt;x&lt;/script&gt; review" in response.text
    assert "<script>x</script>" not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
