"""The benchmarks' core functions at toy sizes, so bench/ keeps working. Correctness only:
nothing here asserts a timing (SPEC §8 figures come from running bench/, see
docs/performance.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import trio

from tests.kit.daemon import Running

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import add_message
import arrival
import benchkit
import cross_process
import delivery
import fanout_server
import history
import idle_start
import memory
import read_under_write
import write_floor
from trio_websocket import open_websocket_url

pytestmark = pytest.mark.slow  # real daemons and subprocesses


def test_statistics_helpers() -> None:
    assert benchkit.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert benchkit.percentile(list(range(1, 101)), 99) == 99
    assert benchkit.summary_ms([0.001, 0.002])["max"] == 2.0
    assert benchkit.median_of([{"a": 1.0}, {"a": 3.0}, {"a": 2.0}]) == {"a": 2.0}
    assert abs(benchkit.iso_seconds("1970-01-01T00:00:01.500000Z") - 1.5) < 1e-9


def test_proc_readers() -> None:
    assert benchkit.cpu_seconds(os.getpid()) > 0
    assert benchkit.vm_rss_kib(os.getpid()) > 1000
    (window,) = idle_start.window_percentages([os.getpid()], 0.06, windows=3)
    assert len(window) == 3 and all(p >= 0 for p in window)


async def test_delivery_to_scsd_and_bare_subscribers(running: Running) -> None:
    with trio.fail_after(30):
        tokens = benchkit.bench_tokens(running.config.data_dir, 3, per_identity=2)
        assert len(tokens) == 2
        sid = await benchkit.create_session(running.mcp_url, tokens[0])
        urls = benchkit.session_urls(f"{running.endpoints.ws_url}/ws", sid, tokens)
        async with benchkit.mcp_session(running.mcp_url, tokens[0]) as mcp:
            async with benchkit.open_fleet(urls, 3) as fleet:
                stats = await delivery.measure_run(fleet, delivery.mcp_writer(mcp, sid), 2, gap=0)
            assert await delivery.noop_round_trip_ms(mcp, 2) > 0
        assert stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"]
        assert stats["call_p50_ms"] > 0 and not fleet.arrivals
        async with (
            benchkit.spawn_bare() as bare,
            open_websocket_url(f"{bare.ws_url}/fire") as fire,
            benchkit.open_fleet([f"{bare.ws_url}/ws/x"], 2) as fleet,
        ):
            stats = await delivery.measure_run(fleet, delivery.bare_writer(fire), 2, gap=0)
        assert stats["max_ms"] >= stats["p50_ms"] >= 0


async def test_add_message_rate(running: Running) -> None:
    with trio.fail_after(30):
        token = benchkit.mint_token(running.config.data_dir, "bench")
        sid = await benchkit.create_session(running.mcp_url, token)
        target = add_message.Target("scsd", running.mcp_url, sid, {"Authorization": f"Bearer {token}"})
        assert await add_message.rate(target, "add_message", 4, 2) > 0
        assert await add_message.rate(target, "get_usage_guidance", 2, 1) > 0
        async with benchkit.mcp_session(running.mcp_url, token) as mcp:
            page = await mcp.call("get_messages", session_id=sid)
        assert page["count"] == 4


def test_history_generate_and_measure(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    history.generate(path, 300, 3)
    results = trio.run(history.measure, path, 2, 1)
    assert set(results) >= {"get_messages_tail", "get_messages_first_page", "search_context"}
    assert all(r["median"]["n"] == 2 for r in results.values())


async def test_cross_process_writer_reaches_daemon_subscriber(running: Running) -> None:
    with trio.fail_after(40):
        tokens = benchkit.bench_tokens(running.config.data_dir, 1)
        sid = await benchkit.create_session(running.mcp_url, tokens[0])
        writer = await cross_process.open_stdio_writer(running.config.data_dir)
        try:
            async with benchkit.open_fleet(
                benchkit.session_urls(f"{running.endpoints.ws_url}/ws", sid, tokens), 1
            ) as fl:
                stats = await delivery.measure_run(fl, lambda: writer.add_message(sid, "x"), 2, gap=0)
        finally:
            writer.proc.kill()
            await writer.proc.wait()
        assert stats["p50_ms"] > 0


async def test_read_under_write_measures_idle_and_busy(running: Running) -> None:
    with trio.fail_after(120):
        token = await running.token("bench")
        headers = {"Authorization": f"Bearer {token}"}
        sid = await benchkit.create_session(running.mcp_url, token)
        idle = await read_under_write.measure(running.mcp_url, headers, sid, 30, 3, busy=False)
        busy = await read_under_write.measure(running.mcp_url, headers, sid, 30, 3, busy=True)
    assert 0 < idle["p50_ms"] <= idle["p99_ms"] and 0 < busy["p50_ms"] <= busy["p99_ms"]
    assert idle["writes_per_s"] == 0 and busy["writes_per_s"] > 0


async def test_memory_rss_with_connections(running: Running) -> None:
    with trio.fail_after(30):
        tokens = benchkit.bench_tokens(running.config.data_dir, 4)
        sid = await benchkit.create_session(running.mcp_url, tokens[0])
        urls = benchkit.session_urls(f"{running.endpoints.ws_url}/ws", sid, tokens)
        rss = await memory.rss_with(os.getpid(), urls, 4, settle=0)
        assert rss["rss0_kib"] > 0 and rss["rssN_kib"] > 0


async def test_arrival_by_kernel_stamps_from_scsd_and_the_floor(running: Running) -> None:
    """bench/arrival.py's raw fleet (another process) reads each frame's kernel arrival stamp;
    the stamp precedes the moment the fleet read the frame."""
    with trio.fail_after(60):
        tokens = benchkit.bench_tokens(running.config.data_dir, 3, per_identity=2)
        sid = await benchkit.create_session(running.mcp_url, tokens[0])
        targets = [f"/ws/{sid}?token={t}" for t in tokens]
        async with (
            benchkit.mcp_session(running.mcp_url, tokens[0]) as mcp,
            arrival.open_fleet(running.endpoints.ws_port, 3, targets) as fleet,
        ):
            message_id = await delivery.mcp_writer(mcp, sid)()
            report = await fleet.report(message_id)
            stats = await arrival.measure_run(fleet, delivery.mcp_writer(mcp, sid), 2, gap=0)
        assert len(report["kernel"]) == len(report["read"]) == 3 and report["unstamped"] == 0
        assert all(k <= r for k, r in zip(report["kernel"], report["read"], strict=True))
        assert all(k >= report["stamp"] for k in report["kernel"])
        assert stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"] and 0 <= stats["late_fraction"] <= 1
        async with (
            benchkit.spawn_bare(direct=True) as floor,
            open_websocket_url(f"{floor.ws_url}/fire") as fire,
            arrival.open_fleet(floor.port, 2, ["/ws/bare"]) as fleet,
        ):
            stats = await arrival.measure_run(fleet, delivery.bare_writer(fire), 2, gap=0)
        assert stats["max_ms"] >= stats["p50_ms"] >= 0


def test_fanout_server_times_the_daemons_share() -> None:
    results = trio.run(fanout_server.measure, 3, 2)
    assert len(results["fanout_runs_ms"]) == 2
    assert results["fanout_ms"] >= 0 and results["sequential_ms"] > 0 and results["floor_ms"] > 0
    assert set(results["gc_runs"]) == {0, 1, 2}


def test_write_floor_writes_every_frame() -> None:
    results = write_floor.measure(4, 3)
    assert len(results["one_runs_ms"]) == len(results["two_runs_ms"]) == 3
    readers, writers = write_floor.connect_pairs(2)
    write_floor.write_all([w.fileno() for w in writers])
    for reader in readers:
        reader.setblocking(True)
        assert reader.recv(1 << 16) == write_floor.FRAME
    for s in readers + writers:
        s.close()
