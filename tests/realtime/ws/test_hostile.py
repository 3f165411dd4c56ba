"""Hostile WebSocket clients against a real daemon: malformed UTF-8, deep JSON nesting,
10,000 subscriptions on one socket, floods, and thousands of sockets from one identity. The
daemon stays healthy, answers with clear codes, and other clients never notice."""

from __future__ import annotations

import functools
import json
import os
import resource
import secrets
import socket
import struct
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request

from scsd import assemble
from scsd.realtime.ws import server as ws
from scsd.realtime.ws.limits import WsConfig
from tests.kit.clients import next_event
from tests.kit.daemon import Running


async def health(running: Running) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{running.endpoints.http_url}/health")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def fresh_socket_works(running: Running, token: str) -> None:
    async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}") as fresh:
        await next_event(fresh, "connected")
        await fresh.send_message(json.dumps({"type": "ping", "id": "fresh"}))
        assert await next_event(fresh, "pong") == {"type": "pong", "id": "fresh"}


def subscribe(sid: str, call_id: int) -> str:
    return json.dumps({"tool": "subscribe", "arguments": {"session_id": sid}, "id": call_id})


def unknown_sid() -> str:
    return f"session_{secrets.token_hex(8)}"


async def test_malformed_utf8_text_frame_closes_1007(running: Running) -> None:
    token = await running.token("mallory")
    with trio.fail_after(20):
        stream = await trio.open_tcp_stream("127.0.0.1", running.endpoints.ws_port)
        client = WSConnection(ConnectionType.CLIENT)
        await stream.send_all(client.send(Request(host="127.0.0.1", target=f"/ws?token={token}")))
        events: list[Any] = []
        while not any(isinstance(e, AcceptConnection) for e in events):
            client.receive_data(await stream.receive_some())
            events += list(client.events())
        # wsproto will not encode invalid UTF-8, so build the masked text frame by hand.
        payload, mask = b'{"type": "ping", "x": "\xff\xfe\xc3\x28"}', os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        await stream.send_all(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        closes: list[CloseConnection] = []
        while not closes:
            data = await stream.receive_some()
            client.receive_data(data or None)
            closes += [e for e in client.events() if isinstance(e, CloseConnection)]
        await stream.aclose()
        # The server's wsproto reports 1007 (invalid payload) to trio-websocket, which then
        # drops the TCP connection without a close frame: the client sees 1006. Either way the
        # frame was never handed to the daemon and the connection is gone.
        assert closes[0].code in (1006, 1007)
        await health(running)
        await fresh_socket_works(running, token)


async def test_deep_json_nesting_is_an_error_event_not_a_dead_socket(running: Running) -> None:
    token = await running.token("mallory")
    frames = ["[" * 60_000, '{"tool": "subscribe", "arguments": {"session_id": ' + "[" * 60_000 + "}"]
    outcomes: list[Any] = []
    with trio.fail_after(20):
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}") as sock:
            await next_event(sock, "connected")
            for n, frame in enumerate(frames):
                assert len(frame.encode()) < ws.MAX_FRAME_BYTES
                try:
                    await sock.send_message(frame)
                    await sock.send_message(json.dumps({"type": "ping", "id": n}))
                    outcomes.append((await next_event(sock, "error", "pong"))["data"]["code"])
                    outcomes.append(await next_event(sock, "pong"))
                except ConnectionClosed as e:
                    outcomes.append(e.reason.code)
                    break
        await health(running)
        await fresh_socket_works(running, token)
    # SPEC §6: a frame that is not (usable) JSON gets an error event and the socket stays usable.
    assert outcomes == [
        "INVALID_JSON", {"type": "pong", "id": 0}, "INVALID_JSON", {"type": "pong", "id": 1}
    ]  # fmt: skip


async def test_unpaced_subscription_flood_is_closed_1008(running: Running) -> None:
    token = await running.token("mallory")
    replies: list[dict[str, Any]] = []
    codes: list[int | None] = []
    with trio.fail_after(30):
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}") as sock:
            await next_event(sock, "connected")

            async def drain() -> None:
                try:
                    while True:
                        replies.append(json.loads(await sock.get_message()))
                except ConnectionClosed as e:
                    codes.append(e.reason.code)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain)
                for i in range(10_000):
                    try:
                        await sock.send_message(subscribe(unknown_sid(), i))
                    except ConnectionClosed:
                        break
        await health(running)
        await fresh_socket_works(running, token)
    assert codes == [1008]
    # The burst (200 frames) was answered, each with a clear error; the rest never ran.
    errors = [r["data"]["code"] for r in replies if r["type"] == "error"]
    assert 200 <= len(errors) < 10_000 and set(errors) == {"SESSION_NOT_FOUND"}


async def test_paced_subscriptions_within_the_frame_budget_keep_the_socket(running: Running) -> None:
    """The documented budget: a burst of 200, then 50 frames/s. A client under it is served."""
    token = await running.token("patient")
    with trio.fail_after(30):
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}") as sock:
            await next_event(sock, "connected")
            start = trio.current_time()
            for n in range(190 + 40 * 3):  # the burst, then 3 s at 40 frames/s
                await trio.sleep_until(start + max(0, n - 190) / 40)
                await sock.send_message(subscribe(unknown_sid(), n))
                error = await next_event(sock, "error")
                assert (error["id"], error["data"]["code"]) == (n, "SESSION_NOT_FOUND")
            await sock.send_message(json.dumps({"type": "ping", "id": "alive"}))
            assert await next_event(sock, "pong") == {"type": "pong", "id": "alive"}


