"""scsd.store.commits: other connections' commits to a real SQLite file in WAL mode raise the
wake-up (inotify on its directory); forced polling never does; the mode is chosen honestly."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from scsd.errors import StartupError
from scsd.store import commits, open_store


class Wakes:
    def __init__(self) -> None:
        self.count = 0
        self._event = trio.Event()

    def __call__(self) -> None:
        self.count += 1
        self._event.set()

    async def next(self) -> None:
        await self._event.wait()
        self._event = trio.Event()


def _commit_elsewhere(path: Path, sql: str) -> Callable[[], None]:
    def run() -> None:
        with sqlite3.connect(path) as conn:  # another connection: as another process would
            conn.execute(sql)

    return run


async def test_a_commit_by_another_connection_wakes_the_watcher(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    db = tmp_path / "scsd.db"
    async with open_store(db):  # creates the file in WAL mode
        pass
    wakes = Wakes()
    with trio.fail_after(20):
        assert await nursery.start(commits.signal_commits, db, "auto", wakes) == "inotify"
        for sql in ("CREATE TABLE t (x)", "INSERT INTO t VALUES (1)"):
            await trio.to_thread.run_sync(_commit_elsewhere(db, sql))
            await wakes.next()


async def test_only_the_databases_wal_counts(tmp_path: Path) -> None:
    db = tmp_path / "scsd.db"
    async with open_store(db):
        pass
    watch = commits.Inotify(tmp_path, db.name + "-wal")
    try:
        # Events are queued by the kernel during the write itself: no waiting needed.
        (tmp_path / "other.txt").write_text("not the database")
        _commit_elsewhere(tmp_path / "other.db", "CREATE TABLE u (y)")()
        _commit_elsewhere(db.with_name("scsd.db-journal-lookalike"), "CREATE TABLE v (z)")()
        assert watch.read_nowait() is False
        _commit_elsewhere(db, "CREATE TABLE t (x)")()
        assert watch.read_nowait() is True
        assert watch.read_nowait() is False  # each event is read once
    finally:
        watch.close()


async def test_polling_asked_for_never_wakes(nursery: trio.Nursery, tmp_path: Path) -> None:
    db = tmp_path / "scsd.db"
    async with open_store(db):
        pass
    wakes = Wakes()
    with trio.fail_after(20):
        assert await nursery.start(commits.signal_commits, db, "poll", wakes) == "poll"
        await trio.to_thread.run_sync(_commit_elsewhere(db, "CREATE TABLE t (x)"))
        await trio.sleep(0.2)
    assert wakes.count == 0


async def test_insisting_on_inotify_where_it_cannot_work_is_a_startup_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "scsd.db"
    with trio.fail_after(10), pytest.raises(StartupError, match="commit_signal = auto"):
        await commits.signal_commits(missing, "inotify", Wakes(), trio.TASK_STATUS_IGNORED)


def test_the_mode_follows_the_setting_and_the_file_system(tmp_path: Path) -> None:
    db = tmp_path / "scsd.db"
    assert commits.choose_mode(db, "poll")[0] == "poll"
    assert commits.choose_mode(db, "inotify")[0] == "inotify"
    assert commits.choose_mode(db, "auto")[0] == "inotify"  # a local file system on Linux
    assert commits.filesystem_type(tmp_path) is not None
    assert commits.filesystem_type(Path("/")) is not None
    assert "nfs" in commits.REMOTE_FILESYSTEMS and "fuse" not in commits.REMOTE_FILESYSTEMS
