"""Sending a text frame on a trio-websocket connection without a needless trip through the
scheduler: the fan-out's hot path (SPEC §8 delivery to 1,000 subscribers)."""

from __future__ import annotations

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection
from wsproto.events import TextMessage

from scsd.ws_direct import DirectStream


async def send_text(ws: WebSocketConnection, text: str) -> None:
    """Exactly `ws.send_message(text)`, but a free stream lock is taken without a checkpoint.

    trio-websocket's `_send` takes its stream lock with `async with`, which yields to the
    scheduler even when the lock is free. A message for 1,000 subscribers wakes 1,000 tasks,
    so that yield is a whole round over all of them before the first byte goes out (the
    first subscriber's frame left ~4x later; docs/performance.md). When the lock is free we
    take it at once and do what `_send` does; otherwise (a pong or close being written) we
    wait in `send_message` as usual. This reads trio-websocket 0.12.2's internals, which
    pyproject.toml pins exactly; every WebSocket test goes through here.

    Raises:
        ConnectionClosed: the connection is closed or closing, or the stream broke.
    """
    lock = ws._stream_lock
    if lock.locked():
        await ws.send_message(text)
        return
    if ws._close_reason:
        raise ConnectionClosed(ws._close_reason)
    data = ws._wsproto.send(TextMessage(data=text))
    lock.acquire_nowait()
    try:
        await ws._stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        await ws._abort_web_socket()
        raise ConnectionClosed(ws._close_reason) from None
    finally:
        lock.release()


async def flush_owed(ws: WebSocketConnection, stream: DirectStream) -> None:
    """Write what `stream` owes (a direct write the kernel took only part of), under
    trio-websocket's stream lock like every other write.

    Raises:
        ConnectionClosed: the stream broke or was closed meanwhile.
    """
    async with ws._stream_lock:
        try:
            await stream.flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await ws._abort_web_socket()
            raise ConnectionClosed(ws._close_reason) from None
