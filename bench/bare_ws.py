"""Baseline for the delivery benchmarks: a bare trio-websocket broadcast server, no database,
no MCP, no visibility rules.

    uv run python bench/bare_ws.py            # prints its port, serves until killed

Subscribers connect on `/ws/ANYTHING` and get `{"type": "subscribed"}`. A client on `/fire`
sends any frame; the server stamps the time, builds one `new_message` event shaped like
scsd's (same fields, same content) and sends the same text to every subscriber in turn, then
answers the firing client with the id. What scsd adds on top of this floor is its own cost.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

CONTENT = "bench message"


class Broadcaster:
    def __init__(self) -> None:
        self.subscribers: set[WebSocketConnection] = set()
        self.next_id = 0

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


async def serve() -> None:
    broadcaster = Broadcaster()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, broadcaster.handle, "127.0.0.1", 0, None)
        print(server.port, flush=True)


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    try:
        trio.run(serve)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
