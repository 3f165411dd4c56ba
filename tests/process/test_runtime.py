"""The runtime file: written atomically while the daemon runs and removed after, never
clobbering another live daemon's; stale files (a dead pid, a reused pid, garbage) are
ignored with a note and replaced; `locate` picks an explicit port, else the file, else the
configured port, and refuses port 0 with nowhere to look."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from scsd.config import Config
from scsd.errors import StartupError
from scsd.model import Endpoints
from scsd.process import runtime
from scsd.process.runtime import Runtime, find, locate, path_in, recorded

ENDPOINTS = Endpoints("0.0.0.0", 40001, "127.0.0.1", 40002)


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not this one."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _file_of(pid: int, data_dir: Path, **changes: object) -> Runtime:
    written = replace(Runtime.of_this_process(ENDPOINTS, "0.0.1"), pid=pid, **changes)
    data_dir.mkdir(exist_ok=True)
    path_in(data_dir).write_text(json.dumps(written.__dict__), encoding="utf-8")
    return written


def test_recorded_while_running_then_removed(tmp_path: Path) -> None:
    with recorded(tmp_path, ENDPOINTS, "0.0.1") as ours:
        assert ours is not None and find(tmp_path).runtime == ours
        data = json.loads(path_in(tmp_path).read_text(encoding="utf-8"))
        assert data["pid"] == os.getpid() and data["version"] == "0.0.1"
        assert data["http_url"] == "http://127.0.0.1:40001"  # a wildcard bind, reached on loopback
        assert (data["mcp_url"], data["ws_url"]) == ("http://127.0.0.1:40001/mcp", "ws://127.0.0.1:40002/ws")
        assert (data["port"], data["ws_port"], data["tls"]) == (40001, 40002, False)
        assert stat.S_IMODE(path_in(tmp_path).stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == [runtime.RUNTIME_FILENAME]  # no temporary left
    assert not path_in(tmp_path).exists()


def test_a_stale_file_is_ignored_with_a_note_and_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = _dead_pid()
    _file_of(dead, tmp_path)
    found = find(tmp_path)
    assert found.runtime is None and found.note is not None and f"pid {dead}" in found.note
    with caplog.at_level(logging.INFO), recorded(tmp_path, ENDPOINTS, "0.0.1") as ours:
        assert ours is not None and find(tmp_path).runtime == ours
    assert any("stale" in r.getMessage() and "replacing it" in r.getMessage() for r in caplog.records)


def test_a_reused_pid_is_not_the_daemon(tmp_path: Path, other_process: subprocess.Popen[bytes]) -> None:
    start = runtime._process_start(other_process.pid)
    if start is None:
        pytest.skip("no /proc here: only liveness can be checked")
    _file_of(other_process.pid, tmp_path, process_start=start + 1)
    assert find(tmp_path).runtime is None


def test_garbage_is_ignored_with_a_note(tmp_path: Path) -> None:
    path_in(tmp_path).write_text("{not json", encoding="utf-8")
    found = find(tmp_path)
    assert found.runtime is None and found.note is not None and "unreadable" in found.note


def test_another_live_daemons_file_is_kept(tmp_path: Path, other_process: subprocess.Popen[bytes]) -> None:
    theirs = _file_of(other_process.pid, tmp_path, process_start=runtime._process_start(other_process.pid))
    with recorded(tmp_path, ENDPOINTS, "0.0.1") as ours:
        assert ours is None and find(tmp_path).runtime == theirs
    assert find(tmp_path).runtime == theirs  # not removed by a daemon that never owned it


def test_locate_prefers_an_explicit_port_then_the_file_then_the_configuration(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path, port=45678)
    assert locate(config).http_url == "http://127.0.0.1:45678" and not locate(config).recorded
    with recorded(tmp_path, ENDPOINTS, "0.0.1"):
        assert locate(config).http_url == "http://127.0.0.1:40001" and locate(config).recorded
        explicit = replace(config, port=5555, sources=MappingProxyType({"port": "--port"}))
        assert locate(explicit).http_url == "http://127.0.0.1:5555"
        zero = replace(config, port=0, sources=MappingProxyType({"port": "--port"}))
        assert locate(zero).http_url == "http://127.0.0.1:40001"  # port 0 cannot be probed
    with pytest.raises(StartupError, match="no running scsd is recorded"):
        locate(replace(config, port=0))
    _file_of(_dead_pid(), tmp_path)
    with pytest.raises(StartupError, match="stale"):
        locate(replace(config, port=0))
    assert locate(config).notes and "stale" in locate(config).notes[0]
