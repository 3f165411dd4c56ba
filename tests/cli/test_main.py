"""The `scsd` process end to end: bad input, signals, sd_notify, /health, config layers, first start.

Each test runs a real `python -m scsd` with its own data dir and port 0, in an environment
stripped of SHARED_CONTEXT_* and systemd variables, and kills it in a `finally`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

import scsd
from scsd.access.tokens import Authority
from scsd.model import Identity
from scsd.process.signals import DUPLICATE_SECONDS
from tests.kit.cli import Lines

START_SECONDS: Final = 30.0  # imports alone take ~3 s; a loaded CI box needs slack
STOP_SECONDS: Final = 5.0  # SPEC §2: exit 0 within the grace period (default 5 s)
RUN_SECONDS: Final = 30.0
PROMPT_SECONDS: Final = 2.0  # "at once", with room for a slow machine
READY_LINE: Final = re.compile(r"scsd ready: UI http://\S+:(\d+)/ui/ .* ws://\S+:(\d+)/ws\s+secrets (.+)$")
# Settings the daemon reads from its environment; a test sets the ones it wants.
_NOT_INHERITED: Final = ("SHARED_CONTEXT_", "LOG_LEVEL", "NOTIFY_SOCKET", "WATCHDOG_", "STATE_DIRECTORY")
# A request whose body never arrives: it stays in flight, so the drain lasts the whole grace.
_STUCK_REQUEST: Final = (
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Accept: application/json, text/event-stream\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"
)


def _env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)} | extra


def _argv(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "scsd", *map(str, args)]


def _ports0(data_dir: Path) -> tuple[str | Path, ...]:
    return ("--data-dir", data_dir, "--port", "0", "--ws-port", "0")


@dataclass
class _Daemon:
    proc: trio.Process
    stderr: Lines
    http_port: int = 0
    ws_port: int = 0
    secrets: Path = Path()

    async def wait_ready(self) -> None:
        match = await self.stderr.until(READY_LINE)
        self.http_port, self.ws_port, self.secrets = int(match[1]), int(match[2]), Path(match[3].strip())

    async def wait_exit(self) -> tuple[int, str]:
        """The exit status and the whole log; stderr is drained first so a full pipe can't stall."""
        log = await self.stderr.rest()
        return await self.proc.wait(), log

    async def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(signum)
        with trio.fail_after(STOP_SECONDS):
            return await self.wait_exit()


