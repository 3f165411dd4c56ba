"""Reads while a writer runs at full speed: `get_messages(since_id)` over MCP, idle and with
one client calling `add_message` back to back (SPEC §8: busy at most 1.3 times idle).

    uv run python bench/read_under_write.py [--reads 200] [--runs 5]
    uv run python bench/read_under_write.py --before /tmp/before   # A/B: another tree, same run

The reader asks for the 20 newest messages of a 2,000-message session, one call at a time;
"idle" and "busy" runs alternate, so the machine's other load falls on both alike. The
figure that matters is the ratio busy/idle, per tree.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import trio
from benchkit import create_session, median_of, print_table, ratio, rpc_session, spawn_daemon, write_results

RAW = argparse.RawDescriptionHelpFormatter
HISTORY = 2_000


@contextlib.asynccontextmanager
async def daemon_with_history(tree: str | None) -> AsyncIterator[tuple[str, dict[str, str], str, int]]:
    """A daemon (of this tree, or of `tree`) with a session of HISTORY messages: its MCP URL,
    headers, the session id and the newest id."""
    env = None if tree is None else {"PYTHONPATH": tree}  # an absolute path (main)
    async with spawn_daemon(env=env) as daemon:
        token = daemon.token("bench")
        headers = {"Authorization": f"Bearer {token}"}
        sid = await create_session(daemon.mcp_url, token)
        last = 0
        async with rpc_session(daemon.mcp_url, headers) as rpc:
            for n in range(HISTORY):
                last = int(
                    (await rpc.call("add_message", session_id=sid, content=f"history {n}"))["message_id"]
                )
        yield daemon.mcp_url, headers, sid, last


async def read_latencies(url: str, headers: dict[str, str], sid: str, since: int, reads: int) -> list[float]:
    latencies: list[float] = []
    async with rpc_session(url, headers) as rpc:
        for _ in range(reads):
            started = time.perf_counter()
            reply = await rpc.call("get_messages", session_id=sid, since_id=since, limit=20)
            latencies.append(time.perf_counter() - started)
            assert reply["success"], reply
    return latencies


async def measure(
    url: str, headers: dict[str, str], sid: str, last: int, reads: int, busy: bool
) -> dict[str, float]:
    stop = trio.Event()
    written = 0

    async def writer() -> None:
        nonlocal written
        async with rpc_session(url, headers) as rpc:
            while not stop.is_set():
                await rpc.call("add_message", session_id=sid, content="busy writer")
                written += 1

    async with trio.open_nursery() as nursery:
        if busy:
            nursery.start_soon(writer)
            await trio.sleep(0.5)  # the writer at full speed before the reads begin
        started = time.perf_counter()
        latencies = await read_latencies(url, headers, sid, last - 20, reads)
        elapsed = time.perf_counter() - started
        stop.set()
    ms = sorted(x * 1000 for x in latencies)
    return {
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))],
        "writes_per_s": written / elapsed if busy else 0.0,
    }


async def run(reads: int, runs: int, before: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        trees = {"scsd": await stack.enter_async_context(daemon_with_history(None))}
        if before is not None:
            trees["before"] = await stack.enter_async_context(daemon_with_history(before))
        per_run: dict[str, dict[str, list[dict[str, float]]]] = {n: {"idle": [], "busy": []} for n in trees}
        for url, headers, sid, last in trees.values():  # warm-up
            await read_latencies(url, headers, sid, last - 20, 20)
        for _ in range(runs):
            for name, (url, headers, sid, last) in trees.items():
                for phase in ("idle", "busy"):
                    per_run[name][phase].append(
                        await measure(url, headers, sid, last, reads, phase == "busy")
                    )
        for name, phases in per_run.items():
            results[name] = {
                phase: {"median": median_of(rows), "runs": rows} for phase, rows in phases.items()
            }
    return results


def table(results: dict[str, Any]) -> None:
    rows = []
    for name, r in results.items():
        idle, busy = r["idle"]["median"], r["busy"]["median"]
        rows.append([name, idle["p50_ms"], idle["p99_ms"], busy["p50_ms"], busy["p99_ms"],
                     busy["writes_per_s"], ratio(busy["p50_ms"], idle["p50_ms"]),
                     ratio(busy["p99_ms"], idle["p99_ms"])])  # fmt: skip
    print_table(["tree", "idle p50", "idle p99", "busy p50", "busy p99", "writes/s", "x p50", "x p99"], rows)
    print(
        "(ms per get_messages call over MCP; medians over runs; busy: one add_message client at full speed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    parser.add_argument("--reads", type=int, default=200, help="reads per measurement (default 200)")
    parser.add_argument("--runs", type=int, default=5, help="runs (default 5)")
    parser.add_argument("--before", metavar="TREE", help="another scsd checkout to measure in the same run")
    args = parser.parse_args()
    if args.before:
        args.before = os.path.abspath(args.before)
    results = trio.run(run, args.reads, args.runs, args.before)
    table(results)
    print("wrote", write_results("read_under_write", vars(args), results))


if __name__ == "__main__":
    main()
