"""Delivery latency: a message written through the daemon (add_message over MCP Streamable
HTTP, i.e. an in-process write of the daemon) → its `new_message` at WebSocket subscribers.

    uv run python bench/delivery.py                      # 1, 100 and 1,000 subscribers
    uv run python bench/delivery.py --fanout 10000       # and 10,000 (time to reach all)

Latency is measured two ways for every (message, subscriber): from the message's
`timestamp` (set by the daemon inside the write transaction, i.e. when it accepted the write)
to the frame's arrival, and from the client's call start (adds the MCP round trip). Also the
time for one message to reach *all* subscribers. SPEC §8: p50 ≤ 2 ms, p99 ≤ 10 ms from the
timestamp with 1,000 subscribers; 10,000 reached in ≤ 0.5 s.

Baseline, measured in the same run with the same client harness: bench/bare_ws.py, a bare
trio-websocket server broadcasting one pre-built event of the same shape to every socket (no
database, no MCP, no visibility). The ratio scsd/bare is what scsd adds. Both servers run as
their own processes; the subscribers all live in this process (on a 2-core machine the
client's own frame handling is part of both figures, hence the baseline).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio
from benchkit import (
    Fleet,
    bench_tokens,
    create_session,
    mcp_session,
    median_of,
    open_fleet,
    print_table,
    raise_nofile,
    ratio,
    session_urls,
    spawn_bare,
    spawn_daemon,
    summary_ms,
    write_results,
)
from trio_websocket import WebSocketConnection, open_websocket_url

RAW = argparse.RawDescriptionHelpFormatter
Writer = Callable[[], Awaitable[int]]
MESSAGE_TIMEOUT_SECONDS = 60.0


async def measure_run(fleet: Fleet, write: Writer, messages: int, gap: float = 0.01) -> dict[str, float]:
    """`messages` writes, one at a time, each awaited until every subscriber has it.
    Latency percentiles in ms over all (message, subscriber) pairs, and per message the
    time to reach all subscribers (median and max over messages)."""
    from_stamp: list[float] = []
    from_call: list[float] = []
    to_all: list[float] = []
    first: list[float] = []
    for _ in range(messages):
        started = time.time()
        message_id = await write()
        with trio.fail_after(MESSAGE_TIMEOUT_SECONDS):
            await fleet.complete[message_id].wait()
        arrivals = fleet.arrivals.pop(message_id)
        stamp = fleet.stamped.pop(message_id)
        del fleet.complete[message_id]
        from_stamp += [a - stamp for a in arrivals]
        from_call += [a - started for a in arrivals]
        to_all.append(max(arrivals) - stamp)
        first.append(min(arrivals) - stamp)
        await trio.sleep(gap)
    stamp_ms, call_ms = summary_ms(from_stamp), summary_ms(from_call)
    return {
        "p50_ms": stamp_ms["p50"],
        "p99_ms": stamp_ms["p99"],
        "max_ms": stamp_ms["max"],
        "call_p50_ms": call_ms["p50"],
        "call_p99_ms": call_ms["p99"],
        "to_all_p50_ms": statistics.median(to_all) * 1000,
        "to_all_max_ms": max(to_all) * 1000,
        "first_p50_ms": statistics.median(first) * 1000,
    }


async def measure_system(
    urls: Sequence[str], write: Writer, subscribers: int, messages: int, runs: int
) -> dict[str, Any]:
    """Open `subscribers` sockets, one warm-up message, then `runs` runs; medians over runs."""
    async with open_fleet(urls, subscribers) as fleet:
        await measure_run(fleet, write, 1)
        per_run = [await measure_run(fleet, write, messages) for _ in range(runs)]
    return {"median": median_of(per_run), "runs": per_run}


def mcp_writer(mcp: Any, session_id: str) -> Writer:
    async def write() -> int:
        reply = await mcp.call("add_message", session_id=session_id, content="bench message")
        assert reply.get("success") is True, reply
        return int(reply["message_id"])

    return write


def bare_writer(fire: WebSocketConnection) -> Writer:
    async def write() -> int:
        await fire.send_message("fire")
        return int(await fire.get_message())

    return write


async def noop_round_trip_ms(mcp: Any, calls: int = 30) -> float:
    """Median round trip of get_usage_guidance (no database), for context."""
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await mcp.call("get_usage_guidance")
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def run(counts: Sequence[int], messages: int, fanout_messages: int, runs: int) -> dict[str, Any]:
    raise_nofile(max(counts) + 2000)
    results: dict[str, Any] = {}
    async with spawn_daemon() as daemon, spawn_bare() as bare:
        tokens = bench_tokens(daemon.data_dir, max(counts))
        session_id = await create_session(daemon.mcp_url, tokens[0])
        scsd_urls = session_urls(daemon.ws_url, session_id, tokens)
        bare_urls = [f"{bare.ws_url}/ws/bare"]
        async with (
            mcp_session(daemon.mcp_url, tokens[0]) as mcp,
            open_websocket_url(f"{bare.ws_url}/fire") as fire,
        ):
            results["noop_round_trip_ms"] = await noop_round_trip_ms(mcp)
            for n in counts:
                m = messages if n <= 1000 else fanout_messages
                scsd = await measure_system(scsd_urls, mcp_writer(mcp, session_id), n, m, runs)
                base = await measure_system(bare_urls, bare_writer(fire), n, m, runs)
                results[str(n)] = {"messages_per_run": m, "scsd": scsd, "bare": base}
                print(f"  {n} subscribers: scsd {scsd['median']}  bare {base['median']}", flush=True)
    return results


def table(results: dict[str, Any]) -> None:
    rows = []
    for n, r in results.items():
        if not n.isdigit():
            continue
        s, b = r["scsd"]["median"], r["bare"]["median"]
        rows.append([int(n), s["p50_ms"], s["p99_ms"], s["max_ms"], s["call_p50_ms"], s["call_p99_ms"],
                     s["to_all_p50_ms"], s["first_p50_ms"], b["p50_ms"], b["p99_ms"], b["to_all_p50_ms"],
                     ratio(s["p50_ms"], b["p50_ms"]), ratio(s["p99_ms"], b["p99_ms"])])  # fmt: skip
    header = "subs p50 p99 max call_p50 call_p99 all_p50 first_p50 bare_p50 bare_p99 bare_all x_p50 x_p99"
    print_table(header.split(), rows)
    print(f"(ms; medians over runs; MCP no-op round trip {results['noop_round_trip_ms']:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--subscribers", default="1,100,1000", help="comma-separated counts (default 1,100,1000)"
    )
    parser.add_argument("--fanout", type=int, default=0, help="also this many connections (e.g. 10000)")
    parser.add_argument("--messages", type=int, default=30, help="messages per run (default 30)")
    parser.add_argument("--fanout-messages", type=int, default=5, help="messages per run above 1,000")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (default 3)")
    args = parser.parse_args()
    counts = [int(c) for c in args.subscribers.split(",") if c] + ([args.fanout] if args.fanout else [])
    results = trio.run(run, counts, args.messages, args.fanout_messages, args.runs)
    table(results)
    print("wrote", write_results("delivery", vars(args), results))


if __name__ == "__main__":
    main()