@asynccontextmanager
async def _spawn(args: Sequence[str | Path], env: dict[str, str]) -> AsyncIterator[_Daemon]:
    proc = await trio.lowlevel.open_process(
        _argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    try:
        assert proc.stderr is not None
        yield _Daemon(proc, Lines(proc.stderr))
    finally:
        if proc.returncode is None:
            proc.kill()
        with trio.move_on_after(STOP_SECONDS):
            await proc.wait()


@asynccontextmanager
async def _daemon(args: Sequence[str | Path], env: dict[str, str] | None = None) -> AsyncIterator[_Daemon]:
    async with _spawn(args, _env() if env is None else env) as daemon:
        with trio.fail_after(START_SECONDS):
            await daemon.wait_ready()
        yield daemon


@contextmanager
def _busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@contextmanager
def _notify_socket(path: Path) -> Iterator[socket.socket]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setblocking(False)
        yield sock


async def _notifications(sock: socket.socket, until: str) -> list[str]:
    states: list[str] = []
    while until not in states:
        await trio.lowlevel.wait_readable(sock)
        states.extend(sock.recv(4096).decode().splitlines())
    return states


def _pending(sock: socket.socket) -> list[str]:
    states: list[str] = []
    while True:
        try:
            states.extend(sock.recv(4096).decode().splitlines())
        except BlockingIOError:
            return states


def _one_clear_line(*args: str | Path, env: dict[str, str] | None = None) -> str:
    env = _env() if env is None else env
    result = subprocess.run(_argv(*args), env=env, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scsd:"), result.stderr
    return lines[0]


def _token(secrets_path: Path) -> str:
    keys = json.loads(secrets_path.read_text(encoding="utf-8"))
    authority = Authority(keys["api_key"], keys["admin_key"], keys["jwt_secret"], 3600)
    return authority.issue(Identity("watcher", "claude", frozenset({"read"}))).token


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--port", "0", "--bogus"], {}, "--bogus"),
        (["--port", "abc"], {}, "--port"),
        (["--port", "70000"], {}, "70000"),
        (["--port", "0", "--log-level", "LOUD"], {}, "LOUD"),
        ([], {"SHARED_CONTEXT_PORT": "abc"}, "SHARED_CONTEXT_PORT"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    assert named in _one_clear_line("--data-dir", tmp_path, "--ws-port", "0", *args, env=_env(**env))


@pytest.mark.parametrize("flag", ["--port", "--ws-port"])
def test_busy_port_is_one_line_and_status_2(tmp_path: Path, flag: str) -> None:
    with _busy_port() as port:
        line = _one_clear_line(*_ports0(tmp_path / "data"), flag, str(port))
    assert "in use" in line and str(port) in line


def test_unwritable_data_dir_is_one_line_and_status_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    line = _one_clear_line(*_ports0(tmp_path / "file" / "data"))
    assert f"data dir {tmp_path / 'file' / 'data'}" in line


async def test_sigterm_closes_websockets_with_1001_and_exits_0(tmp_path: Path) -> None:
    async with _daemon(_ports0(tmp_path / "data")) as daemon:
        url = f"ws://127.0.0.1:{daemon.ws_port}/ws?token={_token(daemon.secrets)}"
        with trio.fail_after(RUN_SECONDS):
            async with open_websocket_url(url) as ws:
                assert json.loads(await ws.get_message())["type"] == "connected"
                daemon.proc.send_signal(signal.SIGTERM)
                with trio.fail_after(STOP_SECONDS), pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await ws.get_message()
        reason = closed.value.reason
        assert reason is not None and reason.code == 1001, reason
        with trio.fail_after(STOP_SECONDS):
            status, log = await daemon.wait_exit()
    assert status == 0 and "Traceback" not in log, log


async def test_sigint_exits_0(tmp_path: Path) -> None:
    async with _daemon(_ports0(tmp_path / "data")) as daemon:
        status, log = await daemon.stop(signal.SIGINT)
    assert status == 0 and "Traceback" not in log, log


async def test_second_signal_during_the_drain_forces_exit(tmp_path: Path) -> None:
    async with _daemon(_ports0(tmp_path / "data")) as daemon:
        client = await trio.open_tcp_stream("127.0.0.1", daemon.http_port)
        async with client:
            await client.send_all(_STUCK_REQUEST)
            with trio.fail_after(RUN_SECONDS):
                assert b" 100 " in await client.receive_some()  # the request reached the app
            daemon.proc.send_signal(signal.SIGTERM)
            with trio.fail_after(STOP_SECONDS):
                await daemon.stderr.until(re.compile("shutting down"))
            # Later than a copy of the first signal could be (those are the same stop request).
            with trio.move_on_after(DUPLICATE_SECONDS + 0.5):
                await daemon.proc.wait()
            assert daemon.proc.returncode is None, "precondition: the drain waits for the request"
            daemon.proc.send_signal(signal.SIGTERM)
            with trio.fail_after(PROMPT_SECONDS):
                assert await daemon.proc.wait() != 0


async def test_sd_notify_ready_then_watchdog_then_stopping(tmp_path: Path) -> None:
    # WATCHDOG_USEC of 1.5 s: the daemon pets every 0.5 s while healthy.
    with _notify_socket(tmp_path / "notify") as sock:
        env = _env(NOTIFY_SOCKET=str(tmp_path / "notify"), WATCHDOG_USEC="1500000")
        async with _spawn(_ports0(tmp_path / "data"), env) as daemon, httpx.AsyncClient() as client:
            with trio.fail_after(START_SECONDS):
                before_ready = await _notifications(sock, "READY=1")
            # In order: READY=1 first, then WATCHDOG=1 pings, then STOPPING=1.
            assert before_ready[-1] == "READY=1" and "WATCHDOG=1" not in before_ready, before_ready
            assert "STOPPING=1" not in before_ready
            # READY=1 means listening: the ready line is already written and /health answers
            # at once. The client's idle keep-alive connection must not hold up the stop.
            with trio.fail_after(PROMPT_SECONDS):
                await daemon.wait_ready()
                assert (await client.get(f"http://127.0.0.1:{daemon.http_port}/health")).status_code == 200
            with trio.fail_after(RUN_SECONDS):
                await _notifications(sock, "WATCHDOG=1")
            daemon.proc.send_signal(signal.SIGTERM)
            with trio.fail_after(STOP_SECONDS):
                await _notifications(sock, "STOPPING=1")
                assert (await daemon.wait_exit())[0] == 0


async def test_signal_during_start_up_stops_cleanly_and_never_reports_ready_after_stopping(
    tmp_path: Path,
) -> None:
    with _notify_socket(tmp_path / "notify") as sock:
        env = _env(NOTIFY_SOCKET=str(tmp_path / "notify"))
        async with _spawn(_ports0(tmp_path / "data"), env) as daemon:
            with trio.fail_after(START_SECONDS):
                await daemon.stderr.next()  # the first log line: start-up is under way
            status, log = await daemon.stop()
        states = _pending(sock)
    assert status == 0 and "Traceback" not in log, log
    if "STOPPING=1" in states:
        assert "READY=1" not in states[states.index("STOPPING=1") :], states


async def test_health_reports_components(tmp_path: Path) -> None:
    async with _daemon(_ports0(tmp_path / "data")) as daemon, httpx.AsyncClient() as client:
        with trio.fail_after(RUN_SECONDS):
            response = await client.get(f"http://127.0.0.1:{daemon.http_port}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["version"] == scsd.__version__
    assert Path(body["database"]["path"]) == tmp_path / "data" / "scsd.db"
    assert body["websocket"]["port"] == daemon.ws_port
    assert body["watcher"]["last_id"] == 0  # a fresh database


async def test_environment_configures_the_daemon(tmp_path: Path) -> None:
    data = tmp_path / "from-env"
    env = _env(SHARED_CONTEXT_DATA_DIR=str(data), SHARED_CONTEXT_PORT="0", SHARED_CONTEXT_WS_PORT="0")
    async with _daemon([], env) as daemon:
        assert daemon.secrets == data / "secrets.json"
        assert (await daemon.stop())[0] == 0


async def test_flags_beat_the_environment(tmp_path: Path) -> None:
    from_env = tmp_path / "from-env"
    with _busy_port() as busy:
        env = _env(SHARED_CONTEXT_DATA_DIR=str(from_env), SHARED_CONTEXT_PORT=str(busy))
        async with _daemon(_ports0(tmp_path / "from-flag"), env | {"SHARED_CONTEXT_WS_PORT": str(busy)}) as d:
            assert d.secrets == tmp_path / "from-flag" / "secrets.json"
            assert (await d.stop())[0] == 0
    assert not from_env.exists()


async def test_first_start_creates_data_dir_secrets_and_wal_database(tmp_path: Path) -> None:
    data = tmp_path / "new" / "nested"
    async with _daemon(_ports0(data)) as daemon:
        status, log = await daemon.stop()
    assert status == 0, log
    assert daemon.secrets == data / "secrets.json"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(daemon.secrets.stat().st_mode) == 0o600
    keys = json.loads(daemon.secrets.read_text(encoding="utf-8"))
    assert {"api_key", "admin_key", "jwt_secret"} <= keys.keys() and len(set(keys.values())) == len(keys)
    with closing(sqlite3.connect(data / "scsd.db")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
