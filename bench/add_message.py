"""add_message throughput over MCP Streamable HTTP: sequential (1 client) and with 10
concurrent clients, next to a ceiling measured the same way on `get_usage_guidance` (scsd has
no no-op tool; this one needs no database and no credentials, so it is the cost of the MCP
layer alone).

    uv run python bench/add_message.py [--calls 300] [--runs 3]
    uv run python bench/add_message.py --reference /tmp/refvenv/bin/shared-context-server
    uv run python bench/add_message.py --before /tmp/before   # A/B: another scsd tree, same run

With `--reference PATH`, the reference `shared-context-server` (1.1.10, installed in its own
venv, see docs/performance.md) is started on free ports in a temporary dir and measured the
same way in the same run, runs interleaved; SPEC §8 asks for at least twice its add_message rate.
Each client is one MCP session (plain JSON-RPC POSTs with httpx, one keep-alive connection).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio
from benchkit import (
    cpu_seconds,
    create_session,
    median_of,
    print_table,
    ratio,
    rpc_session,
    spawn_daemon,
    write_results,
)

RAW = argparse.RawDescriptionHelpFormatter
CASES = ["add_message_x1", "add_message_x10", "get_usage_guidance_x1", "get_usage_guidance_x10"]


@dataclass
class Target:
    """Where and how to call: MCP URL, headers for every request, arguments for every call."""

    name: str
    url: str
    session_id: str
    headers: dict[str, str] = field(default_factory=dict)
    call_args: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None  # the server process, for its CPU time per call


async def rate(target: Target, tool: str, calls: int, clients: int) -> float:
    """Calls per second: `clients` MCP sessions, opened first, then `calls` in total."""
    return (await measure_calls(target, tool, calls, clients))[0]


async def measure_calls(target: Target, tool: str, calls: int, clients: int) -> tuple[float, float | None]:
    """Calls per second, and the server's CPU milliseconds per call (None without its pid):
    CPU time varies far less than wall time on a machine other work shares."""
    args: dict[str, Any] = dict(target.call_args)
    if tool == "add_message":
        args |= {"session_id": target.session_id, "content": "throughput"}
    per_client = max(1, calls // clients)
    ready, go = trio.Semaphore(0), trio.Event()

    async def client() -> None:
        async with rpc_session(target.url, target.headers) as rpc:
            ready.release()
            await go.wait()
            for _ in range(per_client):
                reply = await rpc.call(tool, **args)
                assert reply.get("success", True) is not False, reply

    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(client)
        for _ in range(clients):
            await ready.acquire()
        cpu_before = None if target.pid is None else cpu_seconds(target.pid)
        started = time.perf_counter()
        go.set()
    elapsed = time.perf_counter() - started
    done = per_client * clients
    cpu_ms = (
        None
        if cpu_before is None or target.pid is None
        else (cpu_seconds(target.pid) - cpu_before) * 1000 / done
    )
    return done / elapsed, cpu_ms


async def measure(targets: list[Target], calls: int, runs: int) -> dict[str, Any]:
    """For each target, tool and concurrency: calls/s per run (runs interleaved), medians."""
    cases = [(tool, clients) for tool in ("add_message", "get_usage_guidance") for clients in (1, 10)]
    assert [f"{tool}_x{clients}" for tool, clients in cases] == CASES
    per_run: dict[str, list[dict[str, float]]] = {t.name: [] for t in targets}
    for target in targets:  # warm-up
        await rate(target, "add_message", 20, 1)
    for _ in range(runs):
        for target in targets:
            row: dict[str, float] = {}
            for tool, clients in cases:
                per_second, cpu_ms = await measure_calls(target, tool, calls, clients)
                row[f"{tool}_x{clients}"] = per_second
                if cpu_ms is not None:
                    row[f"{tool}_x{clients}_cpu_ms"] = cpu_ms
            per_run[target.name].append(row)
    return {name: {"median": median_of(rows), "runs": rows} for name, rows in per_run.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def reference_server(command: str) -> AsyncIterator[Target]:
    """The reference server over HTTP on free ports, in a temporary dir; authenticated."""
    from cryptography.fernet import Fernet  # a dependency of scsd's stack too (via authlib/jwt)

    with tempfile.TemporaryDirectory(prefix="scs-ref-") as tmp:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SHARED_CONTEXT_", "VIRTUAL_ENV"))},
            "API_KEY": "bench-api-key-" + "x" * 32,
            "JWT_SECRET_KEY": "bench-jwt-secret-" + "y" * 32,
            "JWT_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "DATABASE_PATH": str(Path(tmp) / "ref.db"),
            "WEBSOCKET_PORT": str(free_port()),
            "LOG_LEVEL": "WARNING",
        }
        argv = [
            command,
            "--transport",
            "http",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "WARNING",
        ]
        with (Path(tmp) / "log").open("wb") as log:
            proc = await trio.lowlevel.open_process(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=tmp
            )
        url = f"http://127.0.0.1:{port}/mcp"
        try:
            with trio.fail_after(60):
                while True:
                    try:
                        async with rpc_session(url, {"X-API-Key": env["API_KEY"]}) as rpc:
                            auth = await rpc.call("authenticate_agent", agent_id="bench", agent_type="claude")
                            token = str(auth["token"])
                            created = await rpc.call("create_session", purpose="bench", auth_token=token)
                        break
                    except (httpx.TransportError, httpx.HTTPStatusError):
                        if proc.returncode is not None:
                            raise RuntimeError((Path(tmp) / "log").read_text()) from None
                        await trio.sleep(0.2)
            yield Target(
                "reference", url, str(created["session_id"]), {}, {"auth_token": token}, pid=proc.pid
            )
        finally:
            proc.terminate()
            with trio.move_on_after(10):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


@asynccontextmanager
async def scsd_target(name: str, tree: str | None = None) -> AsyncIterator[Target]:
    """A daemon of this tree, or of another checkout `tree` (its `scsd` package first on
    PYTHONPATH, with this venv's dependencies): an A/B in one run."""
    env = None if tree is None else {"PYTHONPATH": tree}  # an absolute path (main)
    async with spawn_daemon(env=env) as daemon:
        token = daemon.token("bench")
        sid = await create_session(daemon.mcp_url, token)
        yield Target(name, daemon.mcp_url, sid, {"Authorization": f"Bearer {token}"}, pid=daemon.pid)


async def run(calls: int, runs: int, reference: str | None, before: str | None) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        targets = [await stack.enter_async_context(scsd_target("scsd"))]
        if before is not None:
            targets.append(await stack.enter_async_context(scsd_target("before", before)))
        if reference is not None:
            targets.append(await stack.enter_async_context(reference_server(reference)))
        return await measure(targets, calls, runs)


def table(results: dict[str, Any]) -> None:
    rows = []
    for name, r in results.items():
        m = r["median"]
        rows.append([name, m["add_message_x1"], m["add_message_x10"], m["get_usage_guidance_x1"],
                     m["get_usage_guidance_x10"], ratio(m["add_message_x1"], m["get_usage_guidance_x1"]),
                     ratio(m["add_message_x10"], m["get_usage_guidance_x10"])])  # fmt: skip
    for other in ("before", "reference"):
        if other in results:
            s, o = results["scsd"]["median"], results[other]["median"]
            rows.append([f"scsd/{other[:6]}", *(ratio(s[k], o[k]) for k in CASES), "", ""])
    print_table(["server", "add x1", "add x10", "noop x1", "noop x10", "add/noop x1", "add/noop x10"], rows)
    print("(calls/s, medians over runs; noop = get_usage_guidance)")
    cpu = [
        [name, *(r["median"].get(f"{case}_cpu_ms", float("nan")) for case in CASES)]
        for name, r in results.items()
    ]
    print_table(["server", "add x1", "add x10", "noop x1", "noop x10"], cpu)
    print("(the server's CPU ms per call, medians over runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    parser.add_argument("--calls", type=int, default=300, help="calls per measurement (default 300)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--reference", metavar="PATH", help="reference server executable")
    parser.add_argument("--before", metavar="TREE", help="another scsd checkout to measure in the same run")
    args = parser.parse_args()
    if args.before:
        args.before = os.path.abspath(args.before)
    results = trio.run(run, args.calls, args.runs, args.reference, args.before)
    table(results)
    print("wrote", write_results("add_message", vars(args), results))


if __name__ == "__main__":
    main()
