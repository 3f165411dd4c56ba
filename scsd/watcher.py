"""The watcher: polls SQLite for new messages (by id) and logged session and memory changes,
and publishes them to the hub (SPEC §6)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, Protocol

import trio

from scsd.errors import StoreUnavailable
from scsd.events import Change, Message, Session
from scsd.hub import Hub

logger = logging.getLogger(__name__)

BATCH: Final = 500
MAX_BACKOFF_SECONDS: Final = 5.0


class ChangeSource(Protocol):
    """What the watcher reads: messages by id, and the log of other changes."""

    async def max_id(self) -> int: ...
    async def messages_after(self, after_id: int, limit: int) -> list[Message]: ...
    async def sessions(self, session_ids: Collection[str]) -> list[Session]: ...
    async def changes_after(self, limit: int) -> list[Change]: ...


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
    """

    last_id: int = 0
    last_poll: float = 0.0
    errors: int = 0
    error: str | None = None
    running: bool = False
    delivery: Callable[[float], None] | None = None

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


async def _drain(source: ChangeSource, hub: Hub, state: WatcherState) -> None:
    while True:
        batch = await source.messages_after(state.last_id, BATCH)
        for message in batch:
            hub.publish(Change.new_message(message))
            state.last_id = message.id
        if batch:
            if state.delivery is not None:
                _observe(state.delivery, batch)
            # New activity changes each session's updated_at: one update per session per batch.
            for session in await source.sessions({m.session_id for m in batch}):
                hub.publish(Change.session_update(session))
        others = await source.changes_after(BATCH)
        for change in others:
            hub.publish(change)
        state.last_poll = time.time()
        if len(batch) < BATCH and len(others) < BATCH:
            return


def _observe(delivery: Callable[[float], None], batch: list[Message]) -> None:
    # One clock read per batch: the whole batch was published within this synchronous loop.
    now_micros = time.time_ns() // 1000
    for message in batch:
        delivery(max(0, now_micros - message.timestamp) / 1_000_000)
