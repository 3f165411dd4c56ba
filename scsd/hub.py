"""Fan-out of changes to subscribers, without ever blocking the publisher (SPEC §6)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

import trio

from scsd.events import Change, HubStats

# Following this "session" means: session updates of every session (a dashboard's feed).
ALL_SESSIONS: Final = "*"


class Subscription:
    """One subscriber's bounded channel and the sessions it follows.

    When the channel fills up, the hub closes it: the receiver then sees `EndOfChannel`
    and its socket closes with a "resync" code; the client resumes from its last id.
    """

    def __init__(self, hub: Hub, buffer: int) -> None:
        self._hub = hub
        self._send, self.receive = trio.open_memory_channel[Change](buffer)
        self.sessions: set[str] = set()
        self.dropped = False

    def add(self, session_id: str) -> None:
        if self.dropped:
            return  # cut off: the socket is closing; don't route to a closed channel again
        self.sessions.add(session_id)
        self._hub._by_session.setdefault(session_id, set()).add(self)

    def discard(self, session_id: str) -> None:
        self.sessions.discard(session_id)
        followers = self._hub._by_session.get(session_id)
        if followers is not None:
            followers.discard(self)
            if not followers:
                del self._hub._by_session[session_id]

    def _deliver(self, change: Change) -> bool:
        try:
            self._send.send_nowait(change)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    def _close(self) -> None:
        for session_id in list(self.sessions):
            self.discard(session_id)
        self._send.close()


class Hub:
    """Routes each change to the subscriptions following its session."""

    def __init__(self, buffer: int) -> None:
        self._buffer = buffer
        self._by_session: dict[str, set[Subscription]] = {}
        self._open: set[Subscription] = set()
        self._dropped = 0
        self._published = 0

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
    def subscribe(self) -> Iterator[Subscription]:
        """A new subscription, following no session yet; closed on exit."""
        sub = Subscription(self, self._buffer)
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
        for sub in list(self._open):
            sub._close()

    def statistics(self) -> HubStats:
        return HubStats(subscribers=len(self._open), dropped=self._dropped, published=self._published)
