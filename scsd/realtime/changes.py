"""What flows from the watcher through the hub to subscribers: one `Change` per thing that
happened (a message, a session update, memory, typing, presence), and who may receive it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from scsd.access.visibility import can_see_message
from scsd.model import Identity, JsonObject, Message, Session, iso_from_micros

T = TypeVar("T")


@dataclass(frozen=True)
class MemoryChange:
    """A session-scoped memory entry was set or deleted (the value is not carried)."""

    action: Literal["set", "deleted"]
    agent_id: str
    key: str
    session_id: str
    updated_at: int

    def to_json(self) -> JsonObject:
        return {
            "action": self.action,
            "agent_id": self.agent_id,
            "key": self.key,
            "scope": "session",
            "session_id": self.session_id,
            "updated_at": iso_from_micros(self.updated_at),
        }


@dataclass(frozen=True)
class TypingChange:
    """An agent started or stopped composing in a session; `expires_at` (micros) is when a
    start lapses by itself if no stop or message follows."""

    session_id: str
    agent_id: str
    typing: bool
    expires_at: int | None

    def to_json(self) -> JsonObject:
        return {
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "typing": self.typing,
            "expires_at": None if self.expires_at is None else iso_from_micros(self.expires_at),
        }


@dataclass(frozen=True)
class Watcher:
    """One identity watching a session (holding an open subscription to it)."""

    agent_id: str
    agent_type: str

    def to_json(self) -> JsonObject:
        return {"agent_id": self.agent_id, "agent_type": self.agent_type}


@dataclass(frozen=True)
class PresenceChange:
    """Who watches a session now: `watchers` lists at most a page of them, `count` all."""

    session_id: str
    watchers: tuple[Watcher, ...]
    count: int

    def to_json(self) -> JsonObject:
        return {"watchers": [w.to_json() for w in self.watchers], "count": self.count}


ChangeKind = Literal["new_message", "session_update", "memory_update", "typing", "presence"]


@dataclass(frozen=True)
class Change:
    """One thing that happened, as a watcher (or the hub, for presence) saw it: exactly one
    of `message`, `session`, `memory`, `typing`, `presence` is set, according to `kind`."""

    kind: ChangeKind
    session_id: str
    message: Message | None = None
    session: Session | None = None
    memory: MemoryChange | None = None
    typing: TypingChange | None = None
    presence: PresenceChange | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def new_message(cls, message: Message) -> Change:
        return cls("new_message", message.session_id, message=message)

    @classmethod
    def session_update(cls, session: Session) -> Change:
        return cls("session_update", session.id, session=session)

    @classmethod
    def memory_update(cls, memory: MemoryChange) -> Change:
        return cls("memory_update", memory.session_id, memory=memory)

    @classmethod
    def typing_update(cls, typing: TypingChange) -> Change:
        return cls("typing", typing.session_id, typing=typing)

    @classmethod
    def presence_update(cls, presence: PresenceChange) -> Change:
        return cls("presence", presence.session_id, presence=presence)

    def data(self) -> JsonObject:
        if self.message is not None:
            return self.message.to_json()
        if self.session is not None:
            return self.session.to_json()
        if self.typing is not None:
            return self.typing.to_json()
        if self.presence is not None:
            return self.presence.to_json()
        assert self.memory is not None
        return self.memory.to_json()

    def event_json(self) -> str:
        """The WebSocket/SSE event text, serialized once however many sockets receive it:
        an event's text is the same for everyone allowed to see it."""
        text = self._cache.get("event")
        if text is None:
            text = json.dumps(
                {"type": self.kind, "session_id": self.session_id, "data": self.data()}, ensure_ascii=False
            )
            self._cache["event"] = text
        return text

    def derived(self, key: str, build: Callable[[Change], T]) -> T:
        """`build(self)`, computed once per change under `key` (e.g. the WebSocket frame of
        `event_json()`: the same bytes for every socket allowed to see it)."""
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = build(self)
        return cast(T, value)


def can_see_change(viewer: Identity, change: Change) -> bool:
    """Messages by the visibility rule; session updates to every follower of the session;
    memory updates only to the memory's owner, admins included: memory is private to its agent."""
    if change.message is not None:
        return can_see_message(viewer, change.message)
    if change.memory is not None:
        return viewer.agent_id == change.memory.agent_id
    return True
