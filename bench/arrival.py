"""Delivery latency by the kernel's clock (SPEC §8): a message written through the daemon
(add_message over MCP) → the moment its `new_message` frame reached each subscriber's
socket, for 1, 100, 1,000 and 10,000 subscribers on one session.

    uv run python bench/arrival.py                         # 1, 100 and 1,000 subscribers
    uv run python bench/arrival.py --subscribers 10000 --messages 5
    uv run python bench/arrival.py --subscribers 1000 --before /tmp/before   # A/B, same run

bench/delivery.py times arrivals with trio-websocket clients in its own process, so its
figures include that client reading 1,000 sockets one after another (~50 ms: the bare
server's figure there). Here the subscribers are bench/rawfleet.py, a separate process whose
arrival times come from SO_TIMESTAMPNS: when the frame reached the socket, however late the
client read it. Latency is from the message's `timestamp` (set when the daemon accepted the
write); `call` adds the MCP round trip, from the client's call start.

Baselines, same run, same fleet: `bare`, a trio-websocket broadcast server (bench/bare_ws.py:
no database, MCP or visibility, one `send_message` per socket), and `floor`, the same server
writing each frame with one `os.write` per socket (`--direct`): the kernel's cost per socket
on this machine, which no one-threaded server can beat.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio
from benchkit import (
    BENCH,
    bench_tokens,
    create_session,
    mcp_session,
    median_of,
    print_table,
    raise_nofile,
    ratio,
    spawn_bare,
    spawn_daemon,
    summary_ms,
    write_results,
)
from delivery import RAW, Writer, bare_writer, mcp_writer
from trio_websocket import open_websocket_url

LINE_SECONDS = 60.0
GAP_PER_SUBSCRIBER = 20e-6  # pause after each message, per subscriber (0.22 s at 10,000)


class Fleet:
    """A bench/rawfleet.py process: its arrival report for each message id, by line."""

    def __init__(self, proc: trio.Process) -> None:
        assert proc.stdout is not None
        self._out = proc.stdout
        self._buffer = b""

    async def line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = await self._out.receive_some(1 << 20)
            if not chunk:
                raise RuntimeError("rawfleet.py exited (see its stderr)")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    async def report(self, message_id: int) -> dict[str, Any]:
        with trio.fail_after(LINE_SECONDS):
            while True:
                report: dict[str, Any] = json.loads(await self.line())
                if report["id"] == message_id:
                    return report


@asynccontextmanager
async def open_fleet(port: int, size: int, targets: Sequence[str]) -> AsyncIterator[Fleet]:
    argv = [sys.executable, str(BENCH / "rawfleet.py"), str(port), str(size), *targets]
    proc = await trio.lowlevel.open_process(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        fleet = Fleet(proc)
        with trio.fail_after(max(60.0, size / 50)):
            assert await fleet.line() == b"ready"
        yield fleet
    finally:
        proc.kill()
        await proc.wait()


async def measure_run(fleet: Fleet, write: Writer, messages: int, gap: float) -> dict[str, float]:
    """`messages` writes, one at a time, each awaited until every subscriber has it, then
    `gap` seconds of quiet."""
    kernel: list[float] = []
    read: list[float] = []
    call: list[float] = []
    to_all: list[float] = []
    first: list[float] = []
    frames = late = 0
    for _ in range(messages):
        started = time.time()
        report = await fleet.report(await write())
        stamp = report["stamp"]
        kernel += [t - stamp for t in report["kernel"]]
        read += [t - stamp for t in report["read"]]
        call += [t - started for t in report["kernel"]]
        to_all.append(max(report["kernel"]) - stamp)
        first.append(min(report["kernel"]) - stamp)
        frames += len(report["kernel"])
        late += report["late"]
        await trio.sleep(gap)
    k, r, c = summary_ms(kernel), summary_ms(read), summary_ms(call)
    return {
        "p50_ms": k["p50"], "p99_ms": k["p99"], "max_ms": k["max"],
        "call_p50_ms": c["p50"], "call_p99_ms": c["p99"],
        "to_all_p50_ms": statistics.median(to_all) * 1000, "first_p50_ms": statistics.median(first) * 1000,
        "read_p50_ms": r["p50"], "read_p99_ms": r["p99"],
        "late_fraction": late / frames,
    }  # fmt: skip


async def measure(
    fleets: dict[str, tuple[Fleet, Writer]], size: int, messages: int, runs: int
) -> dict[str, Any]:
    """Per target, `runs` runs of `messages` messages; the targets' runs interleaved, so that
    what the machine does meanwhile falls on all of them alike."""
    # Each message alone: scsd also sends every subscriber a `session_update` after each
    # message, and a message written while that second fan-out runs would wait for it.
    gap = 0.02 + size * GAP_PER_SUBSCRIBER
    for fleet, write in fleets.values():
        await measure_run(fleet, write, 1, gap)  # warm-up
    per_run: dict[str, list[dict[str, float]]] = {name: [] for name in fleets}
    for _ in range(runs):
        for name, (fleet, write) in fleets.items():
            per_run[name].append(await measure_run(fleet, write, messages, gap))
    return {name: {"median": median_of(rows), "runs": rows} for name, rows in per_run.items()}


@asynccontextmanager
async def scsd_under_test(
    count: int, tree: str | None = None
) -> AsyncIterator[tuple[int, list[str], Writer]]:
    """A daemon (of this tree, or of the checkout `tree`: an A/B in one run), its WebSocket
    port, `count` subscriber targets on one session, and a writer of messages into it."""
    env = None if tree is None else {"PYTHONPATH": tree}  # an absolute path (main)
    async with spawn_daemon(env=env) as daemon:
        tokens = bench_tokens(daemon.data_dir, count)
        session_id = await create_session(daemon.mcp_url, tokens[0])
        async with mcp_session(daemon.mcp_url, tokens[0]) as mcp:
            yield daemon.ws_port, [f"/ws/{session_id}?token={t}" for t in tokens], mcp_writer(mcp, session_id)


async def run(counts: Sequence[int], messages: int, runs: int, before: str | None) -> dict[str, Any]:
    raise_nofile(max(counts) * (4 if before else 3) + 2000)
    results: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        daemons = {"scsd": await stack.enter_async_context(scsd_under_test(max(counts)))}
        if before is not None:
            daemons["before"] = await stack.enter_async_context(scsd_under_test(max(counts), before))
        bare = await stack.enter_async_context(spawn_bare())
        floor = await stack.enter_async_context(spawn_bare(direct=True))
        fire = await stack.enter_async_context(open_websocket_url(f"{bare.ws_url}/fire"))
        fire_floor = await stack.enter_async_context(open_websocket_url(f"{floor.ws_url}/fire"))
        targets = {name: (port, paths, write) for name, (port, paths, write) in daemons.items()}
        targets["bare"] = (bare.port, ["/ws/bare"], bare_writer(fire))
        targets["floor"] = (floor.port, ["/ws/bare"], bare_writer(fire_floor))
        for n in counts:
            async with contextlib.AsyncExitStack() as fleets_open:
                fleets = {
                    name: (await fleets_open.enter_async_context(open_fleet(port, n, paths)), write)
                    for name, (port, paths, write) in targets.items()
                }
                row = await measure(fleets, n, messages, runs)
            results[str(n)] = {"messages_per_run": messages, **row}
            print(f"  {n}: " + "  ".join(f"{k} {v['median']}" for k, v in row.items()), flush=True)
    return results


def table(results: dict[str, Any]) -> None:
    rows = []
    for n, r in results.items():
        s, b, f = r["scsd"]["median"], r["bare"]["median"], r["floor"]["median"]
        rows.append([int(n), s["p50_ms"], s["p99_ms"], s["to_all_p50_ms"], s["call_p50_ms"], s["read_p50_ms"],
                     s["late_fraction"], b["p50_ms"], b["p99_ms"], b["to_all_p50_ms"],
                     f["p50_ms"], f["p99_ms"], f["to_all_p50_ms"], ratio(s["p50_ms"], f["p50_ms"]),
                     ratio(s["to_all_p50_ms"], f["to_all_p50_ms"])])  # fmt: skip
    header = ("subs p50 p99 all call_p50 read_p50 late bare_p50 bare_p99 bare_all "
              "floor_p50 floor_p99 floor_all x_floor_p50 x_floor_all")  # fmt: skip
    print_table(header.split(), rows)
    before = []
    for n, r in results.items():
        if "before" in r:
            s, b = r["scsd"]["median"], r["before"]["median"]
            before.append([int(n), b["p50_ms"], b["p99_ms"], b["to_all_p50_ms"],
                           ratio(s["p50_ms"], b["p50_ms"]), ratio(s["p99_ms"], b["p99_ms"])])  # fmt: skip
    if before:
        print_table(
            ["subs", "before_p50", "before_p99", "before_all", "x_before_p50", "x_before_p99"], before
        )
    print("(ms, from the message's timestamp to the kernel's arrival stamp; medians over runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    parser.add_argument("--subscribers", default="1,100,1000", help="counts (default 1,100,1000)")
    parser.add_argument("--messages", type=int, default=30, help="messages per run (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (default 3)")
    parser.add_argument("--before", metavar="TREE", help="another scsd checkout to measure in the same run")
    args = parser.parse_args()
    if args.before:
        args.before = os.path.abspath(args.before)
    counts = [int(c) for c in args.subscribers.split(",") if c]
    results = trio.run(run, counts, args.messages, args.runs, args.before)
    table(results)
    name = "arrival" if args.subscribers == "1,100,1000" else f"arrival_{args.subscribers.replace(',', '_')}"
    print("wrote", write_results(name, vars(args), results))


if __name__ == "__main__":
    main()
