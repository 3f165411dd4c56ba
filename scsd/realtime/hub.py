"""Fan-out of changes to subscribers, without ever blocking the publisher (SPEC §6)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import trio

from scsd.model import Identity
from scsd.realtime.changes import Change, PresenceChange, Watcher
from scsd.realtime.inbox import Inbox
from scsd.realtime.presence import Presence

# Following this "session" means: session updates of every session (a dashboard's feed).
ALL_SESSIONS: Final = "*"
# At most one presence event per session per this many seconds (joins and leaves coalesce).
PRESENCE_INTERVAL_SECONDS: Final = 1.0


@dataclass(frozen=True)
class HubStats:
    subscribers: int
    dropped: int
    published: int


class Subscription:
    """One subscriber's bounded queue (an `Inbox`) and the sessions it follows.

    When the queue fills up, the hub ends it: the receiver then sees `EndOfChannel`
    and its socket closes with a "resync" code; the client resumes from its last id.
    """

    # Slots: one per socket and SSE stream (SPEC §8 memory per idle connection).
    __slots__ = ("_hub", "_presence_seen", "_watcher", "direct", "dropped", "receive", "sessions")

    def __init__(self, hub: Hub, buffer: int, watcher: Watcher | None) -> None:
        self._hub = hub
        self.receive: Inbox[Change] = Inbox(buffer)
        self.sessions: set[str] = set()
        self.dropped = False
        self._watcher = watcher
        # Per session, the presence version this subscriber last learnt (see Hub.presence).
        self._presence_seen: dict[str, int] = {}
        # A subscriber that can take a change synchronously (a WebSocket, scsd.realtime.ws.wire) sets
        # `direct`; it is used only while nothing is queued for it, so changes reach it in
        # order (`Inbox.receive` takes an item only when the receiver is about to handle it).
        self.direct: Callable[[Change], bool] | None = None

    def add(self, session_id: str) -> None:
        if self.dropped or session_id in self.sessions:
            return  # cut off (the socket is closing), or already following
        self.sessions.add(session_id)
        self._hub._by_session.setdefault(session_id, set()).add(self)
        if self._watcher is not None and session_id != ALL_SESSIONS:
            self._hub.watching.arrive(session_id, self._watcher)

    def discard(self, session_id: str) -> None:
        if session_id not in self.sessions:
            return
        self.sessions.discard(session_id)
        self._presence_seen.pop(session_id, None)
        followers = self._hub._by_session.get(session_id)
        if followers is not None:
            followers.discard(self)
            if not followers:
                del self._hub._by_session[session_id]
        if self._watcher is not None:
            self._hub.watching.leave(session_id, self._watcher)

    def identify(self, who: Identity) -> None:
        """The subscriber is (now) `who`: presence counts it under that identity."""
        watcher = Watcher(who.agent_id, who.agent_type)
        if watcher == self._watcher:
            return
        for session_id in self.sessions - {ALL_SESSIONS}:
            if self._watcher is not None:
                self._hub.watching.leave(session_id, self._watcher)
            self._hub.watching.arrive(session_id, watcher)
        self._watcher = watcher

    def presence(self, session_id: str) -> PresenceChange:
        """Who watches `session_id` now, as this subscriber is about to be told (`subscribed`):
        the hub then sends it a `presence` event only when that changes again."""
        self._presence_seen[session_id] = self._hub.watching.version(session_id)
        return self._hub.presence(session_id)

    def _roomy(self) -> bool:
        """Whether the queue is at most half full: presence, being state rather than a
        log, waits for a later round rather than push a busy subscriber toward a cut-off."""
        return len(self.receive) * 2 <= self._hub._buffer

    def _deliver(self, change: Change) -> bool:
        if self.direct is not None and not self.receive and self.direct(change):
            return True  # taken at once, in the publisher's task
        return self.receive.put_nowait(change)

    def _close(self) -> None:
        self.direct = None
        for session_id in list(self.sessions):
            self.discard(session_id)
        self.receive.end()


class Hub:
    """Routes each change to the subscriptions following its session."""

    def __init__(self, buffer: int) -> None:
        self._buffer = buffer
        self._by_session: dict[str, set[Subscription]] = {}
        self._open: set[Subscription] = set()
        self._dropped = 0
        self._published = 0
        self.watching = Presence()
        self._closing = False

    def publish(self, change: Change) -> None:
        """Deliver `change` to every follower of its session (and a `session_update` to the
        followers of ALL_SESSIONS too); drop any that cannot keep up."""
        self._published += 1
        followers = set(self._by_session.get(change.session_id, ()))
        if change.kind == "session_update":
            followers |= self._by_session.get(ALL_SESSIONS, set())
        for sub in followers:
            if not sub._deliver(change):
                # Too slow (or gone): cut it off rather than stall everyone.
                sub.dropped = True
                sub._close()
                self._dropped += 1

    @contextlib.contextmanager
    def subscribe(self, who: Identity | None = None) -> Iterator[Subscription]:
        """A new subscription, following no session yet; closed on exit. With `who`, its
        sessions count `who` as watching them (presence)."""
        sub = Subscription(self, self._buffer, None if who is None else Watcher(who.agent_id, who.agent_type))
        self._open.add(sub)
        try:
            with sub.receive:
                yield sub
        finally:
            self._open.discard(sub)
            sub._close()

    def close(self) -> None:
        """End every subscription (shutdown): receivers see `EndOfChannel` with `dropped`
        false, so sockets close as going away, not as too slow."""
        self._closing = True  # no presence news to channels that are closing
        for sub in list(self._open):
            sub._close()

    def presence(self, session_id: str) -> PresenceChange:
        """Who watches `session_id` now (scsd.realtime.presence)."""
        return self.watching.now(session_id)

    async def announce_presence(
        self,
        interval: float = PRESENCE_INTERVAL_SECONDS,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Publish a `presence` event for each session whose watchers changed, at most once
        per `interval` per session: a thousand sockets joining cost a few events, not a
        thousand times a thousand. Runs until cancelled."""
        task_status.started()
        while True:
            for session_id in sorted(await self.watching.wait_news()):
                if not self._closing:
                    self._announce(session_id)
            await trio.sleep(interval)

    def _announce(self, session_id: str) -> None:
        """Tell each follower of `session_id` who watches it now, unless it knows already (it
        was told in `subscribed`, or in an earlier round). A follower with a busy queue is
        tried again next round; presence never cuts a subscriber off."""
        version = self.watching.version(session_id)
        change: Change | None = None
        for sub in list(self._by_session.get(session_id, ())):
            if sub._presence_seen.get(session_id, -1) >= version:
                continue
            if not sub._roomy():
                self.watching.again(session_id)  # the same news, next round
                continue
            change = change or Change.presence_update(self.presence(session_id))
            if sub._deliver(change):
                sub._presence_seen[session_id] = version
        if change is not None:
            self._published += 1
        if session_id not in self._by_session:
            self.watching.forget(session_id)

    def statistics(self) -> HubStats:
        return HubStats(subscribers=len(self._open), dropped=self._dropped, published=self._published)
