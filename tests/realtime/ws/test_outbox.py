"""scsd.realtime.ws.outbox: what one socket is sent, on a real socket pair (no listener, no
daemon): visibility, each message at most once, the all-sessions feed, the direct path."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import trio
from trio_websocket import WebSocketConnection, wrap_client_stream, wrap_server_stream

from scsd.model import Identity, Session
from scsd.realtime.changes import Change, MemoryChange
from scsd.realtime.hub import ALL_SESSIONS
from scsd.realtime.ws.outbox import Outbox
from scsd.realtime.ws.wire import DirectStream
from tests.kit.listener import message_change

S1, S2 = "session_" + "1" * 16, "session_" + "2" * 16
ALICE = Identity("alice", "claude", frozenset({"read", "write"}))
BOB = Identity("bob", "gemini", frozenset({"read", "write"}))
ADMIN = Identity("root", "admin", frozenset({"read", "write", "admin"}))


@dataclass
class Pair:
    server: WebSocketConnection  # its stream is a DirectStream, as the listener accepts them
    client: WebSocketConnection
    nursery: trio.Nursery

    async def received(self) -> list[dict[str, Any]]:
        """Everything the client got up to a sentinel the server sends now (sent while the
        client reads: a frame bigger than the socket buffers needs a reader to finish)."""
        got: list[dict[str, Any]] = []
        with trio.fail_after(10):
            async with trio.open_nursery() as sending:
                sending.start_soon(self.server.send_message, json.dumps({"type": "sentinel"}))
                while (event := json.loads(await self.client.get_message()))["type"] != "sentinel":
                    got.append(event)
        return got


@pytest.fixture
async def pair(nursery: trio.Nursery) -> AsyncIterator[Pair]:
    a, b = socket.socketpair()
    server_stream = DirectStream(trio.SocketStream(trio.socket.from_stdlib_socket(a)))
    client_stream = trio.SocketStream(trio.socket.from_stdlib_socket(b))
    accepted: list[WebSocketConnection] = []

    async def accept() -> None:
        request = await wrap_server_stream(nursery, server_stream)
        accepted.append(await request.accept())

    with trio.fail_after(10):
        async with trio.open_nursery() as handshake:
            handshake.start_soon(accept)
            client = await wrap_client_stream(nursery, client_stream, "127.0.0.1", "/ws")
    yield Pair(accepted[0], client, nursery)


def _session(sid: str) -> Change:
    return Change.session_update(Session(sid, "p", "alice", 1, 2, True, {}))


async def test_a_socket_gets_only_the_messages_its_identity_may_see(pair: Pair) -> None:
    for viewer, expected in ((BOB, [1, 3]), (ALICE, [1, 2, 3]), (ADMIN, [1, 2, 3, 4])):
        out = Outbox(pair.server, viewer, 5.0)
        out.last_sent[S1] = 0
        for change in (
            message_change(S1, 1),
            message_change(S1, 2, visibility="private"),  # alice's own
            message_change(S1, 3, sender="carol"),
            message_change(S1, 4, visibility="admin_only"),
        ):
            await out.deliver(change)
        assert [e["data"]["id"] for e in await pair.received()] == expected, viewer


async def test_each_message_goes_out_at_most_once_and_in_order(pair: Pair) -> None:
    out = Outbox(pair.server, ALICE, 5.0)
    out.last_sent[S1] = 5  # a replay sent up to 5 already
    for n in (4, 5, 6, 6, 7):
        await out.deliver(message_change(S1, n))
    assert [e["data"]["id"] for e in await pair.received()] == [6, 7]
    assert out.last_sent[S1] == 7


async def test_unfollowed_sessions_send_nothing_but_the_all_sessions_feed_gets_updates(pair: Pair) -> None:
    out = Outbox(pair.server, ALICE, 5.0)
    out.last_sent[S1] = 0
    await out.deliver(message_change(S2, 1))  # S2 is not followed
    await out.deliver(_session(S2))
    assert await pair.received() == []
    out.last_sent[ALL_SESSIONS] = 0
    await out.deliver(_session(S2))
    await out.deliver(message_change(S2, 2))  # the feed carries session updates only
    assert [(e["type"], e["session_id"]) for e in await pair.received()] == [("session_update", S2)]


async def test_memory_updates_reach_only_the_memorys_owner_not_even_admins(pair: Pair) -> None:
    change = Change.memory_update(MemoryChange("set", "alice", "k", S1, 1))
    for viewer, count in ((ALICE, 1), (BOB, 0), (ADMIN, 0)):
        out = Outbox(pair.server, viewer, 5.0)
        out.last_sent[S1] = 0
        await out.deliver(change)
        assert len(await pair.received()) == count, viewer


async def test_an_unauthenticated_socket_gets_no_changes(pair: Pair) -> None:
    out = Outbox(pair.server, None, 5.0)
    out.last_sent[S1] = 0
    await out.deliver(message_change(S1, 1))
    assert out.offer(message_change(S1, 2)) is False  # not attached: no direct path
    assert await pair.received() == []


async def test_offer_writes_the_frame_in_the_callers_task_when_the_socket_is_free(pair: Pair) -> None:
    out = Outbox(pair.server, ALICE, 5.0)
    out.last_sent[S1] = 0
    out.attach(pair.nursery)
    assert out.offer(message_change(S1, 1)) is True  # written synchronously: no checkpoint
    assert out.offer(message_change(S1, 1)) is True  # taken, but a duplicate: not sent again
    assert out.offer(message_change(S1, 2, sender="carol", visibility="private")) is True  # not for alice
    await out.lock.acquire()  # a reply (or a replay) is being written: the direct path steps aside
    try:
        assert out.offer(message_change(S1, 3)) is False
    finally:
        out.lock.release()
    await out.deliver(message_change(S1, 3))  # ... and the queued path sends it
    big = message_change(S1, 4)
    assert big.message is not None
    assert out.offer(replace(big, message=replace(big.message, content="x" * 900_000))) is True
    # More than the kernel takes at once: the rest is owed and flushed by a task; frames
    # never interleave, so the sentinel below arrives after the whole of it.
    assert [e["data"]["id"] for e in await pair.received()] == [1, 3, 4]
