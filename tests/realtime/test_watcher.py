"""Tests for scsd.watcher: baseline, id order, wake-ups, polling, backoff; one real-SQLite test."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import trio.testing

from scsd.errors import StoreUnavailable
from scsd.model import Identity, Message, Session
from scsd.realtime import watcher
from scsd.realtime.changes import Change
from scsd.realtime.hub import ALL_SESSIONS, Hub, Subscription
from scsd.realtime.inbox import Inbox
from scsd.store import Store, open_reader, open_store

S1 = "session_" + "a" * 16
S2 = "session_" + "b" * 16
POLL_SECONDS = 10.0
# autojump_clock tests: a deadline in virtual time, so a lost message fails fast instead of hanging.
VIRTUAL_DEADLINE_SECONDS = 1000


def message(message_id: int, session_id: str = S1) -> Message:
    return Message(
        id=message_id,
        session_id=session_id,
        sender="agent-a",
        sender_type="claude",
        content=f"message {message_id}",
        visibility="public",
        message_type="agent_response",
        metadata={},
        timestamp=1_700_000_000_000_000 + message_id,
        parent_message_id=None,
    )


class FakeSource:
    """An in-memory MessageSource: a list of messages, and a number of polls to fail."""

    def __init__(self, messages: list[Message] | None = None) -> None:
        self.messages = list(messages or [])
        self.fail_next = 0
        self.poll_times: list[float] = []
        self.after_ids: list[int] = []
        self.gate: trio.Event | None = None  # when set, a poll holds its snapshot until the gate opens

    def add(self, *ids: int, session_id: str = S1) -> None:
        self.messages.extend(message(i, session_id) for i in ids)

    async def max_id(self) -> int:
        await trio.lowlevel.checkpoint()
        return max((m.id for m in self.messages), default=0)

    async def sessions(self, session_ids: Collection[str]) -> list[Session]:
        await trio.lowlevel.checkpoint()
        return []  # these tests count new_message changes only

    async def changes_after(self, limit: int) -> list[Change]:
        await trio.lowlevel.checkpoint()
        return []

    async def messages_after(self, after_id: int, limit: int) -> list[Message]:
        await trio.lowlevel.checkpoint()
        self.poll_times.append(trio.current_time())
        self.after_ids.append(after_id)
        if self.fail_next:
            self.fail_next -= 1
            raise StoreUnavailable("disk I/O error")
        snapshot = sorted((m for m in self.messages if m.id > after_id), key=lambda m: m.id)[:limit]
        if self.gate is not None:
            await self.gate.wait()
        return snapshot


async def receive_ids(sub_receive: Inbox[Change], count: int) -> list[int]:
    return [(await sub_receive.receive()).message.id for _ in range(count)]


async def test_baseline_is_max_id_and_older_messages_are_not_published(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """`started()` gets the newest id at start; only newer messages are published."""
    with trio.fail_after(VIRTUAL_DEADLINE_SECONDS):
        source = FakeSource([message(i) for i in (1, 2, 7)])
        hub, wakeup, state = Hub(buffer=100), watcher.Wakeup(), watcher.WatcherState()
        with hub.subscribe() as sub:
            sub.add(S1)
            async with trio.open_nursery() as nursery:
                baseline = await nursery.start(watcher.run, source, hub, wakeup, POLL_SECONDS, state)
                assert baseline == 7
                assert state.last_id == 7
                assert state.running
                await trio.sleep(5 * POLL_SECONDS)  # several idle polls
                assert source.after_ids and set(source.after_ids) == {7}
                source.add(8)
                wakeup.set()
                assert await receive_ids(sub.receive, 1) == [8]
                await trio.sleep(5 * POLL_SECONDS)
                with pytest.raises(trio.WouldBlock):
                    sub.receive.receive_nowait()
                nursery.cancel_scope.cancel()
        assert not state.running
        assert hub.statistics().published == 1


async def test_publishes_in_id_order_across_batches(autojump_clock: trio.testing.MockClock) -> None:
    """More than one batch of new messages arrives complete and in id order."""
    with trio.fail_after(VIRTUAL_DEADLINE_SECONDS):
        source = FakeSource()
        count = 2 * watcher.BATCH + 17
        hub, wakeup, state = Hub(buffer=count + 10), watcher.Wakeup(), watcher.WatcherState()
        with hub.subscribe() as one, hub.subscribe() as two:
            one.add(S1)
            two.add(S2)
            async with trio.open_nursery() as nursery:
                await nursery.start(watcher.run, source, hub, wakeup, POLL_SECONDS, state)
                for i in range(1, count + 1):
                    source.add(i, session_id=S1 if i % 2 else S2)
                wakeup.set()
                odd = await receive_ids(one.receive, (count + 1) // 2)
                even = await receive_ids(two.receive, count // 2)
                nursery.cancel_scope.cancel()
        assert odd == list(range(1, count + 1, 2))
        assert even == list(range(2, count + 1, 2))
        assert state.last_id == count


async def test_wakeup_delivers_before_the_poll_interval(autojump_clock: trio.testing.MockClock) -> None:
    """An in-process write that sets the Wakeup is published without waiting for the poll."""
    with trio.fail_after(VIRTUAL_DEADLINE_SECONDS):
        source = FakeSource([message(1)])
        hub, wakeup, state = Hub(buffer=10), watcher.Wakeup(), watcher.WatcherState()
        with hub.subscribe() as sub:
            sub.add(S1)
            async with trio.open_nursery() as nursery:
                await nursery.start(watcher.run, source, hub, wakeup, POLL_SECONDS, state)
                await trio.sleep(POLL_SECONDS / 2)  # mid-interval: the next poll is 5 s away
                written_at = trio.current_time()
                source.add(2)
                wakeup.set()
                assert await receive_ids(sub.receive, 1) == [2]
                assert trio.current_time() - written_at < POLL_SECONDS / 2
                nursery.cancel_scope.cancel()


async def test_each_burst_of_wakeups_delivers_promptly(autojump_clock: trio.testing.MockClock) -> None:
    """Several bursts of wake-ups each lead to delivery well before the poll interval."""
    with trio.fail_after(VIRTUAL_DEADLINE_SECONDS):
        source = FakeSource()
        hub, wakeup, state = Hub(buffer=10), watcher.Wakeup(), watcher.WatcherState()
        with hub.subscribe() as sub:
            sub.add(S1)
            async with trio.open_nursery() as nursery:
                await nursery.start(watcher.run, source, hub, wakeup, POLL_SECONDS, state)
                start = trio.current_time()
                for i in range(1, 6):
                    source.add(i)
                    wakeup.set()
                    wakeup.set()
                    assert await receive_ids(sub.receive, 1) == [i]
                assert trio.current_time() - start < POLL_SECONDS
                nursery.cancel_scope.cancel()


async def test_wakeup_during_a_drain_is_not_lost(autojump_clock: trio.testing.MockClock) -> None:
    """A write announced while a poll is in flight (after its snapshot) gets its own prompt poll."""
    with trio.fail_after(VIRTUAL_DEADLINE_SECONDS):
        source = FakeSource()
        hub, wakeup, state = Hub(buffer=10), watcher.Wakeup(), watcher.WatcherState()
        with hub.subscribe() as sub:
            sub.add(S1)
            async with trio.open_nursery() as nursery:
                await nursery.start(watcher.run, source, hub, wakeup, POLL_SECONDS, state)
                start = trio.current_time()
                source.gate = trio.Event()
                polls = len(source.poll_times)
                source.add(1)
                wakeup.set()
                while len(source.poll_times) == polls:  # the watcher took its snapshot: [1]
                    await trio.lowlevel.checkpoint()
                source.add(2)
                wakeup.set()
                source.gate.set()
                assert await receive_ids(sub.receive, 2) == [1, 2]
                assert trio.current_time() - start < POLL_SECONDS
                nursery.cancel_scope.cancel()


async def test_messages_without_wakeup_arrive_by_polling(autojump_clock: trio.testing.MockClock) -> None:
    """A write nobody announced (another process) is published at the next poll, one interval later."""
    with trio.fail_after(VIRTUAL_DEADLINE_SECONDS):
        source = FakeSource()
        hub, wakeup, state = Hub(buffer=10), watcher.Wakeup(), watcher.WatcherState()
        with hub.subscribe() as sub:
            sub.add(S1)
            async with trio.open_nursery() as nursery:
                await nursery.start(watcher.run, source, hub, wakeup, POLL_SECONDS, state)
                written_at = trio.current_time()
                source.add(1, 2)
                assert await receive_ids(sub.receive, 2) == [1, 2]
                assert trio.current_time() - written_at == pytest.approx(POLL_SECONDS)
                nursery.cancel_scope.cancel()


async def test_store_unavailable_is_retried_with_backoff(autojump_clock: trio.testing.MockClock) -> None:
    """Failed polls are counted and retried after doubling delays, then delivery resumes."""
    with trio.fail_after(VIRTUAL_DEADLINE_SECONDS):
        poll = 0.1
        source = FakeSource()
        hub, wakeup, state = Hub(buffer=10), watcher.Wakeup(), watcher.WatcherState()
        with hub.subscribe() as sub:
            sub.add(S1)
            async with trio.open_nursery() as nursery:
                await nursery.start(watcher.run, source, hub, wakeup, poll, state)
                start = trio.current_time()
                source.fail_next = 3
                source.add(1)
                assert await receive_ids(sub.receive, 1) == [1]
                assert state.errors == 3
                assert state.running
                gaps = [b - a for a, b in itertools.pairwise([start, *source.poll_times])]
                assert gaps == pytest.approx([0.1, 0.2, 0.4, 0.8])
                # After a success the interval is back to the poll interval.
                await trio.sleep(1.0)
                later = source.poll_times[-3:]
                assert [b - a for a, b in itertools.pairwise(later)] == pytest.approx([poll, poll])
                nursery.cancel_scope.cancel()


async def test_backoff_is_capped(autojump_clock: trio.testing.MockClock) -> None:
    """A long outage retries at most every MAX_BACKOFF_SECONDS and the watcher keeps running."""
    with trio.fail_after(VIRTUAL_DEADLINE_SECONDS):
        source = FakeSource()
        hub, wakeup, state = Hub(buffer=10), watcher.Wakeup(), watcher.WatcherState()
        async with trio.open_nursery() as nursery:
            await nursery.start(watcher.run, source, hub, wakeup, 0.1, state)
            source.fail_next = 1000
            await trio.sleep(120)
            gaps = [b - a for a, b in itertools.pairwise(source.poll_times)]
            assert max(gaps) == pytest.approx(watcher.MAX_BACKOFF_SECONDS)
            assert gaps[-3:] == pytest.approx([watcher.MAX_BACKOFF_SECONDS] * 3)
            assert state.running
            assert state.errors == len(source.poll_times)
            nursery.cancel_scope.cancel()


async def test_wakeup_is_level_triggered() -> None:
    """A set() before wait() is not lost; one wait() consumes a burst of set() calls."""
    wakeup = watcher.Wakeup()
    wakeup.set()
    wakeup.set()
    with trio.fail_after(10):
        await wakeup.wait()
    with trio.move_on_after(0.01) as scope:
        await wakeup.wait()
    assert scope.cancelled_caught


def test_lag_is_infinite_when_not_running() -> None:
    state = watcher.WatcherState()
    assert state.lag_seconds == float("inf")


def _insert_from_another_connection(path: Path, session_id: str, contents: list[str]) -> None:
    """Write messages the way another process would: its own connection, its own commit."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        with conn:
            for content in contents:
                conn.execute(
                    "INSERT INTO messages (session_id, sender, sender_type, content, timestamp)"
                    " VALUES (?, 'other-process', 'claude', ?, 0)",
                    [session_id, content],
                )
    finally:
        conn.close()


