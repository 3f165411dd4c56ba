"""Shared pieces of the benchmarks (issue 6): statistics, tables, results files, a daemon
process on free ports, MCP and WebSocket clients. Measurement only: nothing here changes scsd.

The daemon under test runs as its own process (`python -m scsd serve`), so the load
generators in the benchmark process never share its interpreter lock.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
import trio
from trio_websocket import ConnectionClosed, connect_websocket_url

BENCH: Final = Path(__file__).resolve().parent
ROOT: Final = BENCH.parent
RESULTS: Final = BENCH / "results"
sys.path.insert(0, str(ROOT))  # the crash harness (tests/kit/crash.py) lives with the tests

from tests.kit.crash import mint_token  # noqa: E402

READY_LINE: Final = re.compile(r"scsd ready: UI http://\S+:(\d+)/ui/ .* ws://\S+:(\d+)/ws\s")
START_SECONDS: Final = 60.0
_NOT_INHERITED: Final = ("SHARED_CONTEXT_", "LOG_LEVEL", "NOTIFY_SOCKET", "WATCHDOG_", "STATE_DIRECTORY")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p99/max of latencies given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms, default=0.0)}


def median_of(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over runs."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else float("nan")


def iso_seconds(timestamp: str) -> float:
    """An scsd ISO 8601 UTC timestamp ("...Z", microseconds) as epoch seconds."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_results(name: str, args: dict[str, Any], results: Any) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {"benchmark": name, "machine": machine(), "args": args, "results": results}
    path.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in text:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def raise_nofile(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE toward `wanted` (bounded by the hard limit); the new
    soft limit. Child processes (the daemon) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


# --- /proc readers -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# --- the daemon as a process ---------------------------------------------------------------


@dataclass
class Daemon:
    proc: trio.Process
    data_dir: Path
    log: Path
    http_port: int = 0
    ws_port: int = 0
    ready_seconds: float = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def mcp_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/mcp"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    def token(self, agent_id: str) -> str:
        return mint_token(self.data_dir, agent_id)


def daemon_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    return {**env, **(extra or {})}


@asynccontextmanager
async def spawn_daemon(
    data_dir: Path | None = None, env: dict[str, str] | None = None, argv: Sequence[str] = ()
) -> AsyncIterator[Daemon]:
    """`python -m scsd serve` on free ports in a temporary (or given) data dir; waits for the
    ready line; SIGTERM (then kill) on exit. `ready_seconds`: spawn → ready line."""
    with tempfile.TemporaryDirectory(prefix="scsd-bench-") as tmp:
        data = data_dir or Path(tmp) / "data"
        log = Path(tmp) / "daemon.log"
        command = [sys.executable, "-m", "scsd", "serve", "--data-dir", str(data), "--port", "0"]
        command += ["--ws-port", "0", *argv]
        with log.open("wb") as sink:
            started = time.perf_counter()
            proc = await trio.lowlevel.open_process(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=sink, env=daemon_env(env)
            )
        daemon = Daemon(proc, data, log)
        try:
            with trio.fail_after(START_SECONDS):
                while not (match := READY_LINE.search(log.read_text(errors="replace"))):
                    if proc.returncode is not None:
                        raise RuntimeError(f"scsd exited ({proc.returncode}):\n{log.read_text()}")
                    await trio.sleep(0.005)
            daemon.ready_seconds = time.perf_counter() - started
            daemon.http_port, daemon.ws_port = int(match[1]), int(match[2])
            yield daemon
        finally:
            if proc.returncode is None:
                proc.terminate()
                with trio.move_on_after(10):
                    await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


# --- clients -------------------------------------------------------------------------------


class Rpc:
    """One MCP session over plain Streamable HTTP JSON-RPC POSTs (lighter than a fastmcp
    client: the load generator should cost as little as possible)."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self._client, self._url, self._next_id = client, url, 1
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        self.headers.update(headers)

    async def open(self) -> None:
        params = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "b", "version": "0"},
        }
        response = await self._post({"id": 0, "method": "initialize", "params": params})
        if "mcp-session-id" in response.headers:
            self.headers["mcp-session-id"] = response.headers["mcp-session-id"]
        await self._post({"method": "notifications/initialized"})

    async def call(self, tool: str, **args: Any) -> dict[str, Any]:
        """The tool's structured result (or its JSON text content)."""
        call_id, self._next_id = self._next_id, self._next_id + 1
        body = {"id": call_id, "method": "tools/call", "params": {"name": tool, "arguments": args}}
        text = (await self._post(body)).text
        for line in text.splitlines():  # an SSE stream or plain JSON
            if line.startswith(("data:", "{")):
                message = json.loads(line.removeprefix("data:"))
                if message.get("id") == call_id and "result" in message:
                    result = message["result"]
                    structured = result.get("structuredContent")
                    if isinstance(structured, dict):
                        return structured
                    parsed: dict[str, Any] = json.loads(result["content"][0]["text"])
                    return parsed
        raise RuntimeError(f"no result for {tool}: {text[:300]!r}")

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        response = await self._client.post(self._url, json={"jsonrpc": "2.0", **body}, headers=self.headers)
        response.raise_for_status()
        return response


@asynccontextmanager
async def rpc_session(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[Rpc]:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        rpc = Rpc(client, url, headers or {})
        await rpc.open()
        yield rpc


def mcp_session(url: str, token: str) -> AbstractAsyncContextManager[Rpc]:
    """An initialized MCP session on scsd with the token as a Bearer header."""
    return rpc_session(url, {"Authorization": f"Bearer {token}"})


async def create_session(url: str, token: str, purpose: str = "bench") -> str:
    async with mcp_session(url, token) as mcp:
        reply = await mcp.call("create_session", purpose=purpose)
    assert reply.get("success") is True, reply
    return str(reply["session_id"])


# --- a fleet of WebSocket subscribers --------------------------------------------------------


@dataclass
class Fleet:
    """`size` sockets subscribed to one session; records each new_message's arrival time
    (wall clock, so it compares with the daemon's `timestamp`) per message id."""

    size: int
    ready: int = 0
    closed: int = 0
    all_ready: trio.Event = field(default_factory=trio.Event)
    arrivals: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    stamped: dict[int, float] = field(default_factory=dict)
    complete: dict[int, trio.Event] = field(default_factory=lambda: defaultdict(trio.Event))

    def arrived(self, event: dict[str, Any], now: float) -> None:
        data = event["data"]
        message_id = int(data["id"])
        if message_id not in self.stamped:
            self.stamped[message_id] = iso_seconds(data["timestamp"])
        times = self.arrivals[message_id]
        times.append(now)
        if len(times) == self.size - self.closed:
            self.complete[message_id].set()


async def _subscriber(nursery: trio.Nursery, url: str, fleet: Fleet, limiter: trio.CapacityLimiter) -> None:
    try:
        async with limiter:
            ws = await connect_websocket_url(nursery, url, message_queue_size=4096)
            while json.loads(await ws.get_message()).get("type") != "subscribed":
                pass
        fleet.ready += 1
        if fleet.ready == fleet.size:
            fleet.all_ready.set()
        while True:
            text = await ws.get_message()
            now = time.time()
            event = json.loads(text)
            if event.get("type") == "new_message":
                fleet.arrived(event, now)
    except ConnectionClosed:
        fleet.closed += 1


@asynccontextmanager
async def open_fleet(urls: Sequence[str], size: int, connect_concurrency: int = 64) -> AsyncIterator[Fleet]:
    """`size` subscribers, the i-th on urls[i % len(urls)] (one URL per identity, so the
    per-identity socket cap is never the limit); yields once all are subscribed."""
    fleet = Fleet(size)
    limiter = trio.CapacityLimiter(connect_concurrency)
    async with trio.open_nursery() as nursery:
        for i in range(size):
            nursery.start_soon(_subscriber, nursery, urls[i % len(urls)], fleet, limiter)
        with trio.fail_after(max(60.0, size / 20)):
            await fleet.all_ready.wait()
        yield fleet
        nursery.cancel_scope.cancel()


def session_urls(ws_url: str, session_id: str, tokens: Sequence[str]) -> list[str]:
    return [f"{ws_url}/{session_id}?token={t}" for t in tokens]


def bench_tokens(data_dir: Path, sockets: int, per_identity: int = 1000) -> list[str]:
    """Enough identities that no one holds more than `per_identity` sockets."""
    return [mint_token(data_dir, f"bench-{i}") for i in range(max(1, -(-sockets // per_identity)))]


@dataclass
class Bare:
    proc: trio.Process
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@asynccontextmanager
async def spawn_bare(*, direct: bool = False) -> AsyncIterator[Bare]:
    """The baseline broadcast server (bench/bare_ws.py, with `--direct` if `direct`) as its
    own process."""
    argv = [sys.executable, str(BENCH / "bare_ws.py")] + (["--direct"] if direct else [])
    proc = await trio.lowlevel.open_process(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = b""
        with trio.fail_after(30):
            while not line.endswith(b"\n"):
                chunk = await proc.stdout.receive_some(64)
                if not chunk:
                    raise RuntimeError("bare_ws.py exited before printing its port")
                line += chunk
        yield Bare(proc, int(line))
    finally:
        proc.kill()
        await proc.wait()
