"""scsd.realtime.ws.connection: one socket's protocol, on a real socket pair with a real store
and hub (no listener, no MCP, no daemon): calls, replay and live events, authentication, bad
frames, the hub cutting it off."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream, wrap_server_stream

from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import Authority
from scsd.model import Identity
from scsd.realtime.changes import Change
from scsd.realtime.composing import Gate, TypingSignals
from scsd.realtime.hub import Hub
from scsd.realtime.ws.connection import Connection, ConnectionDeps
from scsd.realtime.ws.limits import SocketQuota, WsConfig
from scsd.realtime.ws.wire import DirectStream
from scsd.store import Store
from tests.kit.clients import next_event
from tests.kit.listener import nursery_store

ALICE = Identity("alice", "claude", frozenset({"read", "write"}))
BOB = Identity("bob", "gemini", frozenset({"read", "write"}))


@dataclass
class Socket:
    """One Connection running on the server end of a socket pair; the test holds the client."""

    client: WebSocketConnection
    store: Store
    hub: Hub
    authority: Authority
    closed: trio.Event

    async def call(self, tool: str, call_id: Any = None, **arguments: Any) -> dict[str, Any]:
        frame: dict[str, Any] = {"tool": tool, "arguments": arguments}
        if call_id is not None:
            frame["id"] = call_id
        await self.client.send_message(json.dumps(frame))
        return await next_event(self.client)


@dataclass
class Harness:
    nursery: trio.Nursery
    store: Store
    hub: Hub
    authority: Authority
    deps: ConnectionDeps

    async def open(self, identity: Identity | None, session_id: str | None = None) -> Socket:
        a, b = socket.socketpair()
        server_stream = DirectStream(trio.SocketStream(trio.socket.from_stdlib_socket(a)))
        client_stream = trio.SocketStream(trio.socket.from_stdlib_socket(b))
        closed = trio.Event()

        async def serve() -> None:
            request = await wrap_server_stream(self.nursery, server_stream)
            ws = await request.accept()
            try:
                await Connection(ws, identity, self.deps).run(session_id)
            except* ConnectionClosed:
                pass
            finally:
                closed.set()

        self.nursery.start_soon(serve)
        client = await wrap_client_stream(self.nursery, client_stream, "127.0.0.1", "/ws")
        return Socket(client, self.store, self.hub, self.authority, closed)


@pytest.fixture
async def harness(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[Harness]:
    store = await nursery_store(nursery, tmp_path)
    hub = Hub(8)
    authority = Authority("a" * 20, "b" * 20, "c" * 32, 3600)
    cfg = WsConfig(auth_seconds=0.5, max_subscriptions_per_socket=2)
    deps = ConnectionDeps(
        hub,
        store,
        Gatekeeper(authority, store.is_revoked),
        TypingSignals(store, Gate()),
        cfg,
        SocketQuota(10),
    )
    yield Harness(nursery, store, hub, authority, deps)


async def test_connected_then_subscribed_at_once_for_a_session_path(harness: Harness) -> None:
    with trio.fail_after(20):
        session = await harness.store.create_session("p", "alice", {})
        first = await harness.store.add_message(session.id, ALICE, "before", "public", {}, None)
        sock = await harness.open(ALICE, session.id)
        connected = await next_event(sock.client)
        assert connected["type"] == "connected"
        assert connected["data"]["agent_id"] == "alice" and connected["data"]["authenticated"] is True
        subscribed = await next_event(sock.client)
        assert subscribed["type"] == "subscribed" and subscribed["session_id"] == session.id
        assert subscribed["data"]["last_id"] == first.id
        assert [w["agent_id"] for w in subscribed["data"]["presence"]["watchers"]] == ["alice"]


async def test_a_replay_then_live_events_without_gaps_or_duplicates(harness: Harness) -> None:
    with trio.fail_after(20):
        session = await harness.store.create_session("p", "alice", {})
        stored = [
            await harness.store.add_message(session.id, ALICE, f"m{n}", level, {}, None)
            for n, level in enumerate(("public", "private", "public", "public"))
        ]
        sock = await harness.open(BOB)
        await next_event(sock.client, "connected")
        reply = await sock.call("subscribe", "s1", session_id=session.id, since_id=stored[0].id)
        assert (reply["type"], reply["id"], reply["data"]["last_id"]) == ("subscribed", "s1", stored[-1].id)
        replayed = [await next_event(sock.client, "new_message") for _ in range(2)]
        assert [e["data"]["id"] for e in replayed] == [
            stored[2].id,
            stored[3].id,
        ]  # alice's private: not bob's
        harness.hub.publish(Change.new_message(stored[3]))  # already replayed: not sent twice
        later = await harness.store.add_message(session.id, ALICE, "live", "public", {}, None)
        harness.hub.publish(Change.new_message(later))
        assert (await next_event(sock.client, "new_message"))["data"]["id"] == later.id


async def test_without_credentials_only_authenticate_and_ping_are_served(harness: Harness) -> None:
    with trio.fail_after(20):
        session = await harness.store.create_session("p", "alice", {})
        sock = await harness.open(None)
        assert (await next_event(sock.client, "connected"))["data"]["authenticated"] is False
        refused = await sock.call("subscribe", 1, session_id=session.id)
        assert (refused["type"], refused["id"], refused["data"]["code"]) == ("error", 1, "AUTH_REQUIRED")
        bad = await sock.call("authenticate", 2, token="not-a-token")
        assert bad["data"]["code"] == "TOKEN_AUTHENTICATION_FAILED"
        good = await sock.call("authenticate", 3, token=harness.authority.issue(BOB).token)
        assert (good["type"], good["id"], good["data"]["agent_id"]) == ("authenticated", 3, "bob")
        assert (await sock.call("subscribe", 4, session_id=session.id))["type"] == "subscribed"


async def test_a_socket_that_never_authenticates_is_closed_with_1008(harness: Harness) -> None:
    with trio.fail_after(20):
        sock = await harness.open(None)
        await next_event(sock.client, "connected")
        with pytest.raises(ConnectionClosed) as closed:
            await sock.client.get_message()
        assert closed.value.reason.code == 1008


async def test_bad_frames_get_error_events_and_the_socket_stays_usable(harness: Harness) -> None:
    with trio.fail_after(20):
        sock = await harness.open(ALICE)
        await next_event(sock.client, "connected")
        for frame, code in (
            ("not json", "INVALID_JSON"),
            ("[1, 2]", "INVALID_JSON"),
            ('{"tool": "launch", "id": 7}', "UNKNOWN_TOOL"),
            ('{"tool": "subscribe", "arguments": [1]}', "INVALID_INPUT"),
            ('{"tool": "subscribe", "arguments": {"session_id": "nope"}}', "INVALID_INPUT"),
            (
                '{"tool": "subscribe", "arguments": {"session_id": "session_0000000000000000"}}',
                "SESSION_NOT_FOUND",
            ),
        ):
            await sock.client.send_message(frame)
            event = await next_event(sock.client)
            assert (event["type"], event["data"]["code"]) == ("error", code), frame
        await sock.client.send_message(json.dumps({"type": "ping", "id": "still here"}))
        assert await next_event(sock.client) == {"type": "pong", "id": "still here"}


async def test_the_subscription_cap_refuses_one_more_session(harness: Harness) -> None:
    with trio.fail_after(20):
        sessions = [await harness.store.create_session("p", "alice", {}) for _ in range(3)]
        sock = await harness.open(ALICE)
        await next_event(sock.client, "connected")
        for session in sessions[:2]:
            assert (await sock.call("subscribe", session_id=session.id))["type"] == "subscribed"
        assert (await sock.call("subscribe", session_id=sessions[2].id))["data"]["code"] == "LIMIT_EXCEEDED"
        await sock.call("unsubscribe", session_id=sessions[0].id)
        assert (await sock.call("subscribe", session_id=sessions[2].id))["type"] == "subscribed"


async def test_typing_and_reads_answer_with_their_reply_events(harness: Harness) -> None:
    with trio.fail_after(20):
        session = await harness.store.create_session("p", "alice", {})
        message = await harness.store.add_message(session.id, ALICE, "hello", "public", {}, None)
        sock = await harness.open(ALICE)
        await next_event(sock.client, "connected")
        typing = await sock.call("typing", "t", session_id=session.id)
        assert (typing["type"], typing["id"], typing["data"]["typing"], typing["data"]["sent"]) == (
            "typing_set", "t", True, True,
        )  # fmt: skip
        read = await sock.call("get_messages", session_id=session.id, since_id=0)
        assert [m["id"] for m in read["data"]["messages"]] == [message.id]
        info = await sock.call("get_session_info", session_id=session.id)
        assert (info["type"], info["data"]["id"]) == ("session_info", session.id)


async def test_a_hub_cut_off_closes_with_4001_and_shutdown_with_1001(harness: Harness) -> None:
    with trio.fail_after(20):
        session = await harness.store.create_session("p", "alice", {})
        message = await harness.store.add_message(session.id, ALICE, "x" * 50_000, "public", {}, None)
        slow = await harness.open(ALICE, session.id)
        await next_event(slow.client, "subscribed")
        for n in range(1, 201):  # the client does not read: the kernel buffers fill, then the queue of 8
            harness.hub.publish(Change.new_message(replace(message, id=message.id + n)))
        received = 0
        with pytest.raises(ConnectionClosed) as resync:
            while True:  # what fitted in the buffers arrives, then the close
                received += (await next_event(slow.client))["type"] == "new_message"
        assert resync.value.reason.code == 4001
        assert 0 < received < 200
        calm = await harness.open(ALICE, session.id)
        await next_event(calm.client, "subscribed")
        harness.hub.close()
        with pytest.raises(ConnectionClosed) as going_away:
            while True:
                await calm.client.get_message()
        assert going_away.value.reason.code == 1001