async def test_real_sqlite_write_from_another_connection_is_polled(tmp_path: Path) -> None:
    """With real SQLite and no wake-up, a commit on a separate connection reaches subscribers."""
    path = tmp_path / "scsd.db"
    hub, wakeup, state = Hub(buffer=100), watcher.Wakeup(), watcher.WatcherState()
    with trio.fail_after(10):
        async with open_store(path) as store, open_reader(path) as reader:
            creator = _identity()
            session = await store.create_session("watch me", creator.agent_id, {})
            old = await store.add_message(session.id, creator, "before start", "public", {}, None)
            with hub.subscribe() as sub:
                sub.add(session.id)
                async with trio.open_nursery() as nursery:
                    baseline = await nursery.start(watcher.run, reader, hub, wakeup, 0.02, state)
                    assert baseline == old.id
                    await trio.to_thread.run_sync(
                        _insert_from_another_connection, path, session.id, ["one", "two", "three"]
                    )
                    got = [await sub.receive.receive() for _ in range(3)]
                    nursery.cancel_scope.cancel()
    assert [c.message.content for c in got] == ["one", "two", "three"]
    assert [c.message.id for c in got] == [old.id + 1, old.id + 2, old.id + 3]
    assert all(c.session_id == session.id for c in got)


async def test_real_sqlite_in_process_write_wakes_the_watcher(tmp_path: Path) -> None:
    """A Store write whose on_commit sets the Wakeup is delivered though the poll interval is a minute."""
    path = tmp_path / "scsd.db"
    hub, wakeup, state = Hub(buffer=100), watcher.Wakeup(), watcher.WatcherState()
    with trio.fail_after(10):
        async with open_store(path, wakeup.set) as store, open_reader(path) as reader:
            creator = _identity()
            session = await store.create_session("wake me", creator.agent_id, {})
            with hub.subscribe() as sub:
                sub.add(session.id)
                async with trio.open_nursery() as nursery:
                    await nursery.start(watcher.run, reader, hub, wakeup, 60.0, state)
                    sent = await store.add_message(session.id, creator, "hello", "public", {}, None)
                    got = await sub.receive.receive()
                    nursery.cancel_scope.cancel()
    assert got.message == sent


