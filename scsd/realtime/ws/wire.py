"""The WebSocket wire: the only module that knows frame bytes or trio-websocket's internals.

It writes a frame to a subscriber's socket synchronously, inside `Hub.publish`: the
fan-out's hot path (SPEC §8: one message to 10,000 sockets in ≤ 0.5 s).

Waking one task per subscriber, each yielding to the scheduler around its send, cost more
than the sends themselves (docs/performance.md). Instead a plain-TCP WebSocket's stream is
a `DirectStream`: when nothing else is being written to it, the publisher hands the kernel
the frame (encoded once per event, `text_frame`) with one non-blocking `write`. Whatever the
kernel does not take (a peer that reads slowly) is *owed*: the next `send_all` on the stream,
by anyone, writes it first, so frames never interleave. TLS streams are not direct: their
bytes go through the TLS object, so their frames take the task path as before.
"""

from __future__ import annotations

import os
import struct
from typing import Final

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection
from wsproto.events import TextMessage

CLOSE_GOING_AWAY: Final = 1001
CLOSE_POLICY: Final = 1008
CLOSE_RESYNC: Final = 4001  # too slow: reconnect and resume from the last id


def text_frame(text: str) -> bytes:
    """`text` as one final, unmasked WebSocket text frame: what wsproto's server side sends
    for `TextMessage(text)` without extensions (trio-websocket's server negotiates none)."""
    payload = text.encode("utf-8")
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload


class DirectStream(trio.abc.HalfCloseableStream):
    """A `trio.SocketStream` that can also be written synchronously (`write_nowait`)."""

    __slots__ = ("_busy", "_fd", "_inner", "_owed")

    def __init__(self, inner: trio.SocketStream) -> None:
        self._inner = inner
        # The descriptor, until `aclose` (the only way the socket closes: nothing else holds
        # `inner`); -1 then, so a stale number that may be reused is never written to.
        self._fd = inner.socket.fileno()
        self._owed = b""  # bytes accepted by write_nowait that the kernel did not take yet
        self._busy = False  # a send_all is writing (trio-websocket's lock serializes those)

    @property
    def idle(self) -> bool:
        """No write in progress and nothing owed: a frame written now goes out whole and in
        order."""
        return not self._busy and not self._owed

    def write_nowait(self, frame: bytes) -> bool:
        """Hand `frame` to the kernel without blocking; only when `idle`. True: all of it went.
        False: the rest is owed and someone must `flush()` (or `send_all`) to finish it; a
        broken or closed socket also says False, and the flush then raises as trio would."""
        if self._busy or self._owed:
            raise RuntimeError("write_nowait while another write is in progress")
        if self._fd < 0:  # closed
            self._owed = frame
            return False
        try:
            written = os.write(self._fd, frame)
        except OSError:  # BlockingIOError (buffer full), or a broken connection
            written = 0
        if written == len(frame):
            return True
        self._owed = frame[written:]
        return False

    async def flush(self) -> None:
        """Write what is owed (the caller holds the connection's stream lock)."""
        await self.send_all(b"")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._owed:
            data, self._owed = self._owed + bytes(data), b""
        if not data:
            await trio.lowlevel.checkpoint()
            return
        self._busy = True
        try:
            await self._inner.send_all(data)
        finally:
            self._busy = False

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._inner.send_eof()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        self._fd = -1
        await self._inner.aclose()

    def __repr__(self) -> str:
        try:
            host, port = self._inner.socket.getpeername()[:2]
        except OSError:
            return "client (gone)"
        return f"client {host}:{port}"


class DirectListener(trio.abc.Listener[trio.abc.Stream]):
    """Accepts plain TCP connections as `DirectStream`s."""

    def __init__(self, inner: trio.SocketListener) -> None:
        self._inner = inner

    async def accept(self) -> trio.abc.Stream:
        return DirectStream(await self._inner.accept())

    async def aclose(self) -> None:
        await self._inner.aclose()


def direct_stream(ws: WebSocketConnection) -> DirectStream | None:
    """The connection's `DirectStream`, if it was accepted by a `DirectListener` (plain TCP)."""
    stream = ws._stream
    return stream if isinstance(stream, DirectStream) else None


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
