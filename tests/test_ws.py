"""The WebSocket listener against a real daemon: auth at the handshake, visibility, protocol."""

from __future__ import annotations

import json

import pytest
import trio
from conftest import Running
from helpers import next_event
from trio_websocket import ConnectionRejected, open_websocket_url


async def _session(running: Running, token: str) -> str:
    reply = await running.mcp().call("create_session", purpose="ws", auth_token=token)
    return str(reply["session_id"])


async def test_private_message_never_reaches_another_agents_socket(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        sid = await _session(running, alice)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={bob}") as ws:
            await next_event(ws, "subscribed")
            mcp = running.mcp()
            for content, level in (("alice only", "private"), ("claudes only", "agent_only"),
                                   ("everyone", "public")):
                await mcp.call("add_message", session_id=sid, content=content, visibility=level,
                               auth_token=alice)
            event = await next_event(ws, "new_message")
    # Ids are delivered in order, so the public message arriving first proves the others
    # were withheld rather than late.
    assert event["data"]["content"] == "everyone"


async def test_sender_sees_own_private_message(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        sid = await _session(running, alice)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}",
                                      extra_headers=[("Authorization", f"Bearer {alice}")]) as ws:
            await next_event(ws, "subscribed")
            await running.mcp().call("add_message", session_id=sid, content="note to self",
                                     visibility="private", auth_token=alice)
            event = await next_event(ws, "new_message")
    assert event["data"]["content"] == "note to self"


@pytest.mark.parametrize("query", ["", "?token=forged"])
async def test_handshake_without_valid_token_is_refused(running: Running, query: str) -> None:
    with trio.fail_after(20), pytest.raises(ConnectionRejected) as caught:
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/session_0123456789abcdef{query}"):
            pass
    assert caught.value.status_code == 401


async def test_foreign_browser_origin_is_refused(running: Running) -> None:
    token = await running.token("alice")
    with trio.fail_after(20), pytest.raises(ConnectionRejected) as caught:
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}",
                                      extra_headers=[("Origin", "http://evil.example")]):
            pass
    assert caught.value.status_code == 403


async def test_unknown_session_is_an_error_then_close(running: Running) -> None:
    token = await running.token("alice")
    with trio.fail_after(20):
        url = f"{running.endpoints.ws_url}/ws/session_0123456789abcdef?token={token}"
        async with open_websocket_url(url) as ws:
            error = await next_event(ws, "error")
    assert error["data"]["code"] == "SESSION_NOT_FOUND"


async def test_multi_session_socket_with_since_id_replay(running: Running) -> None:
    """`/ws` + subscribe(since_id) replays what was missed, then continues live, no duplicates."""
    with trio.fail_after(30):
        alice = await running.token("alice")
        mcp = running.mcp()
        sid = await _session(running, alice)
        other = await _session(running, alice)
        first = await mcp.call("add_message", session_id=sid, content="m1", auth_token=alice)
        await mcp.call("add_message", session_id=sid, content="m2", auth_token=alice)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={alice}") as ws:
            await next_event(ws, "connected")
            await ws.send_message(json.dumps({"tool": "subscribe", "id": 7, "arguments": {
                "session_id": sid, "since_id": first["message_id"]}}))
            subscribed = await next_event(ws)
            assert subscribed["type"] == "subscribed" and subscribed["id"] == 7
            replayed = await next_event(ws, "new_message")
            assert replayed["data"]["content"] == "m2"
            await ws.send_message(json.dumps({"tool": "subscribe", "arguments": {"session_id": other}}))
            await next_event(ws, "subscribed")
            await mcp.call("add_message", session_id=other, content="elsewhere", auth_token=alice)
            await mcp.call("add_message", session_id=sid, content="m3", auth_token=alice)
            live = [await next_event(ws, "new_message"), await next_event(ws, "new_message")]
    assert [(e["session_id"], e["data"]["content"]) for e in live] == [
        (other, "elsewhere"), (sid, "m3")]


async def test_bad_frames_get_errors_and_the_socket_stays_usable(running: Running) -> None:
    token = await running.token("alice")
    with trio.fail_after(20):
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}") as ws:
            await next_event(ws, "connected")
            await ws.send_message("not json")
            assert (await next_event(ws))["data"]["code"] == "INVALID_JSON"
            await ws.send_message(json.dumps({"tool": "explode", "id": "x"}))
            unknown = await next_event(ws)
            assert unknown["type"] == "error" and unknown["id"] == "x"
            assert unknown["data"]["code"] == "UNKNOWN_TOOL"
            await ws.send_message(json.dumps({"tool": "subscribe", "arguments": {}}))
            assert (await next_event(ws))["data"]["code"] == "INVALID_INPUT"
            await ws.send_message(json.dumps({"type": "ping", "id": 42}))
            assert await next_event(ws) == {"type": "pong", "id": 42}