def _identity() -> Identity:
    return Identity("writer", "claude", frozenset({"read", "write"}))


async def test_real_sqlite_session_and_memory_changes_are_published(tmp_path: Path) -> None:
    """Session creation, new activity and session-scoped memory writes reach followers as
    session_update / memory_update; global memory writes are not published."""
    path = tmp_path / "w.db"
    with trio.fail_after(10):
        async with open_store(path) as store, open_reader(path) as reader:
            session = await store.create_session("before", "alice", {})
            hub, wakeup, state = Hub(buffer=100), watcher.Wakeup(), watcher.WatcherState()
            with hub.subscribe() as sub:
                sub.add(session.id)
                async with trio.open_nursery() as nursery:
                    await nursery.start(watcher.run, reader, hub, wakeup, 0.02, state)
                    sub.add(ALL_SESSIONS)
                    other = await store.create_session("after", "bob", {})
                    await store.add_message(session.id, Identity("alice", "claude", frozenset()), "hi",
                                            "public", {}, None)  # fmt: skip
                    await store.set_memory("alice", session.id, "k", 1, {}, None, True)
                    await store.set_memory("alice", None, "global", 1, {}, None, True)
                    await store.delete_memory("alice", session.id, "k")
                    got = [await sub.receive.receive() for _ in range(5)]
                    nursery.cancel_scope.cancel()
    # Order is guaranteed within a kind (and new_message before the session_update it causes),
    # not across kinds: one poll reads messages first, then the change log.
    kinds = sorted((c.kind, c.session_id) for c in got)
    assert kinds == sorted([("session_update", other.id), ("new_message", session.id),
                            ("session_update", session.id), ("memory_update", session.id),
                            ("memory_update", session.id)])  # fmt: skip
    message = next(c.message for c in got if c.message)
    update = next(c for c in got if c.session and c.session_id == session.id)
    assert update.session is not None and update.session.updated_at == message.timestamp
    assert got.index(update) > next(i for i, c in enumerate(got) if c.message)
    memory = [(c.memory.action, c.memory.key) for c in got if c.memory]
    assert memory == [("set", "k"), ("deleted", "k")]


