"""scsd.ws_send.send_text against a real trio-websocket connection: the same frames as
send_message, the usual path while the stream lock is held, ConnectionClosed once closed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)

from scsd.realtime.ws.wire import send_text


@pytest.fixture
async def pair(nursery: trio.Nursery) -> AsyncIterator[tuple[WebSocketConnection, WebSocketConnection]]:
    """(server side, client side) of one loopback WebSocket connection."""
    accepted: list[WebSocketConnection] = []
    ready = trio.Event()

    async def handler(request: WebSocketRequest) -> None:
        accepted.append(await request.accept())
        ready.set()
        await trio.sleep_forever()

    server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
    async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as client:
        await ready.wait()
        yield accepted[0], client


async def test_frames_arrive_in_order_on_both_paths(
    pair: tuple[WebSocketConnection, WebSocketConnection],
) -> None:
    server, client = pair
    with trio.fail_after(10):
        await send_text(server, "one ✓")  # the lock is free: taken without a checkpoint
        assert await client.get_message() == "one ✓"
        async with trio.open_nursery() as nursery:
            await server._stream_lock.acquire()  # as if a pong were being written
            nursery.start_soon(send_text, server, "two")  # so it waits in send_message
            await trio.testing.wait_all_tasks_blocked()
            server._stream_lock.release()
        await send_text(server, "three")
        assert [await client.get_message() for _ in range(2)] == ["two", "three"]


async def test_closed_connection_raises_connection_closed(
    pair: tuple[WebSocketConnection, WebSocketConnection],
) -> None:
    server, client = pair
    with trio.fail_after(10):
        await client.aclose()
        with pytest.raises(ConnectionClosed):
            for _ in range(100):  # the server learns of the close when its reader sees it
                await send_text(server, "too late")
                await trio.sleep(0.01)
