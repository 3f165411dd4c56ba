"""The kernel's cost of a fan-out on this machine, without scsd: one small frame written with
`os.write` to each of N loopback TCP sockets (TCP_NODELAY, as trio sets it), from one thread,
and split between two threads (os.write releases the GIL: can a second core help?).

    uv run python bench/write_floor.py [--sockets 1000] [--rounds 40]

Both ends live in this process; the readers drain their buffers every ten rounds and never
wait on the sockets, so no reader wake-up is counted. Medians over rounds, in ms.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import statistics
import time
from collections.abc import Sequence
from typing import Any

from benchkit import print_table, raise_nofile, ratio, write_results

from scsd.realtime.ws.wire import text_frame

FRAME = text_frame('{"type": "new_message", "data": {"content": "' + "x" * 360 + '"}}')


def connect_pairs(count: int) -> tuple[list[socket.socket], list[socket.socket]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    readers, writers = [], []
    for _ in range(count):
        reader = socket.create_connection(listener.getsockname())
        writer, _ = listener.accept()
        writer.setblocking(False)
        writer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader.setblocking(False)
        readers.append(reader)
        writers.append(writer)
    listener.close()
    return readers, writers


def write_all(fds: Sequence[int]) -> None:
    for fd in fds:
        os.write(fd, FRAME)


def drain(readers: Sequence[socket.socket]) -> None:
    for reader in readers:
        try:
            while reader.recv(1 << 20):
                pass
        except BlockingIOError:
            pass


def measure(count: int, rounds: int) -> dict[str, Any]:
    readers, writers = connect_pairs(count)
    fds = [w.fileno() for w in writers]
    half = count // 2
    one, two = [], []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        for n in range(rounds):
            t0 = time.perf_counter()
            write_all(fds)
            t1 = time.perf_counter()
            other = pool.submit(write_all, fds[:half])
            write_all(fds[half:])
            other.result()
            t2 = time.perf_counter()
            one.append((t1 - t0) * 1000)
            two.append((t2 - t1) * 1000)
            if n % 10 == 9:
                drain(readers)
    for s in readers + writers:
        s.close()
    return {"one_thread_ms": statistics.median(one), "two_threads_ms": statistics.median(two),
            "one_runs_ms": one, "two_runs_ms": two}  # fmt: skip


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--sockets", type=int, default=1000, help="socket pairs (default 1,000)")
    parser.add_argument("--rounds", type=int, default=40, help="rounds (default 40)")
    args = parser.parse_args()
    raise_nofile(2 * args.sockets + 100)
    r = measure(args.sockets, args.rounds)
    print_table(
        ["sockets", "one thread ms", "two threads ms", "µs/socket (one)", "two/one"],
        [[args.sockets, r["one_thread_ms"], r["two_threads_ms"], r["one_thread_ms"] * 1000 / args.sockets,
          ratio(r["two_threads_ms"], r["one_thread_ms"])]],
    )  # fmt: skip
    print("wrote", write_results(f"write_floor_{args.sockets}", vars(args), r))


if __name__ == "__main__":
    main()
