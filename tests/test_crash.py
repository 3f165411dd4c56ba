"""Crash safety and graceful shutdown of a real `python -m scsd` process under write load.

The SIGKILL loop runs 3 rounds here (CI budget); the full count is
`uv run python bench/crash_loop.py --rounds 20 --clients 10`, the same code.
"""

from __future__ import annotations

import importlib
import random
import re
import signal
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

import httpx
import pytest
import trio

from scsd.process.signals import DUPLICATE_SECONDS
from tests.kit.crash import (
    HTTP_TIMEOUT_SECONDS,
    POLL_SECONDS,
    STOP_SECONDS,
    Daemon,
    Follower,
    HalfResponse,
    McpClient,
    NoResponse,
    WriterLog,
    create_session,
    mint_token,
    spawn_daemon,
    write_until_failure,
)

pytestmark = pytest.mark.slow  # real daemons and subprocesses

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
crash_loop = importlib.import_module("crash_loop")

CLIENTS: Final = 10
CI_ROUNDS: Final = 3
LOOP_SECONDS: Final = 120.0  # 4 starts of ~1.5-3 s and 3 rounds of <= 1.5 s, with room for a slow box
RUN_SECONDS: Final = 30.0
PROMPT_SECONDS: Final = 2.0  # "at once", with room for a slow machine
WARM_ACKS: Final = 3  # every writer has had this many answers: all ten are busy


