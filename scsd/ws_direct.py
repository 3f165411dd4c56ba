"""Writing a WebSocket frame to a subscriber's socket synchronously, inside `Hub.publish`:
the fan-out's hot path (SPEC §8: one message to 10,000 sockets in ≤ 0.5 s).

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

import trio


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
