"""Crash-safety harness: the process and its clients (no pytest here: bench/ imports it too).

A real `python -m scsd serve` on port 0 logging to a file, MCP writers speaking plain
Streamable HTTP JSON-RPC (httpx under trio: lighter than a fastmcp client per writer), and a
WebSocket follower that resumes with `since_id`. The checks live in bench/crash_loop.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from scsd.access.tokens import Authority
from scsd.model import Identity

START_SECONDS: Final = 30.0  # imports alone take ~3 s; a loaded CI box needs slack
STOP_SECONDS: Final = 5.0  # SPEC §2: exit within the grace period (default 5 s)
POLL_SECONDS: Final = 0.02
HTTP_TIMEOUT_SECONDS: Final = 30.0
READY_LINE: Final = re.compile(r"scsd ready: UI http://\S+:(\d+)/ui/ .* ws://\S+:(\d+)/ws\s")
_NOT_INHERITED: Final = ("SHARED_CONTEXT_", "LOG_LEVEL", "NOTIFY_SOCKET", "WATCHDOG_", "STATE_DIRECTORY")
_HEADERS: Final = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class NoResponse(Exception):
    """The request got no response at all: refused, reset or closed before the status line."""


class HalfResponse(Exception):
    """A response started (status line received) but was cut off or carried no result."""


@dataclass
class Daemon:
    proc: trio.Process
    log: Path
    http_port: int = 0
    ws_port: int = 0

    @property
    def mcp_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/mcp"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def wait_log(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """Poll the log file until `pattern` appears (the caller sets the deadline)."""
        while not (match := pattern.search(self.log_text())):
            if self.proc.returncode is not None:
                raise AssertionError(f"scsd exited ({self.proc.returncode}):\n{self.log_text()}")
            await trio.sleep(POLL_SECONDS)
        return match


@asynccontextmanager
async def spawn_daemon(data_dir: Path, log: Path, *, wait_ready: bool = True) -> AsyncIterator[Daemon]:
    """Start `python -m scsd serve` on free ports, wait for its ready line (unless told not
    to: then the ports stay 0); kill it on exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    argv = [
        sys.executable,
        "-m",
        "scsd",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        "0",
        "--ws-port",
        "0",
    ]
    with log.open("wb") as sink:
        proc = await trio.lowlevel.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=sink, env=env
        )
    try:
        daemon = Daemon(proc, log)
        if wait_ready:
            with trio.fail_after(START_SECONDS):
                match = await daemon.wait_log(READY_LINE)
            daemon.http_port, daemon.ws_port = int(match[1]), int(match[2])
        yield daemon
    finally:
        if proc.returncode is None:
            proc.kill()
        with trio.move_on_after(STOP_SECONDS):
            await proc.wait()


class FixedPortDaemon:
    """`python -m scsd serve` on fixed ports, started, killed by its PID (SIGKILL: no drain, as
    a crash) and started again on the same ports, as systemd would. Synchronous (Popen), so a
    browser test drives it from Playwright's thread and bench/ui_recovery.py from its main."""

    def __init__(self, data_dir: Path, logs: Path, http_port: int, ws_port: int) -> None:
        self.data_dir, self.logs = data_dir, logs
        self.ports = (http_port, ws_port)
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> float:
        """Start it and wait for its ready line; returns `time.time()` when it was seen."""
        self.runs += 1
        log = self.logs / f"scsd-{self.runs}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
        argv = [sys.executable, "-m", "scsd", "serve", "--data-dir", str(self.data_dir),
                "--port", str(self.ports[0]), "--ws-port", str(self.ports[1])]  # fmt: skip
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=sink, env=env
            )
        deadline = time.monotonic() + START_SECONDS
        while not (match := READY_LINE.search(log.read_text(encoding="utf-8", errors="replace"))):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"scsd did not start:\n{log.read_text(errors='replace')}")
            time.sleep(POLL_SECONDS)
        ready = time.time()
        if (int(match[1]), int(match[2])) != self.ports:
            raise AssertionError(f"scsd listens on {match[1]}/{match[2]}, not {self.ports}")
        return ready

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_SECONDS * 2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_SECONDS * 2)


def mint_token(data_dir: Path, agent_id: str) -> str:
    """A read+write token signed with the daemon's own secret (it survives restarts)."""
    keys = json.loads((data_dir / "secrets.json").read_text(encoding="utf-8"))
    authority = Authority(keys["api_key"], keys["admin_key"], keys["jwt_secret"], 3600)
    return authority.issue(Identity(agent_id, "claude", frozenset({"read", "write"}))).token