async def _until(condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds; the caller's cancel scope is the deadline."""
    while True:
        if condition():
            return
        await trio.sleep(POLL_SECONDS)


async def _hub_subscribers(daemon: Daemon) -> int:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
        response = await client.get(f"http://127.0.0.1:{daemon.http_port}/health")
    return int(response.json()["hub"]["subscribers"])


async def test_sigkill_under_load_loses_no_acknowledged_message(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    results = []
    with trio.fail_after(LOOP_SECONDS):
        await crash_loop.crash_loop(tmp_path, CI_ROUNDS, CLIENTS, random.Random(seed), results.append)
    assert len(results) == CI_ROUNDS
    assert [r.problems for r in results] == [[]] * CI_ROUNDS, f"seed {seed}: {results}"
    assert sum(r.acked for r in results) > 0, "no write was acknowledged before the kills"


async def test_sigterm_under_load_answers_in_flight_calls_closes_1001_and_exits_0(tmp_path: Path) -> None:
    data = tmp_path / "data"
    logs = [WriterLog(i) for i in range(CLIENTS)]
    async with spawn_daemon(data, tmp_path / "scsd-0.log") as daemon:
        token = mint_token(data, "writer")
        with trio.fail_after(RUN_SECONDS):
            follower = Follower(await create_session(daemon.mcp_url, token))
        async with trio.open_nursery() as nursery:
            with trio.fail_after(RUN_SECONDS):
                await nursery.start(follower.follow, daemon.ws_url, token)
                for log in logs:
                    nursery.start_soon(
                        write_until_failure, daemon.mcp_url, token, follower.session_id, 0, log
                    )
                await _until(lambda: all(len(log.acked) >= WARM_ACKS for log in logs))
            daemon.proc.send_signal(signal.SIGTERM)
            with trio.fail_after(STOP_SECONDS):
                status = await daemon.proc.wait()
            # The writers and the follower end by themselves as their sockets close.
        log_text = daemon.log_text()
    assert status == 0 and "Traceback" not in log_text, log_text
    assert follower.close_codes == [1001]
    # A call either got its whole answer or no answer at all: never a 5xx, never half a reply.
    assert [log.ended_by for log in logs] == ["no-response"] * CLIENTS
    assert not any(log.rejected for log in logs), [log.rejected[:1] for log in logs]

    async with spawn_daemon(data, tmp_path / "scsd-1.log") as daemon, trio.open_nursery() as nursery:
        with trio.fail_after(RUN_SECONDS):
            await nursery.start(follower.follow, daemon.ws_url, token)
            table = await trio.to_thread.run_sync(
                crash_loop.read_table, data / "scsd.db", follower.session_id
            )
            await follower.wait_for(table.ids[-1])
        nursery.cancel_scope.cancel()
    assert crash_loop.check_durable(table, 0, logs, 0) == []
    # Nothing was committed without its answer reaching the writer: in-flight calls finished.
    assert table.ids == sorted(message_id for log in logs for _, message_id in log.acked)
    assert crash_loop.check_follower(follower, table) == []


async def test_second_sigterm_during_the_drain_stops_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    answers: list[object] = []
    async with spawn_daemon(data, tmp_path / "scsd.log") as daemon, trio.open_nursery() as nursery:
        token = mint_token(data, "waiter")
        with trio.fail_after(RUN_SECONDS):
            session_id = await create_session(daemon.mcp_url, token)

        async def wait_a_minute() -> None:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS * 3) as client:
                mcp = McpClient(client, daemon.mcp_url, token)
                await mcp.open()
                try:
                    answers.append(
                        await mcp.call(
                            "wait_for_messages", session_id=session_id, since_id=0, timeout_seconds=60
                        )
                    )
                except (NoResponse, HalfResponse) as e:  # the force quit may cut it: allowed
                    answers.append(e)

        nursery.start_soon(wait_a_minute)
        with trio.fail_after(RUN_SECONDS):
            while True:  # until the wait is pending in the daemon, subscribed to the hub
                if await _hub_subscribers(daemon) >= 1:
                    break
                await trio.sleep(POLL_SECONDS)
        daemon.proc.send_signal(signal.SIGTERM)
        with trio.fail_after(STOP_SECONDS):
            # The first signal has been taken: only now is a second one distinguishable.
            await daemon.wait_log(re.compile(r"received SIGTERM"))
        await trio.sleep(DUPLICATE_SECONDS + 0.5)  # later than a copy of the first could be
        daemon.proc.send_signal(signal.SIGTERM)
        with trio.fail_after(PROMPT_SECONDS):
            status = await daemon.proc.wait()
        nursery.cancel_scope.cancel()
    # 0 if the drain (the wait answers at once) finished first, -SIGTERM if the second signal did.
    assert status in (0, -signal.SIGTERM), daemon.log_text()


def _signal_mask(pid: int, field: str) -> int:
    """A signal bit mask of process `pid` from /proc (e.g. SigCgt: signals it catches)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _has(mask: int, signum: int) -> bool:
    return bool(mask >> (signum - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads signal masks from /proc (Linux)")
async def test_second_sigterm_during_start_up_stops_at_once(tmp_path: Path) -> None:
    """Two SIGTERMs while the daemon is still starting: the second (later than a copy of the
    first could be) must force the exit, as it does once the daemon runs, instead of start-up
    completing and stopping cleanly. The test holds the database locked, so start-up cannot
    finish before the second signal however fast the machine is."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with sqlite3.connect(data / "scsd.db", isolation_level=None) as lock:
        lock.execute("BEGIN EXCLUSIVE")  # start-up waits for it (the busy timeout, 10 s)
        async with spawn_daemon(data, tmp_path / "scsd.log", wait_ready=False) as daemon:
            pid = daemon.proc.pid
            with trio.fail_after(RUN_SECONDS):
                await _until(lambda: _has(_signal_mask(pid, "SigCgt"), signal.SIGTERM))  # handler in
                daemon.proc.send_signal(signal.SIGTERM)
                # Delivered, so the kernel will not merge the second signal into the first.
                await _until(lambda: not _has(_signal_mask(pid, "ShdPnd"), signal.SIGTERM))
            await trio.sleep(DUPLICATE_SECONDS + 0.5)  # not a copy of the first: a second signal
            daemon.proc.send_signal(signal.SIGTERM)
            with trio.fail_after(RUN_SECONDS):
                status = await daemon.proc.wait()
            log_text = daemon.log_text()
        lock.rollback()
    assert "scsd ready" not in log_text and status == -signal.SIGTERM, (status, log_text)
