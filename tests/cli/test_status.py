"""`scsd status`: a real `python -m scsd status` against a real daemon (also one on port 0,
found through its runtime file), a dead port, a crashed daemon's stale runtime file, and a
daemon that reports itself degraded."""

from __future__ import annotations

import json
import re
import signal
import socket
from functools import partial
from pathlib import Path

import trio

from scsd.cli.status import health_url, render
from scsd.config import Config
from scsd.process.runtime import path_in
from tests.kit.cli import run_scsd
from tests.kit.crash import spawn_daemon
from tests.kit.daemon import Running


def _lines(out: bytes) -> dict[str, str]:
    """The human output as label → value."""
    pairs = (line.split(None, 1) for line in out.decode().splitlines() if line.strip())
    return {label: value for label, value in pairs}


def _target(running: Running) -> tuple[str, ...]:
    return ("--data-dir", str(running.config.data_dir), "--port", str(running.endpoints.http_port))


async def test_status_json_of_a_running_daemon(running: Running) -> None:
    done = await run_scsd("status", "--json", *_target(running))
    assert done.returncode == 0, done.stderr
    health = json.loads(done.stdout)
    assert health["status"] == "ok"
    assert health["websocket"]["port"] == running.endpoints.ws_port
    assert health["database"]["path"] == str(running.config.database)
    assert health["database"]["size_bytes"] >= running.config.database.stat().st_size > 0


async def test_status_human_output_probes_loopback_for_a_wildcard_host(running: Running) -> None:
    done = await run_scsd("status", "--host", "0.0.0.0", *_target(running))
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stdout)
    assert lines["status"] == "ok"
    assert lines["http"] == f"http://127.0.0.1:{running.endpoints.http_port}"
    assert lines["websocket"] == f"ws://127.0.0.1:{running.endpoints.ws_port}/ws"
    assert lines["connections"] == "0"
    assert lines["watcher"].startswith("ok, last id 0, lag ")
    assert lines["database"] == f"ok, {running.config.database}"
    assert lines["size"].endswith(" bytes") and int(lines["size"].split()[0]) > 0
    assert lines["rows"] == "0 sessions, 0 messages"


async def test_status_finds_a_daemon_on_port_0_through_its_runtime_file(running: Running) -> None:
    assert running.config.port == 0  # nothing to pass as --port
    done = await run_scsd("status", "--json", "--data-dir", str(running.config.data_dir))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["websocket"]["port"] == running.endpoints.ws_port
    human = _lines((await run_scsd("status", "--data-dir", str(running.config.data_dir))).stdout)
    assert human["http"] == running.endpoints.http_url


async def test_a_crashed_daemons_runtime_file_is_stale_then_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with spawn_daemon(data, tmp_path / "first.log") as first:
        assert json.loads(path_in(data).read_text())["pid"] == first.proc.pid
        first.proc.send_signal(signal.SIGKILL)  # no clean stop: the file stays behind
        with trio.fail_after(30):
            await first.proc.wait()
    assert path_in(data).exists()
    done = await run_scsd("status", "--data-dir", data, "--port", "0")
    assert done.returncode == 2 and b"stale" in done.stderr and str(first.proc.pid).encode() in done.stderr
    async with spawn_daemon(data, tmp_path / "second.log") as second:
        with trio.fail_after(30):
            await second.wait_log(re.compile("stale runtime file .* replacing it"))
        assert json.loads(path_in(data).read_text())["pid"] == second.proc.pid
        done = await run_scsd("status", "--json", "--data-dir", data)
        assert done.returncode == 0 and json.loads(done.stdout)["websocket"]["port"] == second.ws_port
        second.proc.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            assert await second.proc.wait() == 0
    assert not path_in(data).exists()  # a clean stop removes it


async def test_status_without_a_daemon_exits_3(tmp_path: Path) -> None:
    with socket.socket() as reserved:  # bound, never listening: connections are refused
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        done = await run_scsd("status", "--data-dir", tmp_path, "--port", str(port))
    assert done.returncode == 3
    assert done.stdout == b""
    message = done.stderr.decode().strip()
    assert message == f"scsd: no scsd answering at http://127.0.0.1:{port}; is it running? (scsd serve)"


async def _answer_degraded(stream: trio.SocketStream) -> None:
    body = json.dumps(
        {
            "status": "degraded",
            "version": "0.1.0",
            "database": {"status": "error", "path": "/nowhere/scsd.db", "error": "disk I/O error"},
            "websocket": {"host": "::1", "port": 8080, "connections": 2},
            "watcher": {"status": "down", "last_id": 7, "lag_seconds": None},
        }
    ).encode()
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = await stream.receive_some()
        if not chunk:
            return
        received += chunk
    head = (
        f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    )
    await stream.send_all(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
    await stream.aclose()


async def test_status_of_a_degraded_daemon_exits_1(nursery: trio.Nursery, tmp_path: Path) -> None:
    listeners = await nursery.start(partial(trio.serve_tcp, _answer_degraded, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    done = await run_scsd("status", "--data-dir", tmp_path, "--port", str(port))
    assert done.returncode == 1, done.stderr
    lines = _lines(done.stdout)
    assert (lines["status"], lines["error"], lines["size"]) == ("degraded", "disk I/O error", "unknown")
    assert lines["websocket"] == "ws://[::1]:8080/ws"
    assert lines["watcher"] == "down, last id 7, lag -"
    as_json = await run_scsd("status", "--json", "--data-dir", tmp_path, "--port", str(port))
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["watcher"]["status"] == "down"


def test_health_url_maps_wildcards_to_loopback() -> None:
    assert health_url(Config(host="0.0.0.0", port=5)) == "http://127.0.0.1:5/health"
    assert health_url(Config(host="::", port=5)) == "http://127.0.0.1:5/health"
    assert health_url(Config(host="::1", port=5)) == "http://[::1]:5/health"
    assert health_url(Config(host="example.org", port=5)) == "http://example.org:5/health"


def test_render_tolerates_a_minimal_document() -> None:
    text = render({"status": "ok"}, "http://127.0.0.1:1")
    assert text.splitlines()[0].split() == ["status", "ok"]
