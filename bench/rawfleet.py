"""A subscriber fleet that times arrivals by the kernel's clock, not its own: N raw WebSocket
sockets in one process, each frame's arrival taken from SO_TIMESTAMPNS (when the frame's last
packet reached the socket), so how fast this client reads does not enter the figure.

    python bench/rawfleet.py PORT SOCKETS TARGET [TARGET ...]     # run by bench/arrival.py

Socket i opens TARGET[i % len] (e.g. `/ws/SESSION?token=...`), waits for `subscribed`, and
gets SO_TIMESTAMPNS. Then "ready" on stdout; for every `new_message` id that reached all
open sockets, one JSON line: `{"id", "stamp", "kernel": [s...], "read": [s...], "late": n,
"unstamped": n}`:
arrival times (epoch seconds) by the kernel's stamp and by this process's clock when it read
the frame, how many frames had more bytes queued behind them when read, and how many frames
so far came without a kernel stamp (should be none). Queued frames are the
only ones whose stamp may be late: TCP merges queued packets and keeps the newest stamp, so
a merged stamp can only overstate the latency, never understate it.

Frames are read one at a time, exactly (header peeked, then exactly the frame), so one
frame's stamp is never another's. Pings are answered; everything else is skipped.
"""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import struct
import sys
import time
from collections import defaultdict
from typing import Any

from benchkit import raise_nofile

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; SCM_TIMESTAMPNS is the same
ANCILLARY = socket.CMSG_SPACE(16)
PEEK_ALL = socket.MSG_PEEK | socket.MSG_WAITALL
NEW_MESSAGE = b'{"type": "new_message"'


def handshake(port: int, target: str) -> socket.socket:
    """Open `target` with a hand-written upgrade request; read the response exactly (to the
    blank line), then frames until `subscribed`."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += sock.recv(1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"handshake refused: {head[:200]!r}")
    while True:
        opcode, payload, _, _ = read_frame(sock)
        if opcode == 1 and json.loads(payload).get("type") == "subscribed":
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            return sock


def read_frame(sock: socket.socket) -> tuple[int, bytes, float | None, bool]:
    """One whole server frame: (opcode, payload, kernel arrival time or None, whether more
    bytes were already queued behind it)."""
    head = sock.recv(2, PEEK_ALL)
    if len(head) < 2:
        raise ConnectionError("closed")
    n, offset = head[1] & 0x7F, 2
    if n == 126:
        (n,), offset = struct.unpack("!H", sock.recv(4, PEEK_ALL)[2:4]), 4
    elif n == 127:
        (n,), offset = struct.unpack("!Q", sock.recv(10, PEEK_ALL)[2:10]), 10
    data, ancillary, _, _ = sock.recvmsg(offset + n, ANCILLARY, socket.MSG_WAITALL)
    if len(data) < offset + n:
        raise ConnectionError("closed mid-frame")
    arrived = None
    for level, kind, cdata in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanos = struct.unpack("qq", cdata[:16])
            arrived = seconds + nanos / 1e9
    try:
        more = bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        more = False
    return head[0] & 0x0F, data[offset:], arrived, more


def pong(payload: bytes) -> bytes:
    """A client's pong frame (masked, with a zero mask: the payload stays as it is)."""
    return bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload


def stamp_of(event: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(event["data"]["timestamp"].replace("Z", "+00:00")).timestamp()


def serve(port: int, count: int, targets: list[str]) -> None:
    raise_nofile(count + 100)
    sockets = {}
    for i in range(count):
        sock = handshake(port, targets[i % len(targets)])
        sockets[sock.fileno()] = sock
    poller = select.epoll()
    for fd in sockets:
        poller.register(fd, select.EPOLLIN)
    print("ready", flush=True)
    kernel: dict[int, list[float]] = defaultdict(list)
    read: dict[int, list[float]] = defaultdict(list)
    late: dict[int, int] = defaultdict(int)
    unstamped = 0  # frames without a kernel stamp (then this process's clock is used)
    stamps: dict[int, float] = {}
    while sockets:
        for fd, _ in poller.poll():
            sock = sockets[fd]
            try:
                while True:
                    opcode, payload, arrived, more = read_frame(sock)
                    now = time.time()
                    if opcode == 9:
                        sock.sendall(pong(payload))
                    elif opcode == 8:
                        raise ConnectionError("close frame")
                    elif opcode == 1 and payload.startswith(NEW_MESSAGE):
                        event = json.loads(payload)
                        message_id = event["data"]["id"]
                        stamps.setdefault(message_id, stamp_of(event))
                        kernel[message_id].append(arrived if arrived is not None else now)
                        unstamped += arrived is None
                        read[message_id].append(now)
                        late[message_id] += more
                        if len(kernel[message_id]) == len(sockets):
                            line = {"id": message_id, "stamp": stamps.pop(message_id),
                                    "kernel": kernel.pop(message_id), "read": read.pop(message_id),
                                    "late": late.pop(message_id, 0), "unstamped": unstamped}  # fmt: skip
                            print(json.dumps(line), flush=True)
                    if not more:
                        break
            except (ConnectionError, OSError):
                poller.unregister(fd)
                del sockets[fd]
                sock.close()


def main() -> None:
    port, count, *targets = sys.argv[1:]
    if not targets:
        sys.exit(__doc__)
    serve(int(port), int(count), targets)


if __name__ == "__main__":
    main()
