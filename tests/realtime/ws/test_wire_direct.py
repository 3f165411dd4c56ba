"""scsd.ws_direct: frames written straight from the publisher, on real loopback sockets.

The frame bytes equal wsproto's; a write the kernel takes only part of leaves the rest owed,
and whatever is written next writes it first; a closed stream never gets a stray write. End
to end: a subscriber that reads slowly while it also makes calls gets every message and every
reply, whole and in order.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import AsyncIterator

import pytest
import trio
from wsproto.events import CloseConnection, TextMessage
from wsproto.frame_protocol import FrameProtocol

from scsd.realtime.ws.wire import DirectStream, text_frame
from tests.kit.clients import add_call, raw_open
from tests.kit.daemon import Running


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_text_frame_is_what_wsproto_sends(size: int) -> None:
    text = ("é✓x" * size)[:size]
    expected = FrameProtocol(client=False, extensions=[]).send_data(text, fin=True)
    assert text_frame(text) == bytes(expected)


@pytest.fixture
async def tcp_pair(nursery: trio.Nursery) -> AsyncIterator[tuple[DirectStream, trio.SocketStream]]:
    """(server side as a DirectStream, client side with a tiny receive buffer) on loopback."""
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    client_sock = trio.socket.socket()
    client_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await client_sock.connect(("127.0.0.1", port))
    server = DirectStream(await listener.accept())
    client = trio.SocketStream(client_sock)
    yield server, client
    await server.aclose()
    await client.aclose()
    await listener.aclose()


async def _read_exactly(stream: trio.SocketStream, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = await stream.receive_some(1 << 20)
        assert chunk, f"stream ended after {len(data)} of {n} bytes"
        data += chunk
    return bytes(data)


async def test_what_the_kernel_does_not_take_is_owed_and_written_first(
    tcp_pair: tuple[DirectStream, trio.SocketStream],
) -> None:
    server, client = tcp_pair
    with trio.fail_after(20):
        assert server.write_nowait(b"small") is True
        assert server.idle
        big = bytes(range(256)) * 40_000  # 10 MB: more than both sockets' buffers hold
        assert server.write_nowait(big) is False  # only part of it went
        assert not server.idle
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.send_all, b"after")  # must wait for the rest of `big`
            received = await _read_exactly(client, len(b"small") + len(big) + len(b"after"))
        assert received == b"small" + big + b"after"
        assert server.idle


async def test_flush_finishes_an_owed_write_alone(tcp_pair: tuple[DirectStream, trio.SocketStream]) -> None:
    server, client = tcp_pair
    with trio.fail_after(20):
        big = b"z" * 10_000_000
        assert server.write_nowait(big) is False
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.flush)
            assert await _read_exactly(client, len(big)) == big
        assert server.idle


async def test_a_closed_stream_is_never_written_and_its_flush_raises(
    tcp_pair: tuple[DirectStream, trio.SocketStream],
) -> None:
    server, _ = tcp_pair
    await server.aclose()
    assert server.write_nowait(b"lost") is False  # owed, not written to a stale descriptor
    with pytest.raises(trio.ClosedResourceError):
        await server.flush()


async def test_a_peer_that_reset_makes_the_flush_raise(
    tcp_pair: tuple[DirectStream, trio.SocketStream],
) -> None:
    server, client = tcp_pair
    client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await client.aclose()  # linger 0: a reset
    await trio.sleep(0.05)
    with pytest.raises(trio.BrokenResourceError):
        for _ in range(100):  # the first writes may still be accepted before the reset lands
            if not server.write_nowait(b"x" * 1000):
                await server.flush()
            await trio.sleep(0.001)


async def test_slow_reader_gets_every_message_and_reply_whole_and_in_order(running: Running) -> None:
    """The socket's tiny receive buffer fills with 40 messages of 30 KB while it is not read,
    so the publisher's direct writes are partial and owed; the client's pings are answered
    meanwhile. Then it reads: all 40, once each, in order, and all 5 pongs, all frames whole."""
    with trio.fail_after(60):
        alice = await running.token("alice", "claude")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="slow", auth_token=alice))["session_id"]
        stream, conn = await raw_open(running.endpoints.ws_port, f"/ws/{sid}?token={alice}")
        replies = await mcp.calls([add_call(alice, sid, f"{n} " + "y" * 30_000) for n in range(40)])
        posted = [r["message_id"] for r in replies]
        for n in range(5):
            await stream.send_all(conn.send(TextMessage(json.dumps({"type": "ping", "id": n}))))
        done = await mcp.call("add_message", session_id=sid, content="DONE", auth_token=alice)
        posted.append(done["message_id"])
        ids: list[int] = []
        pongs: list[int] = []
        contents: list[str] = []
        text = ""
        while not ids or ids[-1] != posted[-1]:
            data = await stream.receive_some(1 << 16)
            assert data, "the server closed the stream"
            conn.receive_data(data)
            for event in conn.events():
                assert not isinstance(event, CloseConnection), event
                if isinstance(event, TextMessage):
                    text += event.data
                    if event.message_finished:
                        parsed = json.loads(text)
                        text = ""
                        if parsed["type"] == "new_message":
                            ids.append(parsed["data"]["id"])
                            contents.append(parsed["data"]["content"])
                        elif parsed["type"] == "pong":
                            pongs.append(parsed["id"])
        assert ids == posted
        assert contents == [f"{n} " + "y" * 30_000 for n in range(40)] + ["DONE"]
        assert pongs == [0, 1, 2, 3, 4]
        await stream.aclose()
