"""The sweeper deletes expired memory and old revocations; live entries stay."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import trio

from scsd.store import open_store, sweeper


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:  # a second connection, as another process would see it
        return conn.execute(sql).fetchall()


async def test_sweeper_deletes_expired_memory_of_every_agent(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with trio.fail_after(10):
        async with open_store(path) as store, trio.open_nursery() as nursery:
            await store.set_memory("alice", None, "old", 1, {}, 60, True)
            await store.set_memory("bob", None, "old", 2, {}, 60, True)
            await store.set_memory("alice", None, "keep", 3, {}, None, True)
            await store.set_memory("alice", None, "later", 4, {}, 3600, True)
            await store.revoke_token("gone", 1)  # expired long ago
            await store.revoke_token("fresh", 2**40)
            with sqlite3.connect(path) as conn:  # make the first two expire in the past
                conn.execute("UPDATE agent_memory SET expires_at = 1 WHERE key = 'old'")
            await nursery.start(sweeper.run, store, 3600.0)  # started() after the first sweep
            nursery.cancel_scope.cancel()
    assert sorted(_rows(path, "SELECT agent_id, key FROM agent_memory")) == [
        ("alice", "keep"), ("alice", "later")]  # fmt: skip
    assert _rows(path, "SELECT token_id FROM revoked_tokens") == [("fresh",)]


async def test_expired_entries_are_never_returned_before_the_sweep(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with trio.fail_after(10):
        async with open_store(path) as store:
            await store.set_memory("alice", None, "old", {"v": 1}, {}, 60, True)
            with sqlite3.connect(path) as conn:
                conn.execute("UPDATE agent_memory SET expires_at = 1")
            assert await store.list_memory("alice", None, None, 50) == []
            entry = await store.set_memory("alice", None, "old", {"v": 2}, {}, None, False)
    # overwrite=False succeeds because the old entry was expired; created_at is fresh.
    assert entry.value == {"v": 2} and entry.created_at == entry.updated_at
