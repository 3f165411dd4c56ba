"""Storage faults: a read-only, full, locked, damaged or newer database file gives the caller a
clear error, or the process one clear start-up line and status 2: no hang, no traceback, no
half-written row.

Start-up cases run a real `python -m scsd`; tool cases call the real tools through FastMCP
in-process, over a Store opened here (the disk-full case needs that Store's connection to
lower its page limit); the watcher case runs a real daemon in-process.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import trio

from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import Authority
from scsd.mcp import server as mcp_tools
from scsd.mcp.tools import Services
from scsd.model import Identity
from scsd.realtime.composing import Gate, TypingSignals
from scsd.realtime.hub import Hub
from scsd.store import Store, open_store, schema
from tests.kit.daemon import Running

RUN_SECONDS: Final = 30.0
SHORT_BUSY_SECONDS: Final = 0.5
WRITER: Final = Identity("agent-a", "claude", frozenset({"read", "write"}))
# Another process that holds the write lock until its stdin closes.
HOLD_LOCK: Final = (
    "import sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "conn.execute('BEGIN EXCLUSIVE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


def _scsd_status_2(tmp_path: Path, db: Path, *wrap: str) -> str:
    """Start `scsd serve --db db` (under `wrap`, if given); it must exit 2 with one line."""
    argv = [*wrap, sys.executable, "-m", "scsd", "--data-dir", str(tmp_path / "data"), "--port", "0"]
    argv += ["--ws-port", "0", "--db", str(db)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARED_CONTEXT_", "NOTIFY_SOCKET"))}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scsd:"), result.stderr
    return lines[0]


def _real_db(path: Path) -> Path:
    async def create() -> None:
        async with open_store(path) as store:
            await store.create_session("made by the test", "agent-a", {})

    trio.run(create)
    with closing(sqlite3.connect(path)) as conn:  # fold the WAL in: the file stands alone
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@contextmanager
def _immutable(path: Path) -> Iterator[None]:
    # Root ignores file modes; an immutable file refuses writes even to root, as a file owned
    # by another user refuses them to the daemon's user.
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_db_file_is_one_line_and_status_2(tmp_path: Path) -> None:
    db = _real_db(tmp_path / "scsd.db")
    with _immutable(db):
        line = _scsd_status_2(tmp_path, db)
    assert f"database {db} is read-only" in line and "writable" in line


def test_db_on_a_read_only_file_system_is_one_line_and_status_2(tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir()
    db = _real_db(tmp_path / "ro" / "scsd.db")
    ro = str(db.parent)
    # A private mount namespace in which the directory is a read-only bind mount of itself.
    wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c",
            f'mount --bind "{ro}" "{ro}" && mount -o remount,ro,bind "{ro}" && exec "$0" "$@"']  # fmt: skip
    if shutil.which("unshare") is None or subprocess.run([*wrap, "true"]).returncode:
        pytest.skip("cannot mount a read-only bind here (needs CAP_SYS_ADMIN)")
    line = _scsd_status_2(tmp_path, db, *wrap)
    assert f"database {db} is read-only" in line and "read-only file system" in line


@pytest.mark.parametrize("damage", ["random", "truncated", "garbage_pages", "text"])
def test_damaged_db_is_one_line_and_status_2(tmp_path: Path, damage: str) -> None:
    db = _real_db(tmp_path / "scsd.db")
    data = db.read_bytes()
    damaged = {
        "random": os.urandom(len(data)),
        "truncated": data[: len(data) // 3],
        "garbage_pages": data[:4096] + os.urandom(len(data) - 4096),  # valid header page
        "text": b"not a database at all\n" * 100,
    }[damage]
    db.write_bytes(damaged)
    line = _scsd_status_2(tmp_path, db)
    assert f"database {db} is damaged or not an SQLite database" in line and "backup" in line
    assert db.read_bytes() == damaged  # refused, not "repaired" or overwritten


def test_newer_schema_db_is_one_line_and_status_2(tmp_path: Path) -> None:
    db = _real_db(tmp_path / "scsd.db")
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    line = _scsd_status_2(tmp_path, db)
    assert f"schema version {schema.SCHEMA_VERSION + 1}" in line and "upgrade scsd" in line


class _Tools:
    """The real tools, enveloped as over MCP, over `store`; the caller is a local identity."""

    def __init__(self, store: Store) -> None:
        authority = Authority("a" * 32, "b" * 32, "c" * 32, 3600)
        gatekeeper, typing = Gatekeeper(authority, store.is_revoked), TypingSignals(store, Gate())
        self.server = mcp_tools.build(
            Services(store, Hub(16), gatekeeper, typing, dict, local_identity=WRITER)
        )

    async def call(self, tool: str, **args: Any) -> dict[str, Any]:
        result = await self.server.call_tool(tool, args)
        assert isinstance(result.structured_content, dict), result
        return result.structured_content


def _counts(db: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(db)) as conn:
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        indexed = conn.execute("SELECT count(*) FROM messages_fts").fetchone()[0]
    return int(messages), int(indexed)


@asynccontextmanager
async def _tools(db: Path, **store_args: Any) -> AsyncIterator[tuple[Store, _Tools, str]]:
    async with open_store(db, **store_args) as store:
        tools = _Tools(store)
        created = await tools.call("create_session", purpose="storage faults")
        assert created["success"], created
        yield store, tools, created["session_id"]


async def test_disk_full_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "scsd.db"
    with trio.fail_after(RUN_SECONDS):
        async with _tools(db) as (store, tools, sid):
            assert (await tools.call("add_message", session_id=sid, content="fits"))["success"]
            before = _counts(db)
            # The test's own Store: its write connection may use only a few more pages, which
            # a message row fits in but its search-index rows do not. (`_db` is the Store's
            # connection; lowering this limit is how SQLite lets a test run out of disk.)
            pages = store._db.execute("PRAGMA page_count").fetchone()[0]
            store._db.execute(f"PRAGMA max_page_count = {pages + 8}")
            big = "".join(chr(ord("a") + b % 26) for b in os.urandom(30_000))
            full = await tools.call("add_message", session_id=sid, content=big)
            assert not full["success"] and full["code"] == "DATABASE_UNAVAILABLE", full
            assert full["context"]["reason"] == "disk_full" and "disk" in full["error"]
            assert "nothing was written" in full["error"]
            assert _counts(db) == before  # no message without its index row, or the reverse
            read = await tools.call("get_messages", session_id=sid)
            assert read["success"] and [m["content"] for m in read["messages"]] == ["fits"]
            store._db.execute("PRAGMA max_page_count = 1073741823")
            again = await tools.call("add_message", session_id=sid, content=big)
            assert again["success"], again
        assert _counts(db) == (before[0] + 1, before[1] + 1)


@asynccontextmanager
async def _locked_by_another_process(db: Path) -> AsyncIterator[None]:
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        said = b""
        while not said.endswith(b"\n"):
            chunk = await proc.stdout.receive_some()
            assert chunk, "the lock holder exited early"
            said += chunk
        assert said == b"locked\n"
        yield
        await proc.stdin.aclose()  # the holder exits; its lock goes with it
        assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_locked_past_the_busy_timeout_is_a_clear_error_then_writes_resume(tmp_path: Path) -> None:
    db = tmp_path / "scsd.db"
    with trio.fail_after(RUN_SECONDS):
        async with _tools(db, busy_timeout_seconds=SHORT_BUSY_SECONDS) as (_, tools, sid):
            before = _counts(db)
            async with _locked_by_another_process(db):
                started = trio.current_time()
                busy = await tools.call("add_message", session_id=sid, content="waits")
                waited = trio.current_time() - started
                assert not busy["success"] and busy["code"] == "DATABASE_UNAVAILABLE", busy
                assert busy["context"] == {"reason": "busy", "retry_after": 5}
                assert busy["retry_after"] == 5  # also where the reference puts it
                assert "locked by another process" in busy["error"] and "Retry" in busy["error"]
                assert waited >= SHORT_BUSY_SECONDS * 0.9  # it waited for the lock, then gave up
                # WAL: readers are not blocked by another process's write lock.
                assert (await tools.call("get_messages", session_id=sid))["success"]
                assert _counts(db) == before
            assert (await tools.call("add_message", session_id=sid, content="after"))["success"]


async def test_daemon_reads_while_another_process_holds_the_write_lock(running: Running) -> None:
    with trio.fail_after(RUN_SECONDS):
        mcp = running.mcp(Authorization=f"Bearer {await running.token('alice')}")
        sid = (await mcp.call("create_session", purpose="locked"))["session_id"]
        assert (await mcp.call("add_message", session_id=sid, content="before the lock"))["success"]
        async with _locked_by_another_process(running.config.database):
            read = await mcp.call("get_messages", session_id=sid)
            assert [m["content"] for m in read["messages"]] == ["before the lock"]
            assert (await _health(running))[0] == 200


async def _health(running: Running) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{running.endpoints.http_url}/health")
    return response.status_code, response.json()


async def _health_until(running: Running, status: int) -> dict[str, Any]:
    """Polls /health until it answers `status` (the watcher retries with backoff ≤ 5 s)."""
    while True:
        code, body = await _health(running)
        if code == status:
            return body
        await trio.sleep(0.05)


async def test_health_is_degraded_while_the_watcher_cannot_read_and_recovers(running: Running) -> None:
    db = running.config.database
    with trio.fail_after(RUN_SECONDS):
        assert (await _health(running))[0] == 200
        # Another process breaks the watcher's change-log read: a real SQLite error on every poll.
        with closing(sqlite3.connect(db, isolation_level=None)) as other:
            other.execute("ALTER TABLE change_log RENAME TO change_log_away")
            body = await _health_until(running, 503)
            assert body["status"] == "degraded" and body["watcher"]["status"] == "down"
            assert "change_log" in body["watcher"]["error"]
            assert body["database"]["status"] == "ok"  # the write connection still reads
            other.execute("ALTER TABLE change_log_away RENAME TO change_log")
        body = await _health_until(running, 200)
        assert body["watcher"]["status"] == "ok" and "error" not in body["watcher"]
        mcp = running.mcp(Authorization=f"Bearer {await running.token('alice')}")
        assert (await mcp.call("create_session", purpose="after recovery"))["success"]
