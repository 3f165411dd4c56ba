"""The daemon's own share of a fan-out, without the client harness: scsd's WebSocket listener
(ws.serve with a real hub and store, in this process) and N subscribed sockets whose client
process never reads (the frames fit in the socket buffers), so no client competes for the CPU.

    uv run python bench/fanout_server.py [--sockets 1000] [--messages 30]

Per message: hub.publish → every task blocked again (all frames handed to the kernel),
timed with trio.testing.wait_all_tasks_blocked. Baselines, same sockets, same run: the same
event text sent to every socket in turn from one task with trio-websocket (`sequential`,
what bench/bare_ws.py does), and the frame written to every socket with one `os.write` each
in a plain loop (`floor`: the kernel's cost, what no one-threaded server beats). Also the
time the cyclic garbage collector ran meanwhile, per generation (gc.callbacks). Not a SPEC
figure; it says how much of bench/delivery.py's time is the daemon's.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio
import trio.testing
from benchkit import print_table, ratio, write_results

from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import Authority
from scsd.model import Identity, Message
from scsd.process import net
from scsd.realtime.changes import Change
from scsd.realtime.composing import Gate, TypingSignals
from scsd.realtime.hub import Hub
from scsd.realtime.ws import server as ws
from scsd.realtime.ws.limits import WsConfig
from scsd.realtime.ws.wire import text_frame
from scsd.store import open_store

RAW = argparse.RawDescriptionHelpFormatter
QUIET_SECONDS = 0.001


def hold(port: int, sockets: int, target: str) -> None:
    """The client process: open `sockets` subscribed sockets, say "ready", never read again."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import Request, TextMessage

    held = []
    for _ in range(sockets):
        sock = socket.create_connection(("127.0.0.1", port))
        conn = WSConnection(ConnectionType.CLIENT)
        sock.sendall(conn.send(Request(host="127.0.0.1", target=target)))
        text = ""
        while "subscribed" not in text:
            conn.receive_data(sock.recv(65536))
            text += "".join(e.data for e in conn.events() if isinstance(e, TextMessage))
        held.append(sock)
    print("ready", flush=True)
    time.sleep(3600)


def _raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def measure(sockets: int, messages: int) -> dict[str, Any]:
    gc_ms = {0: 0.0, 1: 0.0, 2: 0.0}
    gc_runs = {0: 0, 1: 0, 2: 0}
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            gc_runs[info["generation"]] += 1
            gc_ms[info["generation"]] += (time.perf_counter() - started[0]) * 1000

    with tempfile.TemporaryDirectory(prefix="scsd-fanout-") as tmp:
        async with open_store(Path(tmp) / "t.db") as store, trio.open_nursery() as nursery:
            hub = Hub(256)
            authority = Authority("a" * 20, "b" * 20, "c" * 32, 3600)
            token = authority.issue(Identity("bench", "claude", frozenset({"read"}))).token
            stats, stop = ws.WsStats(), trio.Event()
            cfg = WsConfig(ping_interval_seconds=3600)  # the client never answers pings
            sock = net.bind("127.0.0.1", 0, "WebSocket", "")
            gatekeeper, typing = Gatekeeper(authority, store.is_revoked), TypingSignals(store, Gate())
            port = await nursery.start(ws.serve, hub, store, gatekeeper, typing, cfg, sock, stop.wait, stats)
            session = await store.create_session("fan-out", "bench", {})
            target = f"/ws/{session.id}?token={token}"
            argv = [sys.executable, __file__, "--hold", str(port), str(sockets), target]
            client = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE)
            try:
                assert client.stdout is not None
                await client.stdout.receive_some(16)  # "ready": every socket was subscribed
                gc.callbacks.append(on_gc)
                fan, sequential, floor = [], [], []
                for n in range(1, messages + 2):
                    message = Message(n, session.id, "bench", "claude", "bench message", "public",
                                      "agent_response", {}, time.time_ns() // 1000, None)  # fmt: skip
                    change = Change.new_message(message)
                    await trio.testing.wait_all_tasks_blocked(QUIET_SECONDS)
                    t0 = time.perf_counter()
                    hub.publish(change)
                    await trio.testing.wait_all_tasks_blocked(QUIET_SECONDS)
                    t1 = time.perf_counter()
                    for peer in list(stats.live):
                        await peer.send_message(change.event_json())
                    t2 = time.perf_counter()
                    frame = text_frame(change.event_json())
                    for fd in [peer._stream._inner.socket.fileno() for peer in stats.live]:
                        os.write(fd, frame)  # the frames fit: the client process never reads
                    t3 = time.perf_counter()
                    if n > 1:  # the first is a warm-up
                        fan.append((t1 - t0 - QUIET_SECONDS) * 1000)
                        sequential.append((t2 - t1) * 1000)
                        floor.append((t3 - t2) * 1000)
                gc.callbacks.remove(on_gc)
            finally:
                client.kill()
                stop.set()
                nursery.cancel_scope.cancel()
    return {
        "fanout_ms": statistics.median(fan),
        "sequential_ms": statistics.median(sequential),
        "floor_ms": statistics.median(floor),
        "gc_runs": gc_runs,
        "gc_ms_per_message": {g: ms / (messages + 1) for g, ms in gc_ms.items()},
        "fanout_runs_ms": fan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    parser.add_argument("--sockets", type=int, default=1000, help="subscribed sockets (default 1,000)")
    parser.add_argument("--messages", type=int, default=30, help="messages (default 30)")
    parser.add_argument("--hold", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _raise_nofile()
    if args.hold:
        hold(int(args.hold[0]), int(args.hold[1]), args.hold[2])
        return
    r = trio.run(measure, args.sockets, args.messages)
    gc_ms = r["gc_ms_per_message"]
    print_table(
        ["sockets", "scsd fan-out ms", "sequential ms", "floor ms", "x floor", "gc ms/message (gen 0/1/2)"],
        [[args.sockets, r["fanout_ms"], r["sequential_ms"], r["floor_ms"],
          ratio(r["fanout_ms"], r["floor_ms"]), f"{gc_ms[0]:.0f}/{gc_ms[1]:.0f}/{gc_ms[2]:.0f}"]],
    )  # fmt: skip
    print("wrote", write_results(f"fanout_server_{args.sockets}", vars(args), r))


if __name__ == "__main__":
    main()
