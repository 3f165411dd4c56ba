"""The real-time protocol of docs/realtime.md against a real daemon: `authenticate`, ids echoed,
session and memory events (also for writes by another process), limits, visibility, Origin."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, WebSocketConnection, open_websocket_url

from tests.kit.clients import JsonObject, next_event, ws_call
from tests.kit.daemon import Running, new_session, post, stdio_client

EVIL = "http://evil.example"


async def _until_message(ws: WebSocketConnection, content: str) -> list[JsonObject]:
    """Every event up to and including the new_message with `content` (server pings skipped)."""
    events: list[JsonObject] = []
    while True:
        events.append(await next_event(ws))
        if events[-1]["type"] == "new_message" and events[-1]["data"]["content"] == content:
            return events


async def test_unauthenticated_socket_must_authenticate_first(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice", "claude")
        sid = await new_session(running, alice)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws") as ws:
            connected = await next_event(ws, "connected")
            assert connected["data"]["authenticated"] is False
            for n, (tool, args) in enumerate(
                [("subscribe", {"session_id": sid}), ("get_messages", {"session_id": sid}),
                 ("get_session_info", {"session_id": sid}), ("unsubscribe", {"session_id": sid})]
            ):  # fmt: skip
                await ws_call(ws, tool, n, **args)
                refused = await next_event(ws)
                assert (refused["type"], refused["id"]) == ("error", n), refused
                assert refused["data"]["code"] == "AUTH_REQUIRED"
            await ws_call(ws, "authenticate", "forged", token="not-a-token")
            failed = await next_event(ws)
            assert failed["type"] == "error" and failed["id"] == "forged"
            assert failed["data"]["code"] == "TOKEN_AUTHENTICATION_FAILED"
            await ws_call(ws, "authenticate", "auth", token=alice)
            authenticated = await next_event(ws)
            assert authenticated["type"] == "authenticated" and authenticated["id"] == "auth"
            assert authenticated["data"]["agent_id"] == "alice"
            assert authenticated["data"]["agent_type"] == "claude"
            assert {"read", "write"} <= set(authenticated["data"]["permissions"])
            await ws_call(ws, "subscribe", "sub", session_id=sid)
            assert (await next_event(ws, "subscribed", "error"))["type"] == "subscribed"
            await post(running, alice, sid, "after authenticate")
            assert (await next_event(ws, "new_message"))["data"]["content"] == "after authenticate"


async def test_every_reply_echoes_the_call_id(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        sid = await new_session(running, alice)
        await post(running, alice, sid, "one")
        missing = "session_0123456789abcdef"
        calls: list[tuple[Any, JsonObject, str]] = [
            (1, {"tool": "subscribe", "arguments": {"session_id": sid, "since_id": 0}}, "subscribed"),
            ("two", {"tool": "get_messages", "arguments": {"session_id": sid, "limit": 5}}, "messages"),
            ({"n": 3}, {"tool": "get_session_info", "arguments": {"session_id": sid}}, "session_info"),
            ([4, "x"], {"tool": "unsubscribe", "arguments": {"session_id": sid}}, "unsubscribed"),
            (5.5, {"type": "ping"}, "pong"),
            ("six", {"tool": "authenticate", "arguments": {"token": alice}}, "authenticated"),
            (7, {"tool": "get_session_info", "arguments": {"session_id": missing}}, "error"),
            (8, {"tool": "no_such_tool", "arguments": {}}, "error"),
            (9, {"tool": "get_messages", "arguments": {"session_id": sid, "limit": 0}}, "error"),
        ]
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={alice}") as ws:
            await next_event(ws, "connected")
            for call_id, frame, expected in calls:
                await ws.send_message(json.dumps({**frame, "id": call_id}))
                reply = await next_event(ws, expected, "error")
                assert (reply["type"], reply.get("id")) == (expected, call_id), reply


async def test_session_update_when_a_message_is_added(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        sid = await new_session(running, alice)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={alice}") as ws:
            await next_event(ws, "subscribed")
            await ws_call(ws, "get_session_info", "info", session_id=sid)
            before = (await next_event(ws, "session_info"))["data"]
            await post(running, alice, sid, "activity")
            update = await next_event(ws, "session_update")
    assert update["session_id"] == sid
    session = update["data"]
    keys = {"id", "purpose", "created_by", "created_at", "updated_at", "is_active", "metadata"}
    assert keys <= set(session)
    assert (session["id"], session["purpose"], session["created_by"]) == (sid, "test", "alice")
    assert session["updated_at"] > before["updated_at"]  # same ISO format: compares as time


@pytest.mark.parametrize("other", ["same type", "admin"])
async def test_memory_update_goes_to_its_owner_only(running: Running, other: str) -> None:
    """ "Others' memory is never sent": not to an agent of the same type, not to an admin."""
    with trio.fail_after(30):
        alice = await running.token("alice", "claude")
        if other == "admin":
            bob = await running.token("bob", "claude", admin=True, permissions=["read", "write", "admin"])
        else:
            bob = await running.token("bob", "claude")
        sid = await new_session(running, alice)
        url = f"{running.endpoints.ws_url}/ws/{sid}"
        async with (
            open_websocket_url(f"{url}?token={alice}") as a,
            open_websocket_url(f"{url}?token={bob}") as b,
        ):
            await next_event(a, "subscribed")
            await next_event(b, "subscribed")
            mcp = running.mcp()
            await mcp.call("set_memory", key="plan", value={"step": 1}, session_id=sid, auth_token=alice)
            set_event = await next_event(a, "memory_update")
            await mcp.call("delete_memory", key="plan", session_id=sid, auth_token=alice)
            deleted_event = await next_event(a, "memory_update")
            # Both were published before this message, and each socket gets events in order.
            await post(running, alice, sid, "sentinel")
            seen_by_bob = await _until_message(b, "sentinel")
    assert set_event["session_id"] == sid
    expected = {"action": "set", "agent_id": "alice", "key": "plan", "scope": "session", "session_id": sid}
    assert expected.items() <= set_event["data"].items()
    assert "updated_at" in set_event["data"]
    assert deleted_event["data"]["action"] == "deleted" and deleted_event["data"]["key"] == "plan"
    assert [e for e in seen_by_bob if e["type"] == "memory_update"] == []


async def test_frame_over_64_kib_closes_1009(running: Running) -> None:
    token = await running.token("alice")
    with trio.fail_after(20):
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}") as ws:
            await next_event(ws, "connected")
            ping = json.dumps({"type": "ping", "id": "edge"})
            await ws.send_message(ping + " " * (64 * 1024 - len(ping)))  # exactly 64 KiB: allowed
            assert await next_event(ws, "pong") == {"type": "pong", "id": "edge"}
            await ws.send_message(ping + " " * (64 * 1024 + 1 - len(ping)))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.get_message()
    assert closed.value.reason.code == 1009


async def test_flood_closes_1008_and_other_sockets_carry_on(running: Running) -> None:
    with trio.fail_after(40):
        alice = await running.token("alice")
        sid = await new_session(running, alice)
        async with (
            open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={alice}") as calm,
            open_websocket_url(f"{running.endpoints.ws_url}/ws?token={alice}") as flood,
        ):
            await next_event(calm, "subscribed")
            await next_event(flood, "connected")
            codes: list[int | None] = []

            async def drain() -> None:
                try:
                    while True:
                        await flood.get_message()
                except ConnectionClosed as e:
                    codes.append(e.reason.code)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain)
                with trio.move_on_after(30), contextlib.suppress(ConnectionClosed):
                    while not codes:  # far more than 50 frames/s, until the server has had enough
                        await flood.send_message('{"type": "ping"}')
            assert codes == [1008]
            await calm.send_message(json.dumps({"type": "ping", "id": "still here"}))
            assert await next_event(calm, "pong") == {"type": "pong", "id": "still here"}
            await post(running, alice, sid, "after the flood")
            assert (await next_event(calm, "new_message"))["data"]["content"] == "after the flood"


async def test_restricted_messages_never_reach_those_who_may_not_see_them(running: Running) -> None:
    """Live and replayed: bob (another type) sees public only, carol (same type as alice)
    also agent_only, the admin everything (admins see all)."""
    with trio.fail_after(40):
        alice = await running.token("alice", "claude")
        tokens = {
            "bob": await running.token("bob", "gemini"),
            "carol": await running.token("carol", "claude"),
            "root": await running.token("root", "claude", admin=True, permissions=["read", "write", "admin"]),
        }
        root = tokens["root"]
        sid = await new_session(running, alice)
        sent = [("public", alice), ("private", alice), ("agent_only", alice), ("admin_only", root)]
        visible = {
            "bob": ["public"] * 2,
            "carol": ["public", "agent_only"] * 2,
            "root": ["public", "private", "agent_only", "admin_only"] * 2,
        }

        async def post_all(tag: str) -> None:
            for level, token in sent:
                await post(running, token, sid, f"{tag} {level}", level)
            await post(running, alice, sid, f"{tag} end")

        await post_all("old")
        base = running.endpoints.ws_url
        async with trio.open_nursery() as nursery:
            seen: dict[str, list[JsonObject]] = {}
            subscribed = trio.Semaphore(0)

            async def watch(name: str) -> None:
                async with open_websocket_url(f"{base}/ws?token={tokens[name]}") as ws:
                    await ws_call(ws, "subscribe", session_id=sid, since_id=0)
                    await next_event(ws, "subscribed")
                    subscribed.release()
                    seen[name] = await _until_message(ws, "new end")

            for name in visible:
                nursery.start_soon(watch, name)
            for _ in visible:
                await subscribed.acquire()
            await post_all("new")
    for name, levels in visible.items():
        messages = [e["data"] for e in seen[name] if e["type"] == "new_message"]
        assert [m["visibility"] for m in messages if not m["content"].endswith(" end")] == levels, name


@pytest.mark.parametrize(("which", "status"), [("ui", None), ("foreign", 403), ("ws port", 403)])
async def test_browser_origin(running: Running, which: str, status: int | None) -> None:
    """The UI's own origin (the HTTP server's) is accepted by default; any other is refused."""
    ends = running.endpoints
    origin = {"ui": ends.http_url, "foreign": EVIL, "ws port": ends.ws_url.replace("ws:", "http:")}[which]
    alice = await running.token("alice")
    sid = await new_session(running, alice)
    url = f"{ends.ws_url}/ws/{sid}?token={alice}"
    with trio.fail_after(20):
        if status is None:
            async with open_websocket_url(url, extra_headers=[("Origin", origin)]) as ws:
                assert (await next_event(ws, "subscribed", "error"))["type"] == "subscribed"
            return
        with pytest.raises(ConnectionRejected) as caught:
            async with open_websocket_url(url, extra_headers=[("Origin", origin)]):
                pass
    assert caught.value.status_code == status


async def test_writes_by_another_process_reach_the_daemons_subscriber(running: Running) -> None:
    """`scsd stdio` (same agent id as the subscriber) adds messages and session memory."""
    with trio.fail_after(30):
        token = await running.token("cli-agent", "claude")
        sid = await new_session(running, token)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={token}") as ws:
            await next_event(ws, "subscribed")
            replies = await stdio_client(running, "cli-agent").calls(
                [
                    ("add_message", {"session_id": sid, "content": "first from stdio"}),
                    ("set_memory", {"key": "k", "value": [1, 2], "session_id": sid}),
                    ("add_message", {"session_id": sid, "content": "second from stdio"}),
                ]
            )
            assert all(r.get("success") for r in replies), replies
            events: list[JsonObject] = []
            kinds = {"new_message": 2, "session_update": 1, "memory_update": 1}
            while any(sum(e["type"] == k for e in events) < n for k, n in kinds.items()):
                events.append(await next_event(ws, *kinds))
    messages = [e["data"] for e in events if e["type"] == "new_message"]
    assert [m["id"] for m in messages] == [replies[0]["message_id"], replies[2]["message_id"]]
    assert {e["data"]["id"] for e in events if e["type"] == "session_update"} == {sid}
    memory = next(e["data"] for e in events if e["type"] == "memory_update")
    assert (memory["action"], memory["agent_id"], memory["key"]) == ("set", "cli-agent", "k")


async def test_session_created_by_another_process_is_announced(running: Running) -> None:
    """A session created elsewhere is announced with `session_update` to a socket that
    follows all sessions (`subscribe` to "*"): nobody can have subscribed to it yet."""
    with trio.fail_after(15):
        token = await running.token("watcher")
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}") as ws:
            await next_event(ws, "connected")
            await ws.send_message(json.dumps({"tool": "subscribe", "arguments": {"session_id": "*"}}))
            assert (await next_event(ws, "subscribed"))["session_id"] == "*"
            calls = [("create_session", {"purpose": "elsewhere"})]
            created = (await stdio_client(running, "cli-agent").calls(calls))[0]
            assert created.get("success"), created
            update = await next_event(ws, "session_update")
    assert update["session_id"] == update["data"]["id"] == created["session_id"]
    assert (update["data"]["purpose"], update["data"]["created_by"]) == ("elsewhere", "cli-agent")
