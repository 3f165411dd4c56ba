"""Baseline for the delivery benchmarks: a bare trio-websocket broadcast server, no database,
no MCP, no visibility rules.

    uv run python bench/bare_ws.py            # prints its port, serves until killed
    uv run python bench/bare_ws.py --direct   # the same, writing frames as scsd's direct path

Subscribers connect on `/ws/ANYTHING` and get `{"type": "subscribed"}`. A client on `/fire`
sends any frame; the server stamps the time, builds one `new_message` event shaped like
scsd's (same fields, same content) and sends the same text to every subscriber in turn, then
answers the firing client with the id. What scsd adds on top of this floor is its own cost.

With `--direct` it encodes the frame once and hands it to each socket's kernel buffer with one
`os.write` in a loop, no task switch (what scsd.ws_direct does for an idle socket): the floor
of any one-threaded Python server, i.e. the kernel's cost per socket on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from scsd.realtime.ws.wire import text_frame

CONTENT = "bench message"


class Broadcaster:
    def __init__(self, direct: bool) -> None:
        self.subscribers: set[WebSocketConnection] = set()
        self.next_id = 0
        self.direct = direct

    def event(self) -> str:
        self.next_id += 1
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        data = {"id": self.next_id, "session_id": "session_bare", "sender": "bench", "sender_type": "claude",
                "content": CONTENT, "visibility": "public", "message_type": "agent_response", "metadata": {},
                "timestamp": stamp, "parent_message_id": None}  # fmt: skip
        return json.dumps({"type": "new_message", "session_id": "session_bare", "data": data})

    async def handle(self, request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            if request.path.startswith("/fire"):
                while True:
                    await ws.get_message()
                    text = self.event()
                    if self.direct:
                        await self.write_all(text_frame(text))
                        await ws.send_message(str(self.next_id))
                        continue
                    for sub in list(self.subscribers):
                        try:
                            await sub.send_message(text)
                        except ConnectionClosed:
                            self.subscribers.discard(sub)
                    await ws.send_message(str(self.next_id))
            else:
                await ws.send_message(json.dumps({"type": "subscribed"}))
                self.subscribers.add(ws)
                while True:
                    await ws.get_message()
        except ConnectionClosed:
            self.subscribers.discard(ws)

    async def write_all(self, frame: bytes) -> None:
        for sub in list(self.subscribers):
            stream = sub._stream
            assert isinstance(stream, trio.SocketStream)
            try:
                written = os.write(stream.socket.fileno(), frame)
            except BlockingIOError:
                written = 0
            except OSError:
                self.subscribers.discard(sub)
                continue
            if written < len(frame):  # a full buffer: the rest the usual way (rare here)
                await stream.send_all(frame[written:])


async def serve(direct: bool) -> None:
    broadcaster = Broadcaster(direct)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, broadcaster.handle, "127.0.0.1", 0, None)
        print(server.port, flush=True)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--direct", action="store_true", help="os.write each frame (the floor)")
    args = parser.parse_args()
    try:
        trio.run(serve, args.direct)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
