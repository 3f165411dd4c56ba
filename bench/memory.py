"""Daemon memory per idle WebSocket connection.

    uv run python bench/memory.py [--connections 10000] [--runs 3]

VmRSS of the daemon (/proc/PID/status) after start with no connection, then with
`--connections` sockets open and each subscribed to one session, idle; per-connection KiB =
the difference / connections. Each run is a fresh daemon. Baseline, same run: the same
connections to bench/bare_ws.py (trio-websocket alone). SPEC §8: ≤ 30 KiB per idle connection.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import trio
from benchkit import (
    bench_tokens,
    create_session,
    open_fleet,
    print_table,
    raise_nofile,
    ratio,
    session_urls,
    spawn_bare,
    spawn_daemon,
    vm_rss_kib,
    write_results,
)

RAW = argparse.RawDescriptionHelpFormatter
SETTLE_SECONDS = 2.0


async def rss_with(
    pid: int, urls: list[str], connections: int, settle: float = SETTLE_SECONDS
) -> dict[str, float]:
    """RSS (KiB) of `pid` before and with `connections` idle subscribed sockets."""
    await trio.sleep(settle)
    before = vm_rss_kib(pid)
    async with open_fleet(urls, connections):
        await trio.sleep(settle)
        during = vm_rss_kib(pid)
    return {"rss0_kib": before, "rssN_kib": during, "per_conn_kib": (during - before) / connections}


async def one_run(connections: int) -> dict[str, Any]:
    async with spawn_daemon() as daemon:
        tokens = bench_tokens(daemon.data_dir, connections)
        sid = await create_session(daemon.mcp_url, tokens[0])
        scsd = await rss_with(daemon.pid, session_urls(daemon.ws_url, sid, tokens), connections)
    async with spawn_bare() as bare:
        base = await rss_with(bare.proc.pid, [f"{bare.ws_url}/ws/bare"], connections)
    return {"scsd": scsd, "bare": base}


async def run(connections: int, runs: int) -> dict[str, Any]:
    raise_nofile(connections + 2000)
    per_run = [await one_run(connections) for _ in range(runs)]
    med = {
        side: {k: statistics.median(r[side][k] for r in per_run) for k in per_run[0][side]}
        for side in ("scsd", "bare")
    }
    return {"median": med, "runs": per_run}


def table(results: dict[str, Any], connections: int) -> None:
    s, b = results["median"]["scsd"], results["median"]["bare"]
    rows = [
        ["scsd", s["rss0_kib"] / 1024, s["rssN_kib"] / 1024, s["per_conn_kib"], 30, s["per_conn_kib"] <= 30],
        ["bare trio-websocket", b["rss0_kib"] / 1024, b["rssN_kib"] / 1024, b["per_conn_kib"], "", ""],
        ["ratio", "", "", ratio(s["per_conn_kib"], b["per_conn_kib"]), "", ""],
    ]
    print_table(["server", "RSS0 MiB", f"RSS{connections} MiB", "KiB/conn", "target", "met"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    parser.add_argument("--connections", type=int, default=10_000, help="idle sockets (default 10,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs, each on a fresh daemon (default 3)")
    args = parser.parse_args()
    results = trio.run(run, args.connections, args.runs)
    table(results, args.connections)
    print("wrote", write_results("memory", vars(args), results))


if __name__ == "__main__":
    main()