class McpClient:
    """One MCP session over plain JSON-RPC POSTs; every call is classified, never guessed."""

    def __init__(self, client: httpx.AsyncClient, url: str, token: str) -> None:
        self._client, self._url = client, url
        self._headers = {**_HEADERS, "Authorization": f"Bearer {token}"}
        self._next_id = 1

    async def open(self) -> None:
        params = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "crash", "version": "0"},
        }
        response, _ = await self._post({"id": 0, "method": "initialize", "params": params})
        self._headers["mcp-session-id"] = response.headers["mcp-session-id"]
        await self._post({"method": "notifications/initialized"})

    async def call(self, tool: str, **args: Any) -> dict[str, Any]:
        """The tool's structured result. Raises NoResponse, HalfResponse, or HTTPStatusError (5xx)."""
        call_id, self._next_id = self._next_id, self._next_id + 1
        body = {"id": call_id, "method": "tools/call", "params": {"name": tool, "arguments": args}}
        response, text = await self._post(body)
        for line in text.splitlines():  # an SSE stream or plain JSON
            if line.startswith(("data:", "{")):
                message = json.loads(line.removeprefix("data:"))
                if message.get("id") == call_id and "result" in message:
                    result: dict[str, Any] = message["result"]["structuredContent"]
                    return result
        raise HalfResponse(f"HTTP {response.status_code} without a result: {text[:200]!r}")

    async def _post(self, body: dict[str, Any]) -> tuple[httpx.Response, str]:
        request = self._client.build_request(
            "POST", self._url, json={"jsonrpc": "2.0", **body}, headers=self._headers
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TransportError as e:
            raise NoResponse(repr(e)) from e
        try:
            text = (await response.aread()).decode()
        except httpx.TransportError as e:
            raise HalfResponse(repr(e)) from e
        finally:
            await response.aclose()
        response.raise_for_status()  # a 4xx/5xx is a failure of its own kind, never "success"
        return response, text


@dataclass
class WriterLog:
    """What one writer saw: acknowledged (seq, id) pairs and how its loop ended."""

    writer: int
    acked: list[tuple[int, int]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # success: false
    ended_by: str = ""  # "no-response", "half-response", "http-<status>"


def content_of(round_no: int, writer: int, seq: int) -> str:
    return f"r{round_no} w{writer} n{seq}"


async def write_until_failure(
    url: str,
    token: str,
    session_id: str,
    round_no: int,
    log: WriterLog,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Open an MCP session (then `started()`), then add_message as fast as answers come,
    recording every success, until a call fails.

    Opening comes first because a daemon takes ~60 ms of CPU per new MCP session: ten writers
    starting together would otherwise spend the first second of a round initializing.
    """
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
        mcp = McpClient(client, url, token)
        await mcp.open()
        task_status.started()
        try:
            for seq in range(sys.maxsize):
                content = content_of(round_no, log.writer, seq)
                reply = await mcp.call("add_message", session_id=session_id, content=content)
                if reply.get("success") is True:
                    log.acked.append((seq, int(reply["message_id"])))
                else:
                    log.rejected.append(reply)
        except NoResponse:
            log.ended_by = "no-response"
        except HalfResponse:
            log.ended_by = "half-response"
        except httpx.HTTPStatusError as e:
            log.ended_by = f"http-{e.response.status_code}"


async def call_once(url: str, token: str, tool: str, **args: Any) -> dict[str, Any]:
    """One tool call in a fresh MCP session; asserts it succeeded."""
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
        mcp = McpClient(client, url, token)
        await mcp.open()
        reply = await mcp.call(tool, **args)
    assert reply.get("success") is True, reply
    return reply


async def create_session(url: str, token: str) -> str:
    return str((await call_once(url, token, "create_session", purpose="crash safety"))["session_id"])


@dataclass
class Follower:
    """A WebSocket subscriber that keeps its ids across connections and resumes from the last."""

    session_id: str
    ids: list[int] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    _news: trio.lowlevel.ParkingLot = field(default_factory=trio.lowlevel.ParkingLot)

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    async def follow(self, ws_url: str, token: str, *, task_status: trio.TaskStatus[None]) -> None:
        """Connect, subscribe with since_id = last id; `started()` once subscribed; record
        `new_message` ids until the connection closes (its close code is kept)."""
        async with open_websocket_url(f"{ws_url}?token={token}") as ws:
            args = {"session_id": self.session_id, "since_id": self.last_id}
            await ws.send_message(json.dumps({"tool": "subscribe", "arguments": args}))
            try:
                while True:
                    event = json.loads(await ws.get_message())
                    if event["type"] == "subscribed":
                        task_status.started()
                    elif event["type"] == "new_message":
                        self.ids.append(int(event["data"]["id"]))
                        self._news.unpark_all()
                    elif event["type"] == "error":
                        raise AssertionError(f"subscriber got an error: {event}")
            except ConnectionClosed as closed:
                self.close_codes.append(closed.reason.code if closed.reason else None)
                self._news.unpark_all()

    async def wait_closed(self, connections: int) -> int | None:
        """The close code of connection number `connections` (1-based), once it has closed."""
        while len(self.close_codes) < connections:
            await self._news.park()
        return self.close_codes[connections - 1]

    async def wait_for(self, last_id: int) -> None:
        """Return once `last_id` has arrived (the caller sets the deadline)."""
        while self.last_id < last_id:
            await self._news.park()