@dataclass
class _Own:
    store: Store
    sub: Subscription
    state: watcher.WatcherState
    wakeup: watcher.Wakeup
    session_id: str


@asynccontextmanager
async def _own_writes(path: Path, *, wake: bool, poll: float, buffer: int = 100) -> AsyncIterator[_Own]:
    """A real store whose messages go through `watcher.shortcut` (and wake the watcher if
    `wake`), its watcher running, and a hub subscriber following one new session."""
    hub, wakeup, state = Hub(buffer), watcher.Wakeup(), watcher.WatcherState()
    on_commit = wakeup.set if wake else lambda: None
    async with (
        open_store(path, on_commit, on_message=watcher.shortcut(hub, state)) as store,
        open_reader(path) as reader,
    ):
        session = await store.create_session("own writes", _identity().agent_id, {})
        with hub.subscribe() as sub:
            sub.add(session.id)
            async with trio.open_nursery() as nursery:
                await nursery.start(watcher.run, reader, hub, wakeup, poll, state)
                yield _Own(store, sub, state, wakeup, session.id)
                nursery.cancel_scope.cancel()


async def _add(own: _Own, content: str) -> Message:
    return await own.store.add_message(own.session_id, _identity(), content, "public", {}, None)


async def test_own_message_is_published_in_the_writers_task_without_a_poll(tmp_path: Path) -> None:
    """With `shortcut` as on_message, the next id is in the hub when add_message returns,
    though the watcher was never woken; its session_update waits for the watcher (a poll)."""
    with trio.fail_after(10):
        async with _own_writes(tmp_path / "scsd.db", wake=False, poll=60.0) as own:
            sent = await _add(own, "now")
            got = own.sub.receive.receive_nowait()  # already there: no task ran meanwhile
            assert got.message == sent and own.state.last_id == sent.id
            assert own.state.touched == {own.session_id}
            own.wakeup.set()  # the watcher's next drain owes the session its update
            update = await own.sub.receive.receive()
    assert update.kind == "session_update" and update.session is not None
    assert update.session.updated_at == sent.timestamp and not own.state.touched


