"""A stop signal is one stop, through the README's own command: `uv run scsd` in its own
process group, signalled as a terminal's Ctrl-C or a supervisor's group kill signals it (scsd
gets the signal from the kernel and again from uv, which forwards it). It drains and exits
0; a deliberate second signal later still forces a quick exit. (How copies are told from a
deliberate signal, with a controlled clock: tests/process/test_signals.py.)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
import trio

from scsd.process.signals import DUPLICATE_SECONDS
from tests.kit.cli import Lines

ROOT: Final = Path(__file__).resolve().parents[2]
START_SECONDS: Final = 60.0  # uv checks the environment, then imports take ~3 s; slack for CI
HANG_SECONDS: Final = 30.0  # only a guard against a hang, never a measure of speed
READY: Final = re.compile(r"scsd ready: UI http://127\.0\.0\.1:(\d+)/ui/")
_NOT_INHERITED: Final = ("SHARED_CONTEXT_", "LOG_LEVEL", "NOTIFY_SOCKET", "WATCHDOG_", "STATE_DIRECTORY")
# A request whose body never arrives: it stays in flight, so the drain lasts the whole grace.
_STUCK_REQUEST: Final = (
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Accept: application/json, text/event-stream\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"
)


def _uv() -> str:
    found = shutil.which("uv")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("uv is not on PATH; .ci/run installs it")
        pytest.skip("uv is not on PATH (the README's `uv run scsd` needs it)")
    return found


@dataclass
class _Group:
    proc: trio.Process
    log: Lines
    http_port: int = 0

    def kill(self, signum: int) -> None:
        """Signal the whole process group, as a terminal's Ctrl-C or `kill -- -PGID` does."""
        os.killpg(self.proc.pid, signum)

    async def exit_status(self) -> tuple[int, str]:
        with trio.fail_after(HANG_SECONDS):
            log = await self.log.rest()
            return await self.proc.wait(), log


@asynccontextmanager
async def _started(command: Sequence[str | Path], tmp_path: Path) -> AsyncIterator[_Group]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    args = [*map(str, command), "--data-dir", str(tmp_path / "data"), "--port", "0", "--ws-port", "0"]
    proc = await trio.lowlevel.open_process(
        args,
        cwd=ROOT,
        env=env,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        group = _Group(proc, Lines(proc.stderr))
        with trio.fail_after(START_SECONDS):
            group.http_port = int((await group.log.until(READY))[1])
        yield group
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)  # our own group: uv and its scsd
        with trio.move_on_after(HANG_SECONDS):
            await proc.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_to_the_group_under_uv_run_drains_and_exits_0(tmp_path: Path, signum: int) -> None:
    async with _started([_uv(), "run", "scsd"], tmp_path) as group:
        group.kill(signum)
        status, log = await group.exit_status()
    assert status == 0, log
    name = signal.Signals(signum).name
    assert f"received {name}" in log and "shutting down" in log and "scsd stopped" in log, log
    assert "Traceback" not in log and "without waiting for the drain" not in log, log


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_deliberate_second_signal_under_uv_run_forces_a_quick_exit(
    tmp_path: Path, signum: int
) -> None:
    config = tmp_path / "scsd.toml"
    config.write_text("shutdown_grace = 60\n")  # the stuck request holds the drain for a minute
    async with _started([_uv(), "run", "scsd", "--config", config], tmp_path) as group:
        client = await trio.open_tcp_stream("127.0.0.1", group.http_port)
        async with client:
            await client.send_all(_STUCK_REQUEST)
            with trio.fail_after(HANG_SECONDS):
                assert b" 100 " in await client.receive_some()  # the request reached the app
                group.kill(signum)
                await group.log.until(re.compile("shutting down"))
            # Explicitly later than any copy of the first signal (those are the same request).
            await trio.sleep(DUPLICATE_SECONDS + 0.5)
            assert group.proc.returncode is None, "precondition: the drain waits for the request"
            group.kill(signum)
            status, log = await group.exit_status()
    assert status != 0, log
    assert "without waiting for the drain" in log and "scsd stopped" not in log, log