@pytest.fixture
def unthrottled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon's frame budget raised, so 10,000 calls need not take 200 s at 50/s; every
    other limit keeps its documented default."""
    monkeypatch.setattr(
        assemble, "WsConfig", functools.partial(WsConfig, frames_per_second=1e6, frame_burst=1e6)
    )


async def test_ten_thousand_subscriptions_on_one_socket(unthrottled: None, running: Running) -> None:
    token = await running.token("hoarder")
    limit = running.config.max_subscriptions_per_socket
    assert limit == 1_000  # the documented default
    with trio.fail_after(60):
        created = await running.mcp().calls(
            [("create_session", {"purpose": f"s{i}", "auth_token": token}) for i in range(limit + 1)]
        )
        real = [str(r["session_id"]) for r in created]
        unknown = [unknown_sid() for _ in range(10_000 - len(real) - 1)]
        calls = [*unknown, *real, unknown_sid()]
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}") as sock:
            await next_event(sock, "connected")
            outcomes: list[str] = []

            async def send_all() -> None:
                for n, sid in enumerate(calls):
                    await sock.send_message(subscribe(sid, n))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send_all)
                while len(outcomes) < len(calls):
                    event = await next_event(sock, "subscribed", "error")
                    assert event["id"] == len(outcomes)
                    outcomes.append(event["data"].get("code", event["type"]))
            assert (
                outcomes
                == ["SESSION_NOT_FOUND"] * len(unknown) + ["subscribed"] * limit + ["LIMIT_EXCEEDED"] * 2
            )
            # Still a working socket: one slot freed is one subscription allowed, and events flow.
            await sock.send_message(json.dumps({"tool": "unsubscribe", "arguments": {"session_id": real[0]}}))
            await next_event(sock, "unsubscribed")
            await sock.send_message(subscribe(real[-1], -1))
            assert (await next_event(sock, "subscribed", "error"))["type"] == "subscribed"
            await running.mcp().call(
                "add_message", session_id=real[-1], content="still live", auth_token=token
            )
            assert (await next_event(sock, "new_message"))["data"]["content"] == "still live"
        assert (await health(running))["status"] == "ok"


class Opened:
    def __init__(self, expected: int) -> None:
        self.count, self.expected, self.all = 0, expected, trio.Event()

    def add(self) -> None:
        self.count += 1
        if self.count == self.expected:
            self.all.set()


async def _hold(url: str, handshakes: trio.Semaphore, opened: Opened, release: trio.Event) -> None:
    """One client socket: open it (a few handshakes at a time), then keep it until released."""
    await handshakes.acquire()
    async with open_websocket_url(url) as sock:
        try:
            await next_event(sock, "connected")
            opened.add()
        finally:
            handshakes.release()
        await release.wait()


async def test_two_thousand_sockets_from_one_identity(running: Running) -> None:
    sockets = 2_000  # under the default per-identity limit of 10,000, so all are accepted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * sockets + 500  # both ends live in this process
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
        if min(need, hard) < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {need}")
    token = await running.token("swarm")
    url = f"{running.endpoints.ws_url}/ws?token={token}"
    opened = Opened(sockets)
    release = trio.Event()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            handshakes = trio.Semaphore(50)
            for _ in range(sockets):
                nursery.start_soon(_hold, url, handshakes, opened, release)
            await opened.all.wait()
            assert (await health(running))["websocket"]["connections"] == sockets
            await fresh_socket_works(running, token)  # one more is still welcome
            release.set()
        for _ in range(1_000):  # the server finishes each closed socket in its own time
            if (await health(running))["websocket"]["connections"] == 0:
                break
            await trio.sleep(0.05)
        else:
            raise AssertionError("the daemon still counts sockets that were closed")
        await fresh_socket_works(running, token)


@pytest.mark.parametrize("credentials", ["token", "none", "bad token"])
async def test_peers_that_reset_during_the_handshake_never_take_the_listener_down(
    running: Running, credentials: str
) -> None:
    """A browser that gives up mid-handshake (seen with Chromium over WSS) resets the TCP
    connection while the daemon checks the token: accepting (or rejecting) then fails. That
    must end that connection only; the listener keeps serving."""
    with trio.fail_after(60):
        token = await running.token("alice")
        query = {"token": f"?token={token}", "none": "", "bad token": "?token=forged"}[credentials]
        host, port = running.endpoints.ws_host, running.endpoints.ws_port
        for _ in range(30):
            stream = await trio.open_tcp_stream(host, port)
            client = WSConnection(ConnectionType.CLIENT)
            await stream.send_all(client.send(Request(host=f"{host}:{port}", target=f"/ws{query}")))
            # SO_LINGER 0: close() sends RST, so the daemon's reply meets a reset connection.
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            stream.socket.close()
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={token}") as ws:
            assert (await next_event(ws, "connected"))["data"]["agent_id"] == "alice"
        health = await trio.to_thread.run_sync(httpx.get, f"{running.endpoints.http_url}/health")
        assert health.status_code == 200, health.text