async def test_own_message_after_another_writers_waits_for_the_watcher_in_id_order(tmp_path: Path) -> None:
    """A message from another connection (process) came first: ours is not the next id, so
    the shortcut leaves it, and the watcher publishes both, in id order, each once; then the
    shortcut takes over again."""
    path = tmp_path / "scsd.db"
    with trio.fail_after(10):
        async with _own_writes(path, wake=True, poll=60.0) as own:
            await trio.to_thread.run_sync(_insert_from_another_connection, path, own.session_id, ["other"])
            ours = await _add(own, "ours")
            with pytest.raises(trio.WouldBlock):
                own.sub.receive.receive_nowait()  # not published by the shortcut
            got = [await own.sub.receive.receive() for _ in range(3)]
            last = await _add(own, "last")
            assert own.sub.receive.receive_nowait().message == last  # the next id again
    assert [(c.kind, c.message.content if c.message else None) for c in got] == [
        ("new_message", "other"),
        ("new_message", "ours"),
        ("session_update", None),
    ]
    assert got[1].message == ours


async def test_concurrent_writers_in_and_out_of_process_deliver_each_message_once_in_order(
    tmp_path: Path,
) -> None:
    """Ten tasks writing through the store (shortcut and wake-up) while another connection
    writes too: every message reaches the subscriber exactly once, in id order."""
    path = tmp_path / "scsd.db"
    with trio.fail_after(60):
        async with _own_writes(path, wake=True, poll=0.05, buffer=2000) as own:

            async def write(n: int) -> None:
                for i in range(20):
                    await _add(own, f"{n}.{i}")

            def others() -> None:
                for i in range(20):
                    _insert_from_another_connection(path, own.session_id, [f"x{i}"])

            async with trio.open_nursery() as writers:
                for n in range(10):
                    writers.start_soon(write, n)
                writers.start_soon(trio.to_thread.run_sync, others)
            ids: list[int] = []
            while len(ids) < 220:
                change = await own.sub.receive.receive()
                if change.message is not None:
                    ids.append(change.message.id)
    assert ids == sorted(set(ids)) and len(ids) == 220
