"""Fan-out of changes to subscribers, without ever blocking the publisher (SPEC §6)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import trio

from scsd.events import Change, HubStats


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
        self._subscribers = 0
        self._dropped = 0
        self._published = 0

    def publish(self, change: Change) -> None:
        """Deliver `change` to every follower of its session; drop any that cannot keep up."""
        self._published += 1
        for sub in list(self._by_session.get(change.session_id, ())):
            if not sub._deliver(change):
                # Too slow (or gone): cut it off rather than stall everyone.
                sub.dropped = True
                sub._close()
                self._dropped += 1

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A new subscription, following no session yet; closed on exit."""
        sub = Subscription(self, self._buffer)
        self._subscribers += 1
        try:
            with sub.receive:
                yield sub
        finally:
            self._subscribers -= 1
            sub._close()

    def statistics(self) -> HubStats:
        return HubStats(subscribers=self._subscribers, dropped=self._dropped, published=self._published)
