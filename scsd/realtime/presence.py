"""Presence: who watches each session (holds an open subscription to it), as versioned state.

Each session's set of watching identities has a version that moves whenever the set changes;
a subscriber remembers the version it was last told (`Subscription`), so the hub tells it
only news it lacks (`Hub.announce_presence`), at most once per interval per session.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

import trio

from scsd.realtime.changes import PresenceChange, Watcher

# A presence event lists at most this many watchers (and counts them all).
PRESENCE_PAGE: Final = 100


class Presence:
    """Per session: how many subscriptions each identity holds, the version of that set,
    and whether it changed since the last announcement."""

    def __init__(self) -> None:
        self._watchers: dict[str, Counter[Watcher]] = {}
        self._version: dict[str, int] = {}  # per watched session: when its set last changed
        self._clock = 0
        self._changed: set[str] = set()
        self._wakeup = trio.Event()

    def now(self, session_id: str) -> PresenceChange:
        """Who watches `session_id` now: distinct identities, most subscriptions first."""
        counts = self._watchers.get(session_id, Counter())
        page = tuple(w for w, _ in counts.most_common(PRESENCE_PAGE))
        return PresenceChange(session_id, page, len(counts))

    def version(self, session_id: str) -> int:
        return self._version.get(session_id, 0)

    def arrive(self, session_id: str, watcher: Watcher) -> None:
        counts = self._watchers.setdefault(session_id, Counter())
        counts[watcher] += 1
        if counts[watcher] == 1:
            self._news(session_id)

    def leave(self, session_id: str, watcher: Watcher) -> None:
        counts = self._watchers.get(session_id)
        if counts is None or counts[watcher] == 0:
            return
        counts[watcher] -= 1
        if counts[watcher] == 0:
            del counts[watcher]
            if not counts:
                del self._watchers[session_id]
            self._news(session_id)

    def again(self, session_id: str) -> None:
        """The news of `session_id` could not be told to everyone: tell it next round."""
        self._changed.add(session_id)
        self._wakeup.set()

    async def wait_news(self) -> set[str]:
        """The sessions whose watchers changed since the last call, once there are any."""
        await self._wakeup.wait()
        self._wakeup = trio.Event()
        changed, self._changed = self._changed, set()
        return changed

    def forget(self, session_id: str) -> None:
        """Nobody follows `session_id` any more: drop its version (unless it is watched)."""
        if session_id not in self._watchers:
            self._version.pop(session_id, None)

    def _news(self, session_id: str) -> None:
        self._clock += 1
        self._version[session_id] = self._clock
        self.again(session_id)
