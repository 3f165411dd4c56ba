"""The watcher: polls SQLite for new messages (by id) and logged session and memory changes,
and publishes them to the hub (SPEC §6)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Final, Protocol

import trio

from scsd.errors import StoreUnavailable
from scsd.model import Message, Session
from scsd.realtime.changes import Change, MemoryChange
from scsd.realtime.composing import typing_change
from scsd.realtime.hub import Hub
from scsd.store import LoggedChange

logger = logging.getLogger(__name__)

BATCH: Final = 500
MAX_BACKOFF_SECONDS: Final = 5.0


class ChangeSource(Protocol):
    """What the watcher reads: messages by id, and the log of other changes."""

    async def max_id(self) -> int: ...
    async def messages_after(self, after_id: int, limit: int) -> list[Message]: ...
    async def sessions(self, session_ids: Collection[str]) -> list[Session]: ...
    async def changes_after(self, limit: int) -> list[LoggedChange]: ...
    async def signal_commits(
        self, wake: Callable[[], None], *, task_status: trio.TaskStatus[str] = ...
    ) -> None: ...


class Wakeup:
    """A level-triggered nudge: `set()` from any task, `wait()` returns once per burst."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        self._event = trio.Event()


@dataclass
class WatcherState:
    """What `/health` reports: the cursor and when it last caught up.

    `error` is set while the last poll failed (the database could not be read), so that
    `/health` reports the watcher down at once rather than after the lag limit.

    `delivery`, if set, is called with each published message's delivery latency in seconds:
    from its `timestamp` (when the daemon accepted it) to its publication to the hub.

    `touched`: sessions whose messages `shortcut` published, owed a `session_update`.
    """

    last_id: int = 0
    last_poll: float = 0.0
    poll_seconds: float = 0.0  # the interval in use: the poll, or only the safety net
    mode: str = "poll"  # how other processes' commits are noticed ("inotify" or "poll")
    errors: int = 0
    error: str | None = None
    running: bool = False
    delivery: Callable[[float], None] | None = None
    touched: set[str] = field(default_factory=set)

    @property
    def lag_seconds(self) -> float:
        return max(0.0, time.time() - self.last_poll) if self.running else math.inf


async def run(
    source: ChangeSource,
    hub: Hub,
    wakeup: Wakeup,
    poll_seconds: float,
    state: WatcherState,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Publish every message with an id above the baseline, in id order; runs until cancelled.

    `task_status.started()` receives the baseline id (the newest message at start), read
    before any subscriber can connect. A failed poll is logged and retried with backoff.
    """
    state.last_id = await source.max_id()
    state.last_poll = time.time()
    state.poll_seconds = poll_seconds
    state.running = True
    task_status.started(state.last_id)
    backoff = poll_seconds
    try:
        while True:
            with trio.move_on_after(backoff):
                await wakeup.wait()
            try:
                await _drain(source, hub, state)
            except StoreUnavailable as e:
                state.errors += 1
                state.error = str(e)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                logger.warning("watcher poll failed (%s); retrying in %.1fs", e, backoff)
            else:
                state.error = None
                backoff = poll_seconds
    finally:
        state.running = False


def shortcut(hub: Hub, state: WatcherState) -> Callable[[Message], None]:
    """`open_store(on_message=...)` for a process's own writes: a message it just committed is
    published at once, in the writer's task, when it is the very next id the watcher expects
    (no poll, no thread, no read: SPEC §8 delivery latency). Anything else (a gap: another
    process wrote in between) is left to the watcher, which reads in id order as always; the
    commit has woken it either way, and it sends the session's `session_update`."""

    def offer(message: Message) -> None:
        if not state.running or message.id != state.last_id + 1:
            return
        try:
            hub.publish(Change.new_message(message))
        except Exception:  # a bug; the writer's call must not fail after its commit
            logger.exception("publishing message %d at once failed; the watcher sends it", message.id)
            return
        state.last_id = message.id
        state.touched.add(message.session_id)
        if state.delivery is not None:
            _observe(state.delivery, [message])

    return offer


async def _drain(source: ChangeSource, hub: Hub, state: WatcherState) -> None:
    while True:
        fetched = await source.messages_after(state.last_id, BATCH)
        batch = [m for m in fetched if m.id > state.last_id]  # `shortcut` may have sent some
        for message in batch:
            hub.publish(Change.new_message(message))
            state.last_id = message.id
        if batch and state.delivery is not None:
            _observe(state.delivery, batch)
        # New activity changes each session's updated_at: one update per session per batch.
        touched, state.touched = state.touched | {m.session_id for m in batch}, set()
        if touched:
            try:
                sessions = await source.sessions(touched)
            except BaseException:
                state.touched |= touched  # owed still: the next drain sends them
                raise
            for session in sessions:
                hub.publish(Change.session_update(session))
        others = await source.changes_after(BATCH)
        for logged in others:
            change = as_change(logged)
            if change is not None:
                hub.publish(change)
        state.last_poll = time.time()
        if len(fetched) < BATCH and len(others) < BATCH:
            return


def as_change(logged: LoggedChange) -> Change | None:
    """A change-log row as the change subscribers get; None for a session that is gone."""
    if logged.kind == "memory":
        memory = MemoryChange(
            "deleted" if logged.action == "deleted" else "set",
            logged.agent_id or "",
            logged.key or "",
            logged.session_id,
            logged.timestamp,
        )
        return Change.memory_update(memory)
    if logged.kind == "typing":
        return Change.typing_update(typing_change(logged))
    return None if logged.session is None else Change.session_update(logged.session)


def _observe(delivery: Callable[[float], None], batch: list[Message]) -> None:
    # One clock read per batch: the whole batch was published within this synchronous loop.
    now_micros = time.time_ns() // 1000
    for message in batch:
        delivery(max(0, now_micros - message.timestamp) / 1_000_000)
