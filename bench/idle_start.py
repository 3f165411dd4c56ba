"""Idle CPU and start-to-ready time of the daemon process.

    uv run python bench/idle_start.py [--seconds 60] [--starts 5]

Idle: one daemon, no clients, the watcher polling at the default 0.1 s; its utime + stime
from /proc/PID/stat over `--seconds` (split into 3 equal windows: the median window and the
whole). Baseline, same run and same windows: a bare trio process sleeping 0.1 s in a loop
(the floor of any loop that wakes ten times a second). SPEC §8: ≤ 0.5 % of one core.
Start to ready: process spawn → the "scsd ready" log line, median of `--starts`. Baselines:
`python -c pass` and `python -c "import fastmcp"` (the import SPEC-independent floor).
SPEC §8: ≤ 1.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Any

import trio
from benchkit import cpu_seconds, print_table, ratio, spawn_daemon, write_results

RAW = argparse.RawDescriptionHelpFormatter
SLEEPER = "import trio\nasync def main():\n    while True:\n        await trio.sleep(0.1)\ntrio.run(main)"


def window_percentages(pids: list[int], seconds: float, windows: int = 3) -> list[list[float]]:
    """Per pid, % of one core in each of `windows` equal windows of `seconds` in total."""
    span = seconds / windows
    out: list[list[float]] = [[] for _ in pids]
    before = [cpu_seconds(p) for p in pids]
    for _ in range(windows):
        time.sleep(span)
        after = [cpu_seconds(p) for p in pids]
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            out[i].append(100 * (a - b) / span)
        before = after
    return out


async def idle(seconds: float) -> dict[str, Any]:
    async with spawn_daemon() as daemon:
        sleeper = await trio.lowlevel.open_process([sys.executable, "-c", SLEEPER])
        try:
            await trio.sleep(5)  # let start-up settle
            scsd, bare = await trio.to_thread.run_sync(window_percentages, [daemon.pid, sleeper.pid], seconds)
        finally:
            sleeper.kill()
            await sleeper.wait()
    return {
        "scsd_windows_pct": scsd,
        "bare_windows_pct": bare,
        "scsd_pct": statistics.median(scsd),
        "bare_pct": statistics.median(bare),
        "scsd_whole_pct": statistics.mean(scsd),
    }


def python_seconds(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


async def starts(count: int) -> dict[str, Any]:
    ready = []
    for _ in range(count):
        async with spawn_daemon() as daemon:
            ready.append(daemon.ready_seconds)
    bare = [python_seconds("pass") for _ in range(count)]
    fastmcp = [python_seconds("import fastmcp") for _ in range(count)]
    return {
        "ready_seconds": ready,
        "ready_median": statistics.median(ready),
        "python_median": statistics.median(bare),
        "import_fastmcp_median": statistics.median(fastmcp),
    }


async def run(seconds: float, count: int) -> dict[str, Any]:
    return {"idle": await idle(seconds), "start": await starts(count)}


def table(results: dict[str, Any]) -> None:
    i, s = results["idle"], results["start"]
    rows = [
        ["idle CPU, % of a core", i["scsd_pct"], i["bare_pct"], ratio(i["scsd_pct"], i["bare_pct"]), 0.5,
         i["scsd_pct"] <= 0.5],
        ["start to ready, s", s["ready_median"], s["import_fastmcp_median"],
         ratio(s["ready_median"], s["import_fastmcp_median"]), 1.5, s["ready_median"] <= 1.5],
    ]  # fmt: skip
    print_table(["measure", "scsd", "baseline", "ratio", "target", "met"], rows)
    print(f"(idle baseline: trio sleeping 0.1 s; start baseline: python -c 'import fastmcp'; "
          f"python -c pass {s['python_median']:.3f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    parser.add_argument("--seconds", type=float, default=60.0, help="idle measurement (default 60)")
    parser.add_argument("--starts", type=int, default=5, help="start-ups to time (default 5)")
    args = parser.parse_args()
    results = trio.run(run, args.seconds, args.starts)
    table(results)
    print("wrote", write_results("idle_start", vars(args), results))


if __name__ == "__main__":
    main()
