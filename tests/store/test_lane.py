"""scsd.store._lane: reads run on read connections of their own, so a write in progress
(here held open on purpose) never holds a read up; writes stay on one lane, in order."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlite_utils
import trio

from scsd.model import Identity
from scsd.store import open_store

ALICE = Identity("alice", "claude", frozenset({"read", "write"}))


async def test_a_read_completes_while_a_write_is_in_progress(tmp_path: Path) -> None:
    async with open_store(tmp_path / "t.db") as store:
        session = await store.create_session("p", "alice", {})
        inside, release = threading.Event(), threading.Event()

        def slow_write(db: sqlite_utils.Database) -> None:
            db.execute("UPDATE sessions SET purpose = 'changed' WHERE id = ?", [session.id])
            inside.set()
            release.wait(30)  # the write transaction stays open until the read is done

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(store._write, slow_write)
                await trio.to_thread.run_sync(inside.wait)
                read = await store.get_session(session.id)  # not behind the write lane
                page = await store.get_messages(session.id, ALICE, visibilities=("public",))
                release.set()
        assert read.purpose == "p"  # the uncommitted change is not seen: a separate connection
        assert page.total_count == 0
        assert (await store.get_session(session.id)).purpose == "changed"


async def test_without_read_connections_reads_share_the_write_lane(tmp_path: Path) -> None:
    async with open_store(tmp_path / "t.db", read_connections=0) as store:
        session = await store.create_session("p", "alice", {})
        assert (await store.get_session(session.id)).purpose == "p"


async def test_read_connections_refuse_writes(tmp_path: Path) -> None:
    async with open_store(tmp_path / "t.db") as store:
        await store.create_session("p", "alice", {})

        def sneaky(db: sqlite_utils.Database) -> None:
            db.execute("DELETE FROM sessions")

        try:
            await store._call(sneaky)
        except Exception as e:  # sqlite3 refuses: "attempt to write a readonly database"
            assert "readonly" in str(e).lower() or "read-only" in str(e).lower(), e
        else:
            raise AssertionError("a read connection accepted a write")
        assert len(await store.list_sessions(10, 0, False)) == 1
