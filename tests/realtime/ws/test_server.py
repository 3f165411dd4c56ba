"""The WebSocket listener against a real daemon: auth at the handshake, visibility, protocol."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url
from wsproto import ConnectionType, WSConnection
from wsproto.events import Request, TextMessage

from scsd.realtime.changes import Change
from scsd.realtime.ws.limits import WsConfig
from tests.kit.clients import next_event, raw_drain, raw_open
from tests.kit.daemon import Running, new_session
from tests.kit.listener import message_change, serve_listener


async def test_private_message_never_reaches_another_agents_socket(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        sid = await new_session(running, alice)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={bob}") as ws:
            await next_event(ws, "subscribed")
            mcp = running.mcp()
            for content, level in (
                ("alice only", "private"),
                ("claudes only", "agent_only"),
                ("everyone", "public"),
            ):
                await mcp.call(
                    "add_message", session_id=sid, content=content, visibility=level, auth_token=alice
                )
            event = await next_event(ws, "new_message")
    # Ids are delivered in order, so the public message arriving first proves the others
    # were withheld rather than late.
    assert event["data"]["content"] == "everyone"


async def test_sender_sees_own_private_message(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        sid = await new_session(running, alice)
        async with open_websocket_url(
            f"{running.endpoints.ws_url}/ws/{sid}", extra_headers=[("Authorization", f"Bearer {alice}")]
        ) as ws:
            await next_event(ws, "subscribed")
            await running.mcp().call(
                "add_message", session_id=sid, content="note to self", visibility="private", auth_token=alice
            )
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
        async with open_websocket_url(
            f"{running.endpoints.ws_url}/ws?token={token}", extra_headers=[("Origin", "http://evil.example")]
        ):
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
        sid = await new_session(running, alice)
        other = await new_session(running, alice)
        first = await mcp.call("add_message", session_id=sid, content="m1", auth_token=alice)
        await mcp.call("add_message", session_id=sid, content="m2", auth_token=alice)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={alice}") as ws:
            await next_event(ws, "connected")
            await ws.send_message(
                json.dumps(
                    {
                        "tool": "subscribe",
                        "id": 7,
                        "arguments": {"session_id": sid, "since_id": first["message_id"]},
                    }
                )
            )
            subscribed = await next_event(ws)
            assert subscribed["type"] == "subscribed" and subscribed["id"] == 7
            replayed = await next_event(ws, "new_message")
            assert replayed["data"]["content"] == "m2"
            await ws.send_message(json.dumps({"tool": "subscribe", "arguments": {"session_id": other}}))
            await next_event(ws, "subscribed")
            await mcp.call("add_message", session_id=other, content="elsewhere", auth_token=alice)
            await mcp.call("add_message", session_id=sid, content="m3", auth_token=alice)
            live = [await next_event(ws, "new_message"), await next_event(ws, "new_message")]
    assert [(e["session_id"], e["data"]["content"]) for e in live] == [(other, "elsewhere"), (sid, "m3")]


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


async def test_server_heartbeat_pings(nursery: trio.Nursery, tmp_path: Path) -> None:
    direct = await serve_listener(nursery, tmp_path, WsConfig(ping_interval_seconds=0.05))
    with trio.fail_after(10):
        async with open_websocket_url(f"ws://127.0.0.1:{direct.port}/ws?token={direct.token()}") as c:
            await next_event(c, "connected")
            assert await next_event(c, "ping") == {"type": "ping"}
            assert await next_event(c, "ping") == {"type": "ping"}  # pong was answered: still open


async def test_slow_consumer_is_cut_off_with_4001(nursery: trio.Nursery, tmp_path: Path) -> None:
    """Once a subscriber's socket buffers are full, further changes queue in its hub buffer;
    a burst bigger than that closes the socket with 4001 ("resync") while a fresh subscriber
    keeps receiving; publish() never blocks. (Frames the kernel takes at once never queue:
    a burst a fast reader's socket absorbs is not slow.)"""
    direct = await serve_listener(nursery, tmp_path, WsConfig(), buffer=4)
    session = await direct.store.create_session("p", "alice", {})
    target = f"/ws/{session.id}?token={direct.token()}"
    with trio.fail_after(20):
        stream, conn = await raw_open(direct.port, target)  # a tiny receive buffer
        for n in range(1, 21):  # 20 MB, no checkpoint in between: far beyond the buffers
            change = message_change(session.id, n)
            assert change.message is not None
            big = dataclasses.replace(change.message, content="x" * 1_000_000)
            direct.hub.publish(Change("new_message", session.id, big))
        ids, code = await raw_drain(stream, conn)
        assert code == 4001
        assert ids == list(range(1, len(ids) + 1)) and len(ids) < 20  # what fitted, in order
        assert direct.hub.statistics().dropped == 1
        url = f"ws://127.0.0.1:{direct.port}{target}"
        async with open_websocket_url(url) as fresh:
            await next_event(fresh, "subscribed")
            direct.hub.publish(message_change(session.id, 21))
            assert (await next_event(fresh, "new_message"))["data"]["id"] == 21


async def test_peer_that_stops_reading_is_cut_off_after_the_send_timeout(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """Once a silent peer's TCP buffers are full our send blocks; the listener's heartbeat
    cuts the connection off after send_timeout_seconds, though its hub buffer still has room
    (so not the 4001 "too slow" path), and the subscription is gone."""
    direct = await serve_listener(nursery, tmp_path, WsConfig(send_timeout_seconds=0.3), buffer=1000)
    session = await direct.store.create_session("p", "alice", {})
    with trio.fail_after(20):
        sock = trio.socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await sock.connect(("127.0.0.1", direct.port))
        stream = trio.SocketStream(sock)
        client = WSConnection(ConnectionType.CLIENT)
        target = f"/ws/{session.id}?token={direct.token()}"
        await stream.send_all(client.send(Request(host="127.0.0.1", target=target)))
        subscribed = False
        while not subscribed:  # read up to "subscribed", then never again
            client.receive_data(await stream.receive_some(65536))
            subscribed = any(isinstance(e, TextMessage) and "subscribed" in e.data for e in client.events())
        for n in range(1, 200):  # ~12 MB: far more than the socket buffers hold
            change = message_change(session.id, n)
            assert change.message is not None
            big = dataclasses.replace(change.message, content="x" * 60_000)
            direct.hub.publish(Change("new_message", session.id, big))
        for _ in range(1_000):  # the fail_after above bounds it in time
            if not direct.hub.statistics().subscribers:
                break
            await trio.sleep(0.02)
        else:
            raise AssertionError("the silent peer was never cut off")
        assert direct.hub.statistics().dropped == 0
        await stream.aclose()


async def test_heartbeat_survives_connections_ending_between_ticks(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """The heartbeat ticks every 10 ms while 150 sockets end at once: a connection
    whose nursery is closing is skipped (a ping started there would raise in the heartbeat
    task and take the listener down), and new sockets are still accepted."""
    direct = await serve_listener(nursery, tmp_path, WsConfig(ping_interval_seconds=0.01))
    session = await direct.store.create_session("p", "alice", {})
    url = f"ws://127.0.0.1:{direct.port}/ws/{session.id}?token={direct.token()}"

    async def hold(opened: trio.Semaphore, close: trio.Event) -> None:
        async with open_websocket_url(url) as sock:
            await next_event(sock, "subscribed")
            opened.release()
            await close.wait()

    sockets = 150
    with trio.fail_after(60):
        for _ in range(3):
            opened, close = trio.Semaphore(0), trio.Event()
            async with trio.open_nursery() as clients:
                for _ in range(sockets):
                    clients.start_soon(hold, opened, close)
                for _ in range(sockets):
                    await opened.acquire()
                close.set()
        async with open_websocket_url(url) as sock:
            await next_event(sock, "subscribed")


async def test_per_identity_socket_and_subscription_limits(nursery: trio.Nursery, tmp_path: Path) -> None:
    cfg = WsConfig(max_sockets_per_identity=1, max_subscriptions_per_socket=1)
    direct = await serve_listener(nursery, tmp_path, cfg)
    a = await direct.store.create_session("a", "alice", {})
    b = await direct.store.create_session("b", "alice", {})
    url = f"ws://127.0.0.1:{direct.port}/ws?token={direct.token()}"
    with trio.fail_after(10):
        async with open_websocket_url(url) as first:
            await next_event(first, "connected")
            with pytest.raises(ConnectionRejected) as caught:
                async with open_websocket_url(url):
                    pass
            assert caught.value.status_code == 429
            async with open_websocket_url(f"ws://127.0.0.1:{direct.port}/ws?token={direct.token('bob')}"):
                pass  # another identity has its own quota
            await first.send_message(json.dumps({"tool": "subscribe", "arguments": {"session_id": a.id}}))
            await next_event(first, "subscribed")
            await first.send_message(json.dumps({"tool": "subscribe", "arguments": {"session_id": b.id}}))
            assert (await next_event(first, "error"))["data"]["code"] == "LIMIT_EXCEEDED"
        for _ in range(200):  # the server releases the quota as it finishes the closed socket
            try:
                async with open_websocket_url(url) as again:
                    await next_event(again, "connected")
                    break
            except ConnectionRejected:
                await trio.sleep(0.01)
        else:
            raise AssertionError("the quota was never released")
